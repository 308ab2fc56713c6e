"""``Hit``: one retrieved chunk, the type every search leg, the fusion, the reranker and ``DomainRAG.search`` pass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk.

    ``rank`` is its 1-based place in the ranking that produced it and ``score`` that ranking's score: a search
    leg's own engine score (inner product, BM25), the fused reciprocal-rank score, the reranker's probability.
    Hits are immutable: a step that rescores or reorders makes new ones (``dataclasses.replace``), so a leg's
    ranking stays as the engine returned it while the fusion and the reranker work on the same chunks.
    """

    rank: int
    score: float
    chunk_id: str
    text: str
    source: str
    title: str
    section: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], rank: int = 0) -> Hit:
        """A hit from a chunk row: ``id`` and the stored fields (``domainrag.chunk_store.CHUNK_FIELDS``), plus
        ``score`` when the row is a search result."""
        return cls(rank=rank, score=float(row.get("score", 0.0)), chunk_id=row["id"], text=row.get("text") or "",
                   source=row.get("source") or "", title=row.get("title") or "", section=row.get("section") or "",
                   metadata=row.get("metadata") or {})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
