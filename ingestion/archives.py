"""Zip-bomb guard for zip-based formats (DOCX): check the declared sizes before any parser unzips a byte.

Python's zipfile never returns more bytes for a member than its declared size, so checking the directory's
sizes bounds what parsing can expand to.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from domainrag.ingestion.documents import LoadError

ZIP_FORMATS = frozenset({".docx"})
MAX_UNZIPPED_BYTES = 256 * 2**20
MAX_RATIO = 100
RATIO_MIN_BYTES = 2**20  # members smaller than this cost little to parse whatever their ratio


def check_zip(path: Path, max_unzipped_bytes: int = MAX_UNZIPPED_BYTES, max_ratio: int = MAX_RATIO) -> None:
    """Raise LoadError when the archive would expand past ``max_unzipped_bytes`` in total or a member
    past ``max_ratio`` times its compressed size; a file that is not a zip is left to its loader."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        return  # not a readable zip: the loader reports it as corrupt
    total = sum(member.file_size for member in members)
    if total > max_unzipped_bytes:
        raise LoadError(f"zip bomb guard: the {path.suffix} expands to {total // 2**20} MiB, over the "
                        f"{max_unzipped_bytes // 2**20} MiB limit on unzipped size; split the document")
    for member in members:
        ratio = member.file_size / max(1, member.compress_size)
        if member.file_size > RATIO_MIN_BYTES and ratio > max_ratio:
            raise LoadError(f"zip bomb guard: {member.filename} expands {ratio:.0f}x ({member.file_size // 2**20} "
                            f"MiB), over the {max_ratio}x limit on compression ratio; re-save the document")
