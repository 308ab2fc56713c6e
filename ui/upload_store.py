"""Uploaded files on disk: safe names, a size limit, one folder per knowledge base, no silent overwrites.

An upload is written to a hidden staging file, checked with the real loader (empty, binary, corrupt or
unsupported files are refused with the reason) and only then moved to its final name, so a bad upload never
replaces a good document. The check runs in the ingest's parser process, under its per-file time and memory
limits, so a file that makes a parser loop or balloon is refused without stalling or exhausting the web app.
"""

from __future__ import annotations

import os
import re
import unicodedata
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from domainrag.config import domainrag_home, validate_kb_name
from domainrag.errors import DomainRAGError
from domainrag.ingestion.loaders import SUPPORTED_EXTENSIONS
from domainrag.ingestion.worker import FileParser, ParseRequest

DEFAULT_MAX_MB = 25
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f<>:\"|?*]")
# Control, format (bidi overrides, zero-width), separator and surrogate characters: they make a name display
# differently from what it is ("\u202eevil\u202dtxt.exe.txt" shows as "evilexe.txt.txt").
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


class UploadError(DomainRAGError):
    """An upload that cannot be stored; the message names the file and the fix."""


@dataclass
class SavedUpload:
    """Where an upload went and whether it is new, replaces an older version or is already there."""

    name: str
    path: Path
    status: str  # "new" | "replaced" | "unchanged"


def max_upload_mb() -> int:
    """Per-file upload limit in MiB (``DOMAINRAG_UI_MAX_UPLOAD_MB``, default 25)."""
    try:
        return max(1, int(os.environ.get("DOMAINRAG_UI_MAX_UPLOAD_MB", DEFAULT_MAX_MB)))
    except ValueError:
        return DEFAULT_MAX_MB


def upload_dir(kb: str) -> Path:
    """``DOMAINRAG_HOME/uploads/<kb>/``, created on demand."""
    folder = domainrag_home() / "uploads" / validate_kb_name(kb)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def safe_name(raw: str) -> str:
    """The file name to store an upload under: directories stripped; traversal, hidden and odd names refused."""
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/")
    parts = [p for p in name.split("/") if p]
    if ".." in parts:
        raise UploadError(f"{raw!r}: file names may not contain '..'; rename the file")
    base = parts[-1].strip() if parts else ""
    if not base or base in (".", ".."):
        raise UploadError(f"{raw!r}: empty file name; rename the file")
    if base.startswith("."):
        raise UploadError(f"{raw!r}: hidden file names (starting with '.') are not ingested; rename the file")
    if _BAD_CHARS.search(base):
        raise UploadError(f"{raw!r}: the name contains control or reserved characters; rename the file")
    hidden = sorted({f"U+{ord(ch):04X}" for ch in base if unicodedata.category(ch) in _HIDDEN_CATEGORIES})
    if hidden:
        raise UploadError(f"{raw!r}: the name contains invisible control or formatting characters "
                          f"({', '.join(hidden)}); rename the file")
    if len(base.encode()) > 200:
        raise UploadError(f"{raw!r}: the name is longer than 200 bytes; shorten it")
    suffix = Path(base).suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise UploadError(f"{base}: unsupported file type {suffix or '(none)'}; "
                          f"upload one of {', '.join(sorted(SUPPORTED_EXTENSIONS))}")
    return base


def save_upload(folder: Path, raw_name: str, data: bytes, replace: bool = False,
                max_bytes: int | None = None, parser: FileParser | None = None) -> SavedUpload:
    """Check and store one upload in ``folder``; UploadError says why it was refused (nothing is changed then).
    ``parser``: the parser process to check it with (one serves a batch of uploads; default: a new one, with the
    ingest's default limits)."""
    name = safe_name(raw_name)
    limit = max_bytes if max_bytes is not None else max_upload_mb() * 2**20
    if not data:
        raise UploadError(f"{name}: the file is empty; nothing to ingest")
    if len(data) > limit:
        raise UploadError(f"{name}: {len(data) / 2**20:.1f} MiB is over the {limit / 2**20:.0f} MiB upload limit; "
                          "split the file or ingest it with `domainrag ingest`")
    root = folder.resolve()
    target = root / name
    if target.parent != root:  # belt and braces: safe_name already strips directories
        raise UploadError(f"{raw_name!r}: refusing to write outside {root}")
    status = "new"
    if target.exists():
        if target.read_bytes() == data:
            return SavedUpload(name, target, "unchanged")
        if not replace:
            raise UploadError(f"{name}: a different file with this name is already uploaded; "
                              "tick 'Replace files with the same name' to update it, or rename the file")
        status = "replaced"
    staged = root / f".staging-{uuid.uuid4().hex}{target.suffix}"
    try:
        staged.write_bytes(data)
        with ExitStack() as stack:
            checker = parser or stack.enter_context(FileParser())
            checker.submit(ParseRequest(str(staged), max_file_bytes=limit))
            parsed = checker.result()  # the ingest's own loader: refuses binary, corrupt, textless files
        if parsed.chunks is None:
            raise UploadError(f"{name}: {parsed.reason}")
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)
    return SavedUpload(name, target, status)


def is_upload(source: str, kb: str) -> bool:
    """Whether a stored document came from this KB's upload folder."""
    return Path(source).resolve().parent == upload_dir(kb).resolve()
