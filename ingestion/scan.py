"""Walk the paths given to ``ingest`` and hash what is there."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from domainrag.ingestion.loaders import SUPPORTED_EXTENSIONS


@dataclass
class ScanResult:
    files: list[Path]
    roots: list[Path]          # folders scanned: files gone from under them get removed
    missing: list[str]          # paths given that do not exist
    unsupported: list[Path]     # files named explicitly whose type we cannot read
    refused: list[tuple[Path, str]] = field(default_factory=list)  # found under a folder but not ingested, and why


def scan(paths: list[str | Path], follow_links: bool = False) -> ScanResult:
    """Recursively list supported files (hidden files and folders are skipped).

    Under a folder, a symbolic link whose target lies outside that folder is refused unless ``follow_links``
    (then linked folders are walked too); files named explicitly are always read.
    """
    files: list[Path] = []
    result = ScanResult([], [], [], [])
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            result.missing.append(str(raw))
        elif path.is_dir():
            root = path.resolve()
            result.roots.append(root)
            files.extend(_walk(root, follow_links, result.refused))
        elif path.suffix.lower() in SUPPORTED_EXTENSIONS:
            files.append(path.resolve())
        else:
            result.unsupported.append(path.resolve())
    result.files = list(dict.fromkeys(files))
    return result


def _walk(root: Path, follow_links: bool, refused: list[tuple[Path, str]]) -> list[Path]:
    """Supported files under ``root`` in path order; links leaving ``root`` go to ``refused`` unless followed."""
    found: list[Path] = []
    visited: set[Path] = set()  # real folders already walked: a followed link back up the tree is not a loop
    for folder, dirnames, filenames in os.walk(root, followlinks=follow_links):
        if follow_links:
            real = Path(folder).resolve()
            if real in visited:
                dirnames[:] = []
                continue
            visited.add(real)
        base = Path(folder)
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        for name in dirnames:
            if not follow_links and _leaves(base / name, root):
                refused.append((base / name, _outside_reason(base / name, root)))
        for name in filenames:
            candidate = base / name
            if name.startswith(".") or candidate.suffix.lower() not in SUPPORTED_EXTENSIONS or not candidate.is_file():
                continue
            if not follow_links and _leaves(candidate, root):
                refused.append((candidate, _outside_reason(candidate, root)))
            else:
                found.append(candidate)
    refused.sort()
    return sorted(found)


def _leaves(path: Path, root: Path) -> bool:
    """Whether ``path`` is a symbolic link whose target is outside ``root``."""
    if not path.is_symlink():
        return False
    target = path.resolve()
    return target != root and root not in target.parents


def _outside_reason(link: Path, root: Path) -> str:
    kind = "folder" if link.is_dir() else "file"
    return (f"symbolic link to a {kind} outside {root} ({link.resolve()}); not followed, "
            "pass --follow-links (follow_links=True) to ingest it")


def file_hash(path: Path) -> str:
    """SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def under_roots(source: str, roots: list[Path]) -> bool:
    """Whether a stored source path lies under one of the scanned folders."""
    path = Path(source)
    return any(path == root or root in path.parents for root in roots)
