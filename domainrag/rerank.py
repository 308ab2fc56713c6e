"""Learned reranking of fused candidates: a linear model over ranking features and a domain-tuned embedding.

A pack may ship a ``reranker/`` folder (``[retrieval] reranker = "reranker"``) holding ``reranker.json``
(feature names, weights, bias, depth) and ``embedding/``, an embedding model (for law a sentence-transformers
``StaticEmbedding`` trained on the corpus's own statute cross-references; see benchmarks/train_law_reranker.py).
After hybrid fusion the top ``depth`` distinct candidates are rescored as ``bias + Σ weight · feature`` and
reordered; the rest keep their fused order below them. The embedding scores only those candidates, so the
knowledge base needs no second vector field and re-ingesting nothing.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from domainrag.errors import ConfigError
from domainrag.hit import Hit
from domainrag.ingestion.documents import search_text
from domainrag.numerals import article_number as parse_article_label
from domainrag.query import bm25_query
from domainrag.relevance import RelevanceScorer
from domainrag.retrieve import DENSE_HEAD

_ABSENT_RANK = 300
_PASSAGE_CACHE_SIZE = 50_000  # vectors kept by chunk id: 1 KB each at 256 dimensions
_LEGS = ("words", "grams", "dense")
_DENSE_HEAD_FEATURES = ("dense_sim_gap", "dense_sim_rr")
FEATURE_NAMES = ("log_rank", *(f"{leg}_{kind}" for leg in _LEGS for kind in ("rr", "score")), "preferred",
                 "log_length", "general_section", "liability_section", "log_article", "doc_share",
                 "doc_score_share", "sim_gap", "sim_rr", "dense_sim_gap", "dense_sim_rr", "keyword_cover",
                 "keyword_cover_gap")
_GENERAL_SECTION = re.compile(r"总\s*则|一般规定")
_LIABILITY_SECTION = re.compile(r"法律责任|罚\s*则")


def passage_text(hit: Hit) -> str:
    """The text a hit's chunk was indexed under (``Chunk.search_text``)."""
    return search_text(hit.title, hit.section, hit.text)


def article_number(hit: Hit) -> int:
    """The article number of a statute chunk (第十二条 → 12), 0 when it has none."""
    parsed = parse_article_label(hit.metadata.get("article", "") or "")
    return parsed[0] if parsed else 0


def _leg_lookup(ranking: list[Hit]) -> dict[str, tuple[int, float]]:
    """chunk id → (rank, score ÷ the ranking's top score)."""
    top = ranking[0].score if ranking and ranking[0].score else 1.0
    return {hit.chunk_id: (rank, hit.score / top) for rank, hit in enumerate(ranking, start=1)}


