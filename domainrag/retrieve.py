"""Hybrid retrieval: dense vectors and BM25 from Milvus, fused with reciprocal-rank fusion."""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Protocol

from domainrag.errors import ConfigError
from domainrag.hit import Hit
from domainrag.query import bm25_query

__all__ = ["DENSE_HEAD", "MODES", "Hit", "Retriever", "SearchBackend", "distinct_passages", "rrf_fuse"]

MODES = ("hybrid", "dense", "bm25")
DENSE_HEAD = "dense_head"  # the leg that ranks the first fused candidates by the dense model (``Retriever.fused``)
# The BM25 searches run here while the calling thread embeds the query and searches the dense index (all release
# the GIL).
_LEXICAL_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="domainrag-bm25")
_NEAREST_KEPT = 64  # queries whose best dense similarity a retriever remembers (``Retriever.nearest_similarity``)


class SearchBackend(Protocol):
    """The backend-specific searches a ``Retriever`` fuses (``domainrag.store.Store`` on Milvus): each returns its
    ranking as ``Hit``s, best first, with the engine's own scores. Storage itself is
    ``domainrag.chunk_store.ChunkStore``."""

    def search_dense(self, kb: str, vector: list[float], limit: int, expr: str = "") -> list[Hit]: ...

    def search_bm25(self, kb: str, query: str, limit: int, expr: str = "") -> list[Hit]: ...

    def search_grams(self, kb: str, query: str, limit: int, expr: str = "") -> list[Hit]: ...

    def has_grams(self, kb: str) -> bool: ...

    def filter_hits(self, kb: str, expr: str, limit: int) -> list[Hit]: ...


def rrf_fuse(rankings: list[list[Hit]], weights: list[float], k: int = 60) -> list[Hit]:
    """Weighted reciprocal-rank fusion: score = Σ w / (k + rank). Milvus' RRFRanker has no weights."""
    scores: dict[str, float] = {}
    hits: dict[str, Hit] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + weight / (k + rank)
            hits.setdefault(hit.chunk_id, hit)
    ordered = sorted(scores, key=lambda cid: scores[cid], reverse=True)
    return [replace(hits[cid], rank=rank, score=scores[cid]) for rank, cid in enumerate(ordered, start=1)]


def distinct_passages(hits: list[Hit]) -> list[Hit]:
    """The hits without repeats of a passage ranked higher (same title and same text, as when an article is
    unchanged between two versions of a law kept side by side), ranked again 1, 2, ..."""
    seen: set[tuple[str, str]] = set()
    distinct: list[Hit] = []
    for hit in hits:
        key = (hit.title, hit.text or hit.chunk_id)
        if key not in seen:
            seen.add(key)
            rank = len(distinct) + 1
            distinct.append(hit if hit.rank == rank else replace(hit, rank=rank))
    return distinct


