"""A file's state, to tell whether another process (or this one) changed it since it was last looked at."""

from __future__ import annotations

import os
from pathlib import Path

FileState = tuple[int, int, int, int]


def file_state(path: str | Path) -> FileState | None:
    """(inode, size, mtime ns, ctime ns) of ``path``; None when it does not exist. A rewrite changes the times, a
    replacement the inode, and the change time cannot be set back by copying a file's old times onto it."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
