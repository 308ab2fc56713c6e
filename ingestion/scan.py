"""Walk the paths given to ``ingest`` and hash what is there."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from domainrag.ingestion.loaders import SUPPORTED_EXTENSIONS


@dataclass
class ScanResult:
    files: list[Path]
    roots: list[Path]          # folders scanned: files gone from under them get removed
    missing: list[str]          # paths given that do not exist
    unsupported: list[Path]     # files named explicitly whose type we cannot read


def scan(paths: list[str | Path]) -> ScanResult:
    """Recursively list supported files (hidden files and folders are skipped)."""
    files: list[Path] = []
    roots: list[Path] = []
    missing: list[str] = []
    unsupported: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            missing.append(str(raw))
        elif path.is_dir():
            root = path.resolve()
            roots.append(root)
            for candidate in sorted(root.rglob("*")):
                relative = candidate.relative_to(root).parts
                if any(part.startswith(".") for part in relative):
                    continue
                if candidate.is_file() and candidate.suffix.lower() in SUPPORTED_EXTENSIONS:
                    files.append(candidate)
        elif path.suffix.lower() in SUPPORTED_EXTENSIONS:
            files.append(path.resolve())
        else:
            unsupported.append(path.resolve())
    unique = list(dict.fromkeys(files))
    return ScanResult(unique, roots, missing, unsupported)


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
