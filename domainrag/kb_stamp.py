"""What a fresh process needs to know of a knowledge base in a Milvus Lite file (its version and ``KBInfo``),
remembered so that it can serve a cached answer without starting Milvus.

A stamp holds those facts and the state of the ``.db`` file when they were read: inode, size,
modification and change times. It is trusted only while the file is still in exactly that state. Milvus Lite
writes every insert, upsert and delete to the file at once, so any ingest after the stamp voids it. A Milvus
server has no stamp: the facts are always read from the server.

    $DOMAINRAG_HOME/kb_versions/<uri slug>/<kb>.json
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from domainrag.config import domainrag_home, is_server_uri, uri_slug
from domainrag.file_state import file_state

log = logging.getLogger("domainrag")


class KBStamps:
    """Stamps of the knowledge bases in one Milvus Lite file (``uri``), kept under ``root``."""

    def __init__(self, uri: str, root: Path | None = None) -> None:
        if is_server_uri(uri):
            raise ValueError(f"{uri} is a Milvus server: what its knowledge bases hold is read from it")
        self.db = Path(uri).expanduser()
        self.folder = (root or domainrag_home() / "kb_versions") / uri_slug(uri)

    @classmethod
    def for_uri(cls, uri: str, root: Path | None = None) -> "KBStamps | None":
        """The stamps of a Milvus Lite file; None for a server URI."""
        return None if is_server_uri(uri) else cls(uri, root)

    def _path(self, kb: str) -> Path:
        return self.folder / f"{kb}.json"

    def read(self, kb: str) -> dict[str, Any] | None:
        """The facts stamped for ``kb`` while the file is as it was when they were read; else None."""
        try:
            stamp = json.loads(self._path(kb).read_text(encoding="utf-8"))
            facts, state = dict(stamp["facts"]), tuple(stamp["file"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return facts if state == file_state(self.db) else None

    def record(self, kb: str, read_facts: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``read_facts()`` (JSON-serialisable), stamped when the file did not change while they were read (and
        the stamp does not already say so: a process that asks Milvus on every question rewrites nothing)."""
        before = file_state(self.db)
        facts = read_facts()
        if before is not None and before == file_state(self.db) and self.read(kb) != facts:
            path = self._path(kb)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                tmp.write_text(json.dumps({"facts": facts, "file": list(before), "db": str(self.db)},
                                          ensure_ascii=False), encoding="utf-8")
                os.replace(tmp, path)  # a reader sees the old stamp or the new one, never half of one
            except OSError as exc:  # a read-only home costs the next process the Milvus start, not this answer
                log.debug("no stamp for %s at %s (%s)", kb, path, exc)
        return facts
