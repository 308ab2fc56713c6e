"""Hybrid retrieval: dense vectors and BM25 from Milvus, fused with reciprocal-rank fusion."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from domainrag.errors import ConfigError
from domainrag.query import bm25_query

MODES = ("hybrid", "dense", "bm25")
# BM25 runs here while the calling thread embeds the query and searches the dense index (both release the GIL).
_LEXICAL_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="domainrag-bm25")


@dataclass
class Hit:
    """One retrieved chunk."""

    rank: int
    score: float
    chunk_id: str
    text: str
    source: str
    title: str
    section: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rrf_fuse(rankings: list[list[dict[str, Any]]], weights: list[float], k: int = 60) -> list[dict[str, Any]]:
    """Weighted reciprocal-rank fusion: score = Σ w / (k + rank). Milvus' RRFRanker has no weights."""
    scores: dict[str, float] = {}
    rows: dict[str, dict[str, Any]] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, row in enumerate(ranking, start=1):
            scores[row["id"]] = scores.get(row["id"], 0.0) + weight / (k + rank)
            rows.setdefault(row["id"], row)
    ordered = sorted(scores, key=lambda cid: scores[cid], reverse=True)
    return [{**rows[cid], "score": scores[cid]} for cid in ordered]


class Retriever:
    """Searches one knowledge base.

    The authority prior (``prefer_titles``/``prefer_weight``) adds one more ranking to the fusion: the BM25
    candidates whose document title matches, in BM25 order. For law it favours statutes (titles ending
    in 法/法典) over the interpretations, rules and cases that repeat their wording.
    """

    def __init__(self, store: Any, kb: str, embedder: Any, candidates: int = 50, rrf_k: int = 60,
                 dense_weight: float = 1.0, bm25_weight: float = 1.0, prefer_titles: str = "",
                 prefer_weight: float = 0.0) -> None:
        self.store = store
        self.prefer_titles = re.compile(prefer_titles) if prefer_titles and prefer_weight > 0 else None
        self.prefer_weight = prefer_weight
        self.kb = kb
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight
        self.bm25_weight = bm25_weight

    def _with_prior(self, rankings: list[list[dict[str, Any]]], weights: list[float],
                    lexical: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.prefer_titles is not None:
            preferred = [row for row in lexical if self.prefer_titles.search(row.get("title", ""))]
            rankings, weights = [*rankings, preferred], [*weights, self.prefer_weight]
        return rrf_fuse(rankings, weights, self.rrf_k)

    def dense(self, query: str, limit: int) -> list[dict[str, Any]]:
        vector = self.embedder.encode([query])[0].tolist()
        return self.store.search_dense(self.kb, vector, limit)

    def bm25(self, query: str, limit: int) -> list[dict[str, Any]]:
        return self.store.search_bm25(self.kb, bm25_query(query), limit)

    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[Hit]:
        if mode not in MODES:
            raise ConfigError(f"unknown retrieval mode {mode!r}: use one of {', '.join(MODES)}")
        if not query.strip():
            return []
        depth = max(self.candidates, k)
        if mode == "dense":
            rows = self.dense(query, k)
        elif mode == "bm25":
            lexical = self.bm25(query, depth if self.prefer_titles else k)
            rows = self._with_prior([lexical], [self.bm25_weight], lexical)[:k] if self.prefer_titles else lexical
        else:
            pending = _LEXICAL_POOL.submit(self.bm25, query, depth)
            dense = self.dense(query, depth)
            lexical = pending.result()
            rows = self._with_prior([dense, lexical], [self.dense_weight, self.bm25_weight], lexical)[:k]
        return [
            Hit(rank=i, score=round(float(r["score"]), 6), chunk_id=r["id"], text=r.get("text", ""),
                source=r.get("source", ""), title=r.get("title", ""), section=r.get("section", ""),
                metadata=r.get("metadata") or {})
            for i, r in enumerate(rows, start=1)
        ]
