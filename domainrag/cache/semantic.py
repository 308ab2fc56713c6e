"""One semantic answer cache (one namespace folder) built from GPTCache's own pieces.

``Cache`` + ``get_data_manager(CacheBase("sqlite"), SharedFaiss | Milvus)`` + ``adapter.api.get/put``, with
our sentence-transformers embedder as the embedding function and ``GuardedEvaluation`` as the similarity
evaluation: the cosine similarity of the two questions, but only when ``QuestionGuard`` agrees that they ask
the same thing (same quantities, critical terms, negation, modality, roles); otherwise the candidate scores
below every threshold.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from domainrag.cache.guard import QuestionGuard
from domainrag.cache.shim import prepare_gptcache
from domainrag.errors import ConfigError

prepare_gptcache()

from gptcache import Cache, Config  # noqa: E402
from gptcache.adapter.api import get, put  # noqa: E402
from gptcache.manager import CacheBase, get_data_manager  # noqa: E402
from gptcache.processor.pre import get_prompt  # noqa: E402
from gptcache.similarity_evaluation import SimilarityEvaluation  # noqa: E402

from domainrag.cache.vectors import SharedFaiss, make_uri_milvus  # noqa: E402

log = logging.getLogger("domainrag")

DEFAULT_THRESHOLD = 0.8
QUESTION_TABLE = "gptcache_question"  # GPTCache's SQL storage: one row per cached question, with its embedding
REJECTED = -1.0  # the guard's verdict: below the range, so no threshold can accept it


@dataclass(frozen=True)
class CacheSettings:
    """A pack's ``[cache]`` table."""

    enabled: bool = True
    threshold: float = DEFAULT_THRESHOLD
    top_k: int = 3
    max_entries: int = 10_000
    vector: str = "auto"  # auto (Milvus when the KB is on a Milvus server, else faiss) | faiss | milvus
    ignore_terms: tuple[str, ...] = ()
    synonyms: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    # the model that embeds questions for the cache: "" = the knowledge base's own; a pack may name a lighter one
    # whose similarities its threshold was set for (named as [models] embedding is, relative to the pack's folder)
    embedding: str = ""

    @classmethod
    def from_pack(cls, pack: Any) -> "CacheSettings":
        raw = dict(pack.section("cache")) if pack is not None else {}
        where = f"{getattr(pack, 'path', '?')}/pack.toml [cache]"
        unknown = sorted(set(raw) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"{where}: unknown keys {unknown}; allowed: {sorted(f.name for f in fields(cls))}")
        try:
            raw["ignore_terms"] = tuple(str(t) for t in raw.get("ignore_terms", ()))
            raw["synonyms"] = tuple(tuple(str(w) for w in group) for group in raw.get("synonyms", ()))
            settings = cls(**raw)
            threshold = float(settings.threshold)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: bad value ({exc})") from None
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(f"{where}: threshold must be in (0, 1], not {settings.threshold!r}")
        if settings.vector not in ("auto", "faiss", "milvus"):
            raise ConfigError(f"{where}: vector must be auto, faiss or milvus, not {settings.vector!r}")
        if int(settings.top_k) < 1 or int(settings.max_entries) < 1:
            raise ConfigError(f"{where}: top_k and max_entries must be positive")
        return settings

    def guard(self) -> QuestionGuard:
        return QuestionGuard(self.ignore_terms, self.synonyms)


@dataclass(frozen=True)
class CacheHit:
    """A cached answer (``Answer.to_dict()`` plus the question it was generated for) and its similarity."""

    answer: dict[str, Any]
    similarity: float
    question: str


class GuardedEvaluation(SimilarityEvaluation):
    """GPTCache similarity evaluation: cosine of the two question embeddings, vetoed by ``QuestionGuard``."""

    def __init__(self, guard: QuestionGuard) -> None:
        self.guard = guard

    def evaluation(self, src_dict: dict[str, Any], cache_dict: dict[str, Any], **_: Any) -> float:
        cached = cache_dict["question"]
        cached = cached if isinstance(cached, str) else getattr(cached, "content", str(cached))
        if not self.guard.same_question(str(src_dict["question"]), cached):
            return REJECTED
        # the scalar store's own copy of the cached vector: a vector-store id can never pair a question
        # with another question's answer
        a = np.asarray(src_dict["embedding"], dtype=np.float32)
        b = np.asarray(cache_dict["embedding"], dtype=np.float32)
        denominator = float(np.linalg.norm(a) * np.linalg.norm(b)) or 1.0
        return float(min(1.0, max(0.0, float(a @ b) / denominator)))

    def range(self) -> tuple[float, float]:
        return 0.0, 1.0


def _tune_sqlite(storage: Any) -> None:
    """WAL journal and a busy timeout, so several processes can read and write one cache at once."""
    from sqlalchemy import event

    engine = storage._engine  # GPTCache's SQLStorage creates the engine and exposes no option for this

    @event.listens_for(engine, "connect")
    def _on_connect(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    engine.dispose()  # drop the connection opened before the listener existed


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _encode_on_one_core(embedder: Any, text: str) -> np.ndarray:
    """``embedder``'s vector of ``text``, with torch (when the embedder runs on it) on one core in this thread."""
    torch = sys.modules.get("torch")  # a static embedder runs on numpy: importing torch for it would cost seconds
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)  # per thread with torch's OpenMP backend: the rest of the process is unaffected
    return embedder.encode([text])[0]


