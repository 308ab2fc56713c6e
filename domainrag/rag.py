"""``DomainRAG``: the public entry point that ties a pack, a Milvus store and the models together."""

from __future__ import annotations

import re
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from domainrag.background import in_background
from domainrag.chunk_store import KBInfo, check_embedding_version
from domainrag.config import env_override, resolve_uri, validate_kb_name
from domainrag.embed import Embedder, StaticEmbedder, get_embedder
from domainrag.kb_stamp import KBStamps
from domainrag.packs import Pack, load_pack
from domainrag.retrieve import Hit, Retriever
from domainrag.store import Store


_FROM_PACK: Any = object()  # "build this part from the pack" (None means none, for the cache)


class DomainRAG:
    """A domain pack bound to a knowledge base. Models and the Milvus client load once, on first use."""

    def __init__(self, pack: Pack, uri: str | None = None, kb: str | None = None,
                 embedding_model: str | None = None, token: str | None = None, *, store: Store | None = None,
                 embedder: Embedder | StaticEmbedder | None = None, retriever: Retriever | None = None,
                 generator: Any = None, cache: Any = _FROM_PACK) -> None:
        """Parts not given are built from the pack on first use: ``store`` (the Milvus client at ``uri``),
        ``embedder``, ``retriever`` (hybrid search over ``store``), ``generator`` (see ``with_llm``) and ``cache``
        (the semantic answer cache; None for none)."""
        self.pack = pack
        self.uri = resolve_uri(uri)
        self.kb = validate_kb_name(kb or env_override("KB", None) or pack.name)
        self.token = token or env_override("MILVUS_TOKEN", None)
        self._embedding_named = embedding_model  # named by the caller: wins over the KB's and the pack's
        self._lock = threading.Lock()  # the Milvus client
        self._embedder_lock = threading.Lock()  # the embedding model (warm_up loads it in the background)
        self._store: Store | None = store
        self._answer_cache: Any = None if cache is _FROM_PACK else cache
        self._answer_cache_set = cache is not _FROM_PACK
        self._cache_embedding = ""  # the pack's [cache] embedding, read with the cache
        self._llm_options: dict[str, Any] = {}
        self._answer_mode: str | None = None
        self._generator_obj: Any = generator
        self._answer_chain: Any = None
        self._answer_lock = threading.Lock()
        self._embedder: Embedder | StaticEmbedder | None = embedder
        self._embedder_model: str | None = None  # the model name _load_embedder loaded it by
        self._retriever: Retriever | None = retriever
        self._stamps = KBStamps.for_uri(self.uri)  # None on a Milvus server
        self._warm_lock = threading.Lock()
        self._milvus_warming: threading.Thread | None = None
        self._pymilvus_imported = threading.Event()
        self._warm_milvus_to_embed = False  # cached_answer(warm_up_milvus=True) sets it during its lookup

    @classmethod
    def from_pack(cls, pack: str | Path | Pack, uri: str | None = None, kb: str | None = None, **kwargs: Any) -> "DomainRAG":
        """``DomainRAG.from_pack("law")`` or ``from_pack("./my_pack", uri="http://localhost:19530")``."""
        return cls(pack if isinstance(pack, Pack) else load_pack(pack), uri=uri, kb=kb, **kwargs)

    # ---- lazily loaded parts ---------------------------------------------
    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = Store(self.uri, self.token)
            return self._store

    @property
    def embedder(self) -> Embedder | StaticEmbedder:
        """The embedding model of this knowledge base (see ``embedding_model_name``); a ``ConfigError`` when the
        knowledge base was built with another version of it."""
        return self._load_embedder(self._kb_info)

    def _load_embedder(self, kb_info: Any) -> Embedder | StaticEmbedder:
        """The embedder, loaded once for the knowledge base whose ``KBInfo`` (or None) ``kb_info()`` returns."""
        with self._embedder_lock:
            if self._embedder is None:
                info = kb_info()  # read once: it names the model and holds the version to check
                name = self._model_name(info)
                embedder = get_embedder(name, self.pack.path)
                if info is not None:
                    check_embedding_version(info, embedder.version)
                self._embedder, self._embedder_model = embedder, name
            return self._embedder

    @property
    def embedding_model_name(self) -> str:
        """The embedding model's name as a knowledge base records it: the one named to this object (argument or
        ``DOMAINRAG_EMBEDDING_MODEL``); else the one the existing knowledge base was built with, so a KB keeps
        working after its pack moves to another model; else the pack's. ``default`` stays ``default`` so KBs
        survive package upgrades; a model the pack ships is named relative to the pack's folder."""
        return self._named_model() or self._model_name(self._kb_info())

    def _named_model(self) -> str | None:
        import os

        return os.environ.get("DOMAINRAG_EMBEDDING_MODEL") or self._embedding_named

    def _model_name(self, info: KBInfo | None) -> str:
        """``embedding_model_name`` given the knowledge base's info (None while it does not exist)."""
        return self._named_model() or (info.embedding_model if info else self.pack.embedding_model or "default")

    def _kb_info(self) -> KBInfo | None:
        stamped = self._stamped()
        if stamped is not None:
            return stamped["info"]
        return self.store.kb_info(self.kb) if self.store.has_kb(self.kb) else None

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            settings = self.pack.retrieval
            self._retriever = Retriever(self.store, self.kb, self.embedder, candidates=settings.candidates,
                                        rrf_k=settings.rrf_k, dense_weight=settings.dense_weight,
                                        bm25_weight=settings.bm25_weight, prefer_titles=settings.prefer_titles,
                                        prefer_weight=settings.prefer_weight, grams_weight=settings.grams_weight,
                                        reranker=self._load_reranker(), follower=self._citation_follower(),
                                        cited_keep_top=settings.cited_keep_top)
        return self._retriever

    def _citation_follower(self) -> Any:
        """Follows the articles the top hits cite, when the pack's ``cited_weight`` is above 0."""
        settings = self.pack.retrieval
        if settings.cited_weight <= 0:
            return None
        from domainrag.cited import ChargeTable, CitationFollower

        skip = re.compile(settings.prefer_titles) if settings.prefer_titles else None
        charges = ChargeTable.load(self.pack.path / settings.charges) if settings.charges else None
        return CitationFollower(self.store, self.kb, weight=settings.cited_weight, depth=settings.cited_depth,
                                skip_titles=skip, charges=charges)

    def _load_reranker(self) -> Any:
        """The pack's learned reranker, unless none is configured or ``DOMAINRAG_RERANKER=off``."""
        import os

        folder = self.pack.reranker_dir
        if folder is None or os.environ.get("DOMAINRAG_RERANKER", "").lower() in ("off", "0", "false", "no"):
            return None
        from domainrag.rerank import LinearReranker

        return LinearReranker.load(folder, preferred=self.pack.retrieval.prefer_titles)

    # ---- operations ------------------------------------------------------------
    def ingest(self, paths: str | Path | list[str | Path], progress: bool = False, prune: bool = True,
               max_file_bytes: int | None = None, batch_size: int = 256, follow_links: bool = False,
               file_timeout_s: float | None = None, file_memory_bytes: int | None = None) -> Any:
        """Ingest files or folders; returns an ``IngestSummary``.

        ``follow_links`` ingests symbolic links that leave the folders given; each file is parsed within
        ``file_timeout_s`` seconds and ``file_memory_bytes`` (defaults 60 s and 2 GiB, 0 for no limit).
        """
        from domainrag.ingestion.pipeline import IngestOptions, IngestPipeline

        if isinstance(paths, (str, Path)):
            paths = [paths]
        settings = self.pack.retrieval
        options = IngestOptions(chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap,
                                splitter=settings.splitter, prune=prune, progress=progress, batch_size=batch_size,
                                follow_links=follow_links)
        if max_file_bytes:
            options.max_file_bytes = max_file_bytes
        if file_timeout_s is not None:
            options.file_timeout_s = file_timeout_s
        if file_memory_bytes is not None:
            options.file_memory_bytes = file_memory_bytes
        self.ensure_kb()
        return IngestPipeline(self.store, self.kb, self.embedder, options).run(list(paths))

    def ensure_kb(self) -> None:
        """Create the knowledge base (collection, indexes, manifest) if it does not exist yet."""
        embedder = self.embedder
        self.store.ensure_kb(self.kb, self.embedding_model_name, embedder.dim, self.pack.language, self.pack.name,
                             embedding_version=getattr(embedder, "version", ""))

    def search(self, query: str, k: int | None = None, mode: str | None = None) -> list[Hit]:
        """Hybrid (default), dense or BM25 search of the knowledge base."""
        if not self.store.has_kb(self.kb):
            from domainrag.errors import ConfigError

            raise ConfigError(f"knowledge base {self.kb!r} does not exist at {self.uri}: "
                              f"run `domainrag ingest PATH --pack {self.pack.name}` first")
        self.store.load(self.kb)
        return self.retriever.search(query, k or self.pack.retrieval.k, mode or self.pack.retrieval.mode)

    def warm_up(self) -> list[threading.Thread]:
        """Start what a first question needs, side by side, in background threads: the Milvus client (Milvus
        Lite starts a server process) and the knowledge base's collection, the embedding model it was built with
        (beside Milvus when the KB's stamp names the model, else once Milvus has said which), jieba's dictionary
        and IDF table, and the answer chain's LangChain runnables. Returns the threads (daemons)."""
        stamped = self._stamped()  # read before the Milvus client exists, which voids stamps for this process

        def embedding() -> None:
            self._load_embedder((lambda: stamped["info"]) if stamped is not None else self._kb_info)

        def words() -> None:
            import jieba

            from domainrag.query import tfidf

            jieba.initialize()
            tfidf()

        def chain() -> None:
            self.answer_chain.prepare  # noqa: B018 - builds the runnables: imports LangChain

        def after_import(job: Any) -> Any:
            def run() -> None:
                self._pymilvus_imported.wait(10)
                job()

            return run

        # With two cores the jobs compete for the interpreter: Milvus's start is the longest path, so its import
        # runs alone and the rest go while its server process starts and loads the collection.
        return [self._warm_milvus()] + [in_background(after_import(job), f"warm-{job.__name__}")
                                        for job in (embedding, words, chain)]

    def _warm_milvus(self) -> threading.Thread:
        """Start, once, the Milvus client and the knowledge base's collection in a background thread."""

        def milvus() -> None:
            import importlib

            try:
                importlib.import_module("pymilvus")
            finally:
                self._pymilvus_imported.set()
            if self.store.has_kb(self.kb):
                self.store.load(self.kb)

        with self._warm_lock:
            if self._milvus_warming is None:
                self._milvus_warming = in_background(milvus, "warm-milvus")
            return self._milvus_warming

    def kb_version(self) -> str:
        """Identifies the current contents of the knowledge base (changes on every effective ingest)."""
        return self.store.kb_version(self.kb)

    def _current_kb_version(self) -> str | None:
        """``kb_version()``, or None while the knowledge base does not exist (stamped, see ``_stamped``)."""
        stamped = self._stamped()
        if stamped is not None:
            return str(stamped["version"])
        if not self.store.has_kb(self.kb):
            return None
        version = self.kb_version()
        if self._stamps is None:
            return version
        stamped = self._stamps.read(self.kb)
        if stamped is not None and stamped.get("version") == version:  # a serve process asks on every question
            return version
        # (re)stamp: both facts are read again between two looks at the file (``KBStamps.record``)
        return str(self._stamps.record(self.kb, lambda: {"version": self.kb_version(),
                                                         "info": asdict(self.store.kb_info(self.kb))})["version"])

    def _stamped(self) -> dict[str, Any] | None:
        """The knowledge base's version and ``KBInfo`` as stamped (``domainrag.kb_stamp``) for its Milvus Lite file,
        while this process has not opened the file and the file is unchanged since: a cache hit never starts
        Milvus. None otherwise (then they are read from Milvus)."""
        from domainrag.store import is_connected

        if self._stamps is None or self._store is not None or is_connected(self.uri):
            return None
        stamped = self._stamps.read(self.kb)
        try:
            return {"version": str(stamped["version"]), "info": KBInfo(**stamped["info"])} if stamped else None
        except (KeyError, TypeError):  # written by another version of domainrag
            return None

    def delete_document(self, source: str) -> int:
        """Remove one ingested document (its chunks and manifest entry); returns the number of chunks removed."""
        from domainrag.errors import ConfigError

        if not self.store.has_kb(self.kb) or source not in self.store.manifest(self.kb):
            raise ConfigError(f"no document {source!r} in knowledge base {self.kb!r}; see `domainrag kb stats {self.kb}`")
        ids = sorted(self.store.chunk_ids_for_source(self.kb, source))
        self.store.delete_chunks(self.kb, ids)
        self.store.forget_file(self.kb, source)
        self.store.flush(self.kb)
        return len(ids)

    # ---- semantic answer cache: consulted by ask/stream between rewrite and retrieval ----

    @property
    def answer_cache(self) -> Any:
        """The ``domainrag.cache.AnswerCache`` (GPTCache) of this pack and KB; None when ``[cache] enabled = false``.
        Assign any object with ``version()``, ``lookup(question, variant, kb_version)`` and ``store(question, answer,
        variant, kb_version)``, or None, to replace it; the answer chain reads this property on every call."""
        if not self._answer_cache_set:
            from domainrag.cache import AnswerCache, CacheSettings

            settings = CacheSettings.from_pack(self.pack)
            self._cache_embedding = settings.embedding
            self._answer_cache = AnswerCache(self.pack, kb=self.kb, kb_version=self._current_kb_version,
                                             embedder=self._question_embedder, uri=self.uri, token=self.token,
                                             embedding_model=settings.embedding or self.embedding_model_name,
                                             settings=settings) if settings.enabled else None
            self._answer_cache_set = True
        return self._answer_cache

    @answer_cache.setter
    def answer_cache(self, value: Any) -> None:
        self._answer_cache, self._answer_cache_set = value, True

    # ---- answering: generator, chain, ask / stream -------------------------
    def with_llm(self, endpoint: str | None = None, model: str | None = None, base_model: str | None = None,
                 generator: Any = None, answer_mode: str | None = None, **generation: Any) -> "DomainRAG":
        """Choose the generator: an OpenAI-compatible ``endpoint`` (+ ``model``), a local ``base_model`` (HF
        folder or .gguf; default the pack's), or a ready ``Generator``. ``answer_mode`` (``grounded`` or
        ``extractive``) overrides the pack's ``[answer] mode``; ``generation`` its ``[generation]`` settings (e.g.
        ``max_new_tokens=64``). Returns self."""
        self._llm_options = {"endpoint": endpoint, "model": model, "base_model": base_model, **generation}
        self._answer_mode = answer_mode
        self._generator_obj, self._answer_chain = generator, None
        return self

    @property
    def llm_options(self) -> dict[str, Any]:
        """The options given to ``with_llm`` (endpoint, model, base_model and generation settings); a copy."""
        return dict(self._llm_options)

    @property
    def answer_mode(self) -> str | None:
        """The answer mode chosen with ``with_llm`` (None: the pack's ``[answer] mode``)."""
        return self._answer_mode

    @property
    def generator(self) -> Any:
        """The LLM, built on first use (a local model's weights load on its first generation)."""
        with self._answer_lock:
            if self._generator_obj is None:
                from domainrag.llm import build_generator

                self._generator_obj = build_generator(self.pack, **self._llm_options)
            return self._generator_obj

    @property
    def similarity_floor(self) -> float:
        """The pack's ``[retrieval] similarity_floor`` when this knowledge base is embedded by the pack's own model
        (the floor is a similarity of that model); else 0: off. Once the embedder is loaded, the name it was loaded
        by answers without asking Milvus again (the embedder, and so the model, stays the same for this object)."""
        floor = self.pack.retrieval.similarity_floor
        if floor <= 0:
            return 0.0
        return floor if (self._embedder_model or self.embedding_model_name) == self.pack.embedding_model else 0.0

    def off_subject(self, question: str) -> bool:
        """True when the latest search of ``question`` found no chunk as near it as ``similarity_floor`` (so False
        with the floor off, or before a search that embedded the question)."""
        floor = self.similarity_floor
        nearest = self.retriever.nearest_similarity(question) if floor > 0 else None
        return nearest is not None and nearest < floor

    @property
    def answer_chain(self) -> Any:
        """The LCEL answer chain (``domainrag.chain.AnswerChain``); ``.runnable`` is the LangChain Runnable."""
        with self._answer_lock:
            if self._answer_chain is None:
                from domainrag.chain import AnswerChain

                self._answer_chain = AnswerChain(self.pack, self.search, generator=lambda: self.generator,
                                                 cache=lambda: self.answer_cache, mode=self._answer_mode,
                                                 off_subject=self.off_subject,
                                                 reranked=lambda: self.retriever.reranker is not None)
            return self._answer_chain

    def ask(self, question: str, history: list[Any] | None = None, use_cache: bool = True, k: int | None = None,
            adapter: str | None = None, max_new_tokens: int | None = None, cancel: Any = None) -> Any:
        """A grounded answer with citations (``domainrag.answer.Answer``). Thread-safe.

        ``history``: earlier turns as ``[{"role", "content"}]`` messages or ``(question, answer)`` pairs;
        a follow-up is rewritten into a standalone question. ``adapter="none"`` skips the pack's adapter.
        ``cancel``: a ``threading.Event``; once set, generation stops and the answer keeps what was written."""
        return self.stream(question, history, use_cache=use_cache, k=k, adapter=adapter,
                           max_new_tokens=max_new_tokens, cancel=cancel).answer

    def cached_answer(self, question: str, history: list[Any] | None = None, k: int | None = None,
                      adapter: str | None = None, max_new_tokens: int | None = None,
                      warm_up_milvus: bool = False) -> Any:
        """The cached ``Answer`` that ``ask`` would return, or None on a miss; it never searches or generates. In
        a fresh process with a Milvus Lite file it starts neither Milvus nor LangChain (see ``_current_kb_version``),
        which is how ``domainrag ask`` answers a repeated question quickly.

        ``warm_up_milvus``: when the question is not cached word for word, so that the lookup must load the
        embedding model to embed it (and most such lookups miss), start Milvus in the background first (as
        ``warm_up`` does), so that its start overlaps the lookup."""
        self._warm_milvus_to_embed = warm_up_milvus
        try:
            return self.answer_chain.cached(question, history, k=k, adapter=adapter, max_new_tokens=max_new_tokens)
        finally:
            self._warm_milvus_to_embed = False

    def _question_embedder(self) -> Any:
        """The answer cache's question embedder (the pack's ``[cache] embedding``, else ``embedder``), after starting
        Milvus if ``cached_answer`` asks."""
        if self._warm_milvus_to_embed:
            self._warm_milvus()
        if self._cache_embedding:
            return get_embedder(self._cache_embedding, self.pack.path)
        return self.embedder

    def stream(self, question: str, history: list[Any] | None = None, use_cache: bool = True, k: int | None = None,
               adapter: str | None = None, max_new_tokens: int | None = None, cancel: Any = None) -> Any:
        """Iterate for text deltas; then ``.answer`` holds the final ``Answer`` (``domainrag.answer.AnswerStream``)."""
        return self.answer_chain.stream(question, history, use_cache=use_cache, k=k, adapter=adapter,
                                        max_new_tokens=max_new_tokens, cancel=cancel)
