"""The storage contract: what the ingest pipeline, the CLI and the app need from a knowledge-base backend.

Storage only. Search is backend-specific and lives with the retriever (``domainrag.retrieve.SearchBackend``);
``domainrag.testing.chunk_store`` holds the test suite every backend must pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from domainrag.errors import ConfigError

# The stored fields of a chunk that come back from ``iter_chunks`` by default.
CHUNK_FIELDS = ["id", "text", "source", "title", "section", "metadata"]


@dataclass
class KBInfo:
    """What a knowledge base was built with."""

    name: str
    embedding_model: str
    dim: int
    language: str
    pack: str
    embedding_version: str = ""  # a digest of a static model's weights (a pack that retrains its model changes it)


def check_embedding_version(info: KBInfo, version: str) -> None:
    """Refuse to use a knowledge base with a model whose weights changed since it was built (a pack that retrained
    the model it ships): its stored vectors would no longer match the questions'. Unknown versions pass."""
    if info.embedding_version and version and info.embedding_version != version:
        raise ConfigError(
            f"knowledge base {info.name!r} was built with an earlier version of embedding model "
            f"{info.embedding_model!r} (weights {info.embedding_version}, now {version}); ingest into a new --kb, or "
            f"`domainrag kb delete {info.name}` and ingest again")


@runtime_checkable
class ChunkStore(Protocol):
    """Knowledge bases of chunks plus a per-file manifest.

    A chunk row is ``{"id", "text", "search_text", "source", "title", "section", "metadata", "dense"}``
    (``dense``: ``dim`` floats). A manifest entry records a fully ingested file:
    ``{"source", "file_hash", "title", "chunks", "ingested_at"}``.
    """

    uri: str

    def list_kbs(self) -> list[str]:
        """Names of the complete knowledge bases."""
        ...

    def has_kb(self, kb: str) -> bool: ...

    def ensure_kb(self, kb: str, embedding_model: str, dim: int, language: str, pack: str,
                  embedding_version: str = "") -> KBInfo:
        """Create the KB if missing (all or nothing); refuse one built with another embedding model, or with another
        version of it when both versions are known (ConfigError)."""
        ...

    def kb_info(self, kb: str) -> KBInfo: ...

    def drop_kb(self, kb: str) -> bool:
        """Delete the KB and its manifest; False when there was none."""
        ...

    def upsert_chunks(self, kb: str, rows: list[dict[str, Any]]) -> None:
        """Insert rows, replacing those with the same id."""
        ...

    def delete_chunks(self, kb: str, ids: list[str]) -> None: ...

    def iter_chunks(self, kb: str, fields: list[str] | None = None, batch_size: int = 4096) -> Iterator[dict[str, Any]]:
        """Every chunk, with ``fields`` (default ``CHUNK_FIELDS``), in batches of ``batch_size``."""
        ...

    def chunk_ids_for_source(self, kb: str, source: str) -> set[str]: ...

    def manifest(self, kb: str) -> dict[str, dict[str, Any]]:
        """source → manifest entry, for every fully ingested file."""
        ...

    def record_file(self, kb: str, source: str, file_hash: str, title: str, chunks: int) -> None: ...

    def forget_file(self, kb: str, source: str) -> None: ...

    def count(self, kb: str) -> int: ...

    def flush(self, kb: str) -> None:
        """Make what was written durable (and, on Milvus, indexed)."""
        ...

    def kb_version(self, kb: str) -> str:
        """Changes whenever the set of ingested files or their contents change."""
        ...