def similarity_features(similarities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each candidate's gap to the most similar one and its reciprocal rank by similarity, 1 / (5 + rank)."""
    rank = np.empty(len(similarities))
    rank[np.argsort(-similarities, kind="stable")] = np.arange(1, len(similarities) + 1)
    return similarities - similarities.max(), 1.0 / (5 + rank)


def keyword_coverage(query: str, hits: list[Hit]) -> np.ndarray:
    """Per candidate, the IDF-weighted share of the question's distinctive words its text contains, whole words only
    (the relevance floor's score, ``domainrag.relevance``): how much of what the question is about the passage itself
    speaks of, which BM25's saturating per-word scores and the fused rank do not say directly."""
    scorer = RelevanceScorer(query, exact=True)
    return np.array([scorer.score(hit.text) for hit in hits], dtype=np.float64)


def _dense_similarities(hits: list[Hit], legs: dict[str, list[Hit]]) -> np.ndarray | None:
    """The KB's dense similarity of each candidate to the query, from the ``DENSE_HEAD`` leg; None without it."""
    ranking = legs.get(DENSE_HEAD)
    if not ranking:
        return None
    scores = {hit.chunk_id: hit.score for hit in ranking}
    floor = min(scores.values())
    return np.array([scores.get(hit.chunk_id, floor) for hit in hits], dtype=np.float64)


def candidate_features(hits: list[Hit], legs: dict[str, list[Hit]], similarities: np.ndarray,
                       preferred: re.Pattern[str] | None, coverage: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Feature name → one value per candidate (``hits`` in fused order; ``legs``: each search's own ranking;
    ``similarities``: the reranker's own embedding's; ``coverage``: ``keyword_coverage``, 0 when not given). Without a
    ``DENSE_HEAD`` leg the dense similarity features are 0."""
    n = len(hits)
    lookups = {name: _leg_lookup(ranking) for name, ranking in legs.items()}
    doc_count: dict[str, int] = {}
    doc_score: dict[str, float] = {}
    for hit in hits:
        doc_count[hit.title] = doc_count.get(hit.title, 0) + 1
        doc_score[hit.title] = doc_score.get(hit.title, 0.0) + hit.score
    total_score = sum(hit.score for hit in hits) or 1.0
    features: dict[str, list[float]] = {}

    def put(name: str, value: float) -> None:
        features.setdefault(name, []).append(value)

    for rank, hit in enumerate(hits, start=1):
        title, section = hit.title, hit.section
        put("log_rank", math.log(rank))
        for leg in _LEGS:
            leg_rank, leg_score = lookups.get(leg, {}).get(hit.chunk_id, (_ABSENT_RANK, 0.0))
            put(f"{leg}_rr", 1.0 / (10 + leg_rank))
            put(f"{leg}_score", leg_score)
        put("preferred", float(bool(preferred and preferred.search(title))))
        put("log_length", math.log(max(1, len(passage_text(hit)))))
        put("general_section", float(bool(_GENERAL_SECTION.search(section))))
        put("liability_section", float(bool(_LIABILITY_SECTION.search(section))))
        put("log_article", math.log1p(min(article_number(hit), 2000)))
        put("doc_share", doc_count[title] / n)
        put("doc_score_share", doc_score[title] / total_score)
    arrays = {name: np.asarray(values, dtype=np.float64) for name, values in features.items()}
    empty = np.zeros(n)
    arrays["sim_gap"], arrays["sim_rr"] = similarity_features(similarities) if n else (empty, empty)
    dense = _dense_similarities(hits, legs) if n else None
    arrays["dense_sim_gap"], arrays["dense_sim_rr"] = (empty, empty) if dense is None else similarity_features(dense)
    cover = empty if coverage is None or not n else np.asarray(coverage, dtype=np.float64)
    arrays["keyword_cover"], arrays["keyword_cover_gap"] = cover, (cover - cover.max()) if n else empty
    return arrays


@dataclass
class LinearReranker:
    """``bias + Σ weight · feature`` over the top ``depth`` fused candidates."""

    weights: dict[str, float]
    bias: float
    depth: int
    embedder: Any
    preferred: re.Pattern[str] | None = None

    @classmethod
    def load(cls, folder: str | Path, preferred: str = "") -> LinearReranker:
        """Read ``reranker.json`` and load ``embedding/`` from a pack's reranker folder."""
        folder = Path(folder)
        config_path = folder / "reranker.json"
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
            weights = {str(k): float(v) for k, v in config["weights"].items()}
            bias, depth = float(config["bias"]), int(config["depth"])
            unknown = sorted(set(weights) - set(FEATURE_NAMES))
            if unknown:
                raise ValueError(f"unknown features {unknown}; known: {', '.join(FEATURE_NAMES)}")
        except FileNotFoundError:
            raise ConfigError(f"{config_path}: reranker config missing; retrain with benchmarks/train_law_reranker.py "
                              "or remove [retrieval] reranker from pack.toml") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{config_path}: bad reranker config ({exc}); retrain with "
                              "benchmarks/train_law_reranker.py") from None
        return cls(weights=weights, bias=bias, depth=depth, embedder=load_embedding(folder / "embedding"),
                   preferred=re.compile(preferred) if preferred else None)

    def __post_init__(self) -> None:
        self._passage_vectors: dict[str, np.ndarray] = {}  # chunk id (a content hash) → its unit vector

    @property
    def rescore_depth(self) -> int:
        """How many fused candidates ``Retriever.fused`` should rank by the dense model for this reranker: its
        ``depth`` when its weights use that ranking (``DENSE_HEAD``), else 0 (no search for unused features)."""
        return self.depth if any(self.weights.get(name) for name in _DENSE_HEAD_FEATURES) else 0

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of ``texts`` under the reranker's embedding."""
        return self.embedder.encode(texts)

    def similarities(self, query: str, hits: list[Hit]) -> np.ndarray:
        """Cosine similarity of the query to each candidate under the reranker's embedding; passage vectors are
        kept by chunk id (ids are content hashes, so a kept vector never goes stale)."""
        cache = self._passage_vectors
        vectors = {hit.chunk_id: cache.get(hit.chunk_id) for hit in hits}  # read once: another search may clear it
        missing = [hit for hit in {hit.chunk_id: hit for hit in hits}.values() if vectors[hit.chunk_id] is None]
        if missing:
            vectors.update(zip((hit.chunk_id for hit in missing), self.encode([passage_text(h) for h in missing])))
            if len(cache) + len(missing) > _PASSAGE_CACHE_SIZE:
                cache.clear()
            cache.update((hit.chunk_id, vectors[hit.chunk_id]) for hit in missing)
        passages = np.stack([vectors[hit.chunk_id] for hit in hits])
        return passages @ self.encode([bm25_query(query)])[0]

    def features(self, query: str, hits: list[Hit], legs: dict[str, list[Hit]]) -> dict[str, np.ndarray]:
        return candidate_features(hits, legs, self.similarities(query, hits), self.preferred,
                                  keyword_coverage(query, hits))

    def rerank(self, query: str, hits: list[Hit], legs: dict[str, list[Hit]]) -> list[Hit]:
        """``hits`` (fused, distinct) with the top ``depth`` reordered by the model; their scores become its
        probability (0-1) that the passage is the one asked for. The rest keep their fused rank and score."""
        head, tail = hits[:self.depth], hits[self.depth:]
        if len(head) < 2:
            return hits
        features = self.features(query, head, legs)
        logits = self.bias + sum(weight * features[name] for name, weight in self.weights.items())
        order = np.argsort(-logits, kind="stable")
        return [replace(head[i], rank=rank, score=float(1 / (1 + np.exp(-logits[i]))))
                for rank, i in enumerate(order, start=1)] + tail


def load_embedding(path: Path) -> Any:
    """The reranker's embedding model from its folder, loaded once per process (``domainrag.embed.get_embedder``: a
    static embedding loads through model2vec, without torch)."""
    from domainrag.embed import get_embedder

    if not (path / "modules.json").exists() and not (path / "config.json").exists():
        raise ConfigError(f"{path}: no embedding model here; retrain with benchmarks/train_law_reranker.py")
    return get_embedder(str(path.resolve()))