class Retriever:
    """Searches one knowledge base.

    Lexical search is BM25 over jieba words and, for Chinese KBs, BM25 over character n-grams
    (``grams_weight``; see domainrag/grams.py). The authority prior (``prefer_titles``/``prefer_weight``) adds
    one more ranking to the fusion: the fused candidates whose document title matches, in fused order. For law
    it favours statutes (titles ending in 法/法典) over the interpretations, rules and cases that repeat their
    wording. Every mode returns distinct passages (``distinct_passages``). A pack's learned ``reranker``
    (domainrag/rerank.py) reorders the top hybrid candidates; a ``follower`` (domainrag/cited.py) then merges in the
    articles the top hits cite, below the top hit when the reranker gives it a probability of at least
    ``cited_keep_top`` (0: never kept). A search that embeds the query also notes how close the KB's nearest chunk
    came to it (``nearest_similarity``): what tells a question off the KB's subject.
    """

    def __init__(self, store: SearchBackend, kb: str, embedder: Any, candidates: int = 50, rrf_k: int = 60,
                 dense_weight: float = 1.0, bm25_weight: float = 1.0, prefer_titles: str = "",
                 prefer_weight: float = 0.0, grams_weight: float = 1.0, reranker: Any = None,
                 follower: Any = None, cited_keep_top: float = 0.0) -> None:
        self.store = store
        self.reranker = reranker
        self.follower = follower
        self.cited_keep_top = cited_keep_top
        self.prefer_titles = re.compile(prefer_titles) if prefer_titles and prefer_weight > 0 else None
        self.prefer_weight = prefer_weight
        self.kb = kb
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight
        self.bm25_weight = bm25_weight
        self.grams_weight = grams_weight
        self._nearest: OrderedDict[str, float] = OrderedDict()
        self._nearest_lock = threading.Lock()

    def _note_nearest(self, query: str, dense: list[Hit]) -> None:
        if not dense:
            return
        with self._nearest_lock:
            self._nearest[query] = max(hit.score for hit in dense)
            self._nearest.move_to_end(query)
            while len(self._nearest) > _NEAREST_KEPT:
                self._nearest.popitem(last=False)

    def nearest_similarity(self, query: str) -> float | None:
        """The dense model's similarity (inner product of normalised vectors: cosine) of ``query`` and the KB's
        nearest chunk, as a recent search of ``query`` found it; None when none searched the dense index (it
        searches nothing itself)."""
        with self._nearest_lock:
            return self._nearest.get(query)

    def _fuse(self, rankings: list[list[Hit]], weights: list[float]) -> list[Hit]:
        if not rankings:
            return []
        if self.prefer_titles is None and len(rankings) == 1:
            return rankings[0]  # nothing to fuse: keep the engine's own scores
        fused = rrf_fuse(rankings, weights, self.rrf_k)
        if self.prefer_titles is None:
            return fused
        preferred = [hit for hit in fused if self.prefer_titles.search(hit.title)]
        return rrf_fuse([*rankings, preferred], [*weights, self.prefer_weight], self.rrf_k)

    def dense(self, query: str, limit: int) -> list[Hit]:
        return self._embed_and_search(query, limit)[1]

    def _embed_and_search(self, query: str, limit: int) -> tuple[list[float], list[Hit]]:
        """The query's vector and the dense index's ranking for it (its best similarity noted)."""
        vector = self.embedder.encode_query(query).tolist()
        hits = self.store.search_dense(self.kb, vector, limit)
        self._note_nearest(query, hits)
        return vector, hits

    def bm25(self, query: str, limit: int) -> list[Hit]:
        return self.store.search_bm25(self.kb, bm25_query(query), limit)

    def grams(self, query: str, limit: int) -> list[Hit]:
        return self.store.search_grams(self.kb, bm25_query(query), limit)

    def _lexical_searches(self, query: str, limit: int) -> dict[str, tuple[Future, float]]:
        """Start the BM25 searches on worker threads; name → (pending ranking, fusion weight)."""
        searches = {}
        if self.bm25_weight > 0:
            searches["words"] = (_LEXICAL_POOL.submit(self.bm25, query, limit), self.bm25_weight)
        if self.grams_weight > 0 and self.store.has_grams(self.kb):
            searches["grams"] = (_LEXICAL_POOL.submit(self.grams, query, limit), self.grams_weight)
        return searches

    def fused(self, query: str, depth: int, mode: str = "hybrid",
              rescore: int = 0) -> tuple[list[Hit], dict[str, list[Hit]]]:
        """Distinct fused candidates (``bm25`` or ``hybrid``) and each search's own ranking by name
        (``dense``, ``words``, ``grams``): what the reranker scores and is trained on. With ``rescore`` (hybrid), the
        first ``rescore`` candidates are also ranked by the dense model, every one of them and not only those its own
        search returned (``DENSE_HEAD``; it takes no part in the fusion)."""
        pending = self._lexical_searches(query, depth)
        legs: dict[str, list[Hit]] = {}
        weights: list[float] = []
        vector = None
        if mode == "hybrid" and self.dense_weight > 0:
            vector, legs["dense"] = self._embed_and_search(query, depth)
            weights = [self.dense_weight]
        legs.update((name, search.result()) for name, (search, _) in pending.items())
        weights += [weight for _, weight in pending.values()]
        hits = distinct_passages(self._fuse(list(legs.values()), weights))
        if vector is not None and rescore > 0 and hits:
            legs[DENSE_HEAD] = self.dense_ranking(vector, hits[:rescore])
        return hits, legs

    def dense_ranking(self, vector: list[float], hits: list[Hit]) -> list[Hit]:
        """``hits`` ranked by the dense similarity of their chunks to ``vector``: one search restricted to their ids
        (the stored vectors; nothing is embedded again)."""
        ids = sorted({hit.chunk_id for hit in hits})
        return self.store.search_dense(self.kb, vector, len(ids), expr=f"id in {json.dumps(ids)}")

    def follow_citations(self, hits: list[Hit], query: str, reranked: bool = True) -> list[Hit]:
        """``hits`` with the articles they cite merged in by the ``follower``; the top hit stays first when it was
        ``reranked`` and the reranker's probability for it reaches ``cited_keep_top``."""
        if self.follower is None:
            return hits
        sure = reranked and self.cited_keep_top > 0 and bool(hits) and hits[0].score >= self.cited_keep_top
        return self.follower.expand(hits, query, keep_first=sure)

    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[Hit]:
        if mode not in MODES:
            raise ConfigError(f"unknown retrieval mode {mode!r}: use one of {', '.join(MODES)}")
        if not query.strip():
            return []
        depth = max(self.candidates, k)
        if mode == "dense":
            hits = distinct_passages(self.dense(query, depth))
        else:
            reranking = mode == "hybrid" and self.reranker is not None
            hits, legs = self.fused(query, depth, mode, rescore=self.reranker.rescore_depth if reranking else 0)
            if reranking:
                hits = self.reranker.rerank(query, hits, legs)
            hits = self.follow_citations(hits, query, reranked=reranking)
        return [replace(hit, rank=rank, score=round(float(hit.score), 6)) for rank, hit in enumerate(hits[:k], start=1)]
