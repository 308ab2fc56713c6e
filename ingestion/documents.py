"""The records that flow through ingestion: a loaded document and its chunks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


class LoadError(Exception):
    """A file that cannot be ingested; the message is the reason shown to the user."""


@dataclass
class Document:
    """Text extracted from one file. ``records`` are self-contained units (CSV rows, JSONL lines);
    ``record_ids`` holds each record's own id (its ``id``/``doc_id`` field, "" when it has none)."""

    source: str
    title: str
    text: str = ""
    records: list[str] | None = None
    record_ids: list[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def add_record(self, text: str, record_id: str = "") -> None:
        """Append one record and its id, keeping ``record_ids`` parallel to ``records``."""
        if self.records is None:
            self.records, self.record_ids = [], []
        if self.record_ids is None:
            self.record_ids = [""] * len(self.records)
        self.records.append(text)
        self.record_ids.append(record_id)


def search_text(title: str, section: str, text: str) -> str:
    """What a chunk is embedded and BM25-indexed under: title and section on the first line, then the text."""
    header = " ".join(part for part in (title, section) if part)
    return f"{header}\n{text}" if header else text


@dataclass
class Chunk:
    """One retrievable unit. ``search_text`` (title + section + text) is what gets embedded and BM25-indexed."""

    source: str
    title: str
    section: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def search_text(self) -> str:
        return search_text(self.title, self.section, self.text)

    @property
    def id(self) -> str:
        """Content hash of source + indexed text: the same chunk always gets the same id."""
        digest = hashlib.sha256(f"{self.source}\x00{self.search_text}".encode("utf-8"))
        return digest.hexdigest()[:32]