def _embedding_thread() -> ThreadPoolExecutor:
    """Where cache questions are embedded: one thread that runs a model on a single core.

    A short question is too small to gain from intra-op parallelism, and on a busy machine multi-threaded
    inference of it stalls (README "Semantic answer cache"): a hit must not wait on that.
    """
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(1, thread_name_prefix="domainrag-cache-embed")
        return _pool


@dataclass(frozen=True)
class MilvusTarget:
    """Where a namespace keeps its vectors when they live in Milvus."""

    uri: str
    token: str | None
    collection: str


class SemanticCache:
    """A GPTCache instance on one namespace folder (``sqlite.db`` + ``faiss.index``, or a Milvus collection).

    ``embedder`` is the question embedder (``dim`` and ``encode``) or a zero-argument callable returning it: then
    it loads only when a question must be embedded. A question asked before is not: its vector is read back from
    the scalar store, where GPTCache keeps each cached question's embedding."""

    def __init__(self, folder: Path, embedder: Any, settings: CacheSettings, milvus: MilvusTarget | None = None) -> None:
        self.folder = folder
        self._embedder = embedder if callable(embedder) else (lambda: embedder)
        self.settings = settings
        self.milvus = milvus
        self.guard = settings.guard()
        self._lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder / "create.lock")):  # two processes creating the same tables at once would clash
            scalar = CacheBase("sqlite", sql_url=f"sqlite:///{folder / 'sqlite.db'}", table_len_config={
                "question_question": 4000, "answer_answer": 200_000})
            _tune_sqlite(scalar)
            self._scalar = scalar
            if milvus is None:
                vectors: Any = SharedFaiss(str(folder / "faiss.index"), lambda: self.embedder.dim, settings.top_k,
                                           float(settings.threshold))
            else:
                vectors = make_uri_milvus(milvus.uri, milvus.token, milvus.collection, self.embedder.dim,
                                          settings.top_k, float(settings.threshold))
            manager = get_data_manager(scalar, vectors, max_size=settings.max_entries)
        self.gptcache = Cache()
        self.gptcache.init(
            pre_embedding_func=get_prompt,
            embedding_func=self._embed,
            data_manager=manager,
            similarity_evaluation=GuardedEvaluation(self.guard),
            config=Config(similarity_threshold=float(settings.threshold), enable_token_counter=False),
        )

    @property
    def embedder(self) -> Any:
        """The question embedder (loaded on first use when given as a callable)."""
        return self._embedder()

    def _embed(self, text: str, **_: Any) -> np.ndarray:
        stored = self._stored_embedding(text)
        if stored is not None:
            return stored
        return _embedding_thread().submit(_encode_on_one_core, self.embedder, text).result()

    def _stored_embedding(self, text: str) -> np.ndarray | None:
        """The vector GPTCache stored with this exact question, if it is cached (the embedding is deterministic)."""
        from sqlalchemy import text as sql

        query = sql(f"SELECT embedding_data FROM {QUESTION_TABLE} WHERE question = :question AND deleted = 0 "
                    "AND embedding_data IS NOT NULL ORDER BY id DESC LIMIT 1")
        with self._scalar._engine.connect() as connection:
            row = connection.execute(query, {"question": text}).fetchone()
        return np.frombuffer(row[0], dtype=np.float32).copy() if row is not None else None

    def lookup(self, question: str) -> CacheHit | None:
        """The cached answer to ``question`` or to a question that asks the same thing, else None."""
        candidates: list[tuple[str, float]] = []
        with self._lock:
            raw = get(question, cache_obj=self.gptcache, hit_callback=candidates.extend)
        if raw is None:
            return None
        data = json.loads(raw)
        cached_question = str(data.get("question", ""))
        scores = [s for q, s in candidates if q == cached_question] or [s for _, s in candidates]
        return CacheHit(answer=data, similarity=round(max(scores), 4), question=cached_question)

    def store(self, question: str, answer: dict[str, Any]) -> bool:
        """Keep ``answer`` for ``question``; False (and a log line) if the store failed."""
        payload = json.dumps({**answer, "question": question}, ensure_ascii=False)
        with self._lock:
            before = self.gptcache.report.op_save.count
            put(question, payload, cache_obj=self.gptcache)
            saved = self.gptcache.report.op_save.count > before
        if not saved:
            log.warning("warning: the answer cache at %s could not store an entry", self.folder)
        return saved

    def store_many(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Keep several (question, answer) pairs in one batch (GPTCache ``import_data``)."""
        questions = [question for question, _ in items]
        answers = [json.dumps({**answer, "question": question}, ensure_ascii=False) for question, answer in items]
        with self._lock:
            self.gptcache.import_data(questions, answers)

    def count(self) -> int:
        """Entries in the scalar store (not deleted)."""
        return int(self.gptcache.data_manager.s.count())

    def close(self) -> None:
        self.gptcache.data_manager.close()
