"""The answer cache of one pack and knowledge base: what the answer chain calls between rewriting and retrieval."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from domainrag.cache.namespaces import Namespace, open_semantic_cache
from domainrag.cache.semantic import CacheSettings, MilvusTarget, SemanticCache
from domainrag.config import is_server_uri
from domainrag.errors import DomainRAGError

log = logging.getLogger("domainrag")


def pack_fingerprint(pack: Any) -> str:
    """A hash of the pack settings that shape answers (prompts, retrieval, generation, ...; not [cache])."""
    raw = {key: value for key, value in pack.raw.items() if key != "cache"}
    settings = json.dumps({"raw": raw, "retrieval": asdict(pack.retrieval), "disclaimer": pack.disclaimer},
                          sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha1(settings.encode()).hexdigest()[:12]


class AnswerCache:
    """Looks answers up by standalone question in the namespace of a KB version.

    The answer chain reads the version once, before retrieval (``version()``), and passes it to ``lookup``
    and ``store``: an answer is kept under the version it was generated from, so an ingest that finishes
    meanwhile (in this process or, on a Milvus server, in another one) cannot file an old answer under the
    new version. Without ``kb_version`` the version is read at the call.

    Its parts: the ``pack`` (its name and the settings that shape answers key the namespace; its ``[cache]``
    table is the default ``settings``), the knowledge base's name ``kb`` and ``kb_version``, a callable giving
    the KB's version now (None while it does not exist), the ``embedder`` that embeds questions (``dim`` and
    ``encode``; or a zero-argument callable returning it, so the model loads at the first lookup), the Milvus
    ``uri`` and ``token`` of the KB (a Milvus server also holds the cache's vectors) and the name of the KB's
    ``embedding_model``.
    """

    def __init__(self, pack: Any, *, kb: str, kb_version: Callable[[], str | None], embedder: Any, uri: str,
                 token: str | None = None, embedding_model: str = "default",
                 settings: CacheSettings | None = None) -> None:
        self.pack = pack
        self.kb = kb
        self._kb_version = kb_version
        self._embedder = embedder if callable(embedder) else (lambda: embedder)
        self.uri = uri
        self.token = token
        self.embedding_model = embedding_model
        self.settings = settings or CacheSettings.from_pack(pack)
        self._pack_key = pack_fingerprint(pack)

    @property
    def embedder(self) -> Any:
        """The question embedder (loaded on first use when given as a callable)."""
        return self._embedder()

    def version(self) -> str | None:
        """The KB's version now (None when the KB does not exist yet)."""
        return self._kb_version()

    def namespace(self, variant: str = "", kb_version: str | None = None) -> Namespace | None:
        """The namespace for the KB at ``kb_version`` (default: now; None when the KB does not exist yet)."""
        kb_version = kb_version or self.version()
        if kb_version is None:
            return None
        return Namespace(pack=self.pack.name, kb=self.kb, kb_version=kb_version,
                         store_uri=self.uri, embedding=self.embedding_model,
                         variant=f"{variant}|pack={self._pack_key}")

    def cache(self, variant: str = "", kb_version: str | None = None) -> SemanticCache | None:
        """The ``SemanticCache`` for ``variant`` (generator, adapter, k, ...) at ``kb_version`` (default: now)."""
        namespace = self.namespace(variant, kb_version)
        if namespace is None:
            return None
        return open_semantic_cache(namespace, self._embedder, self.settings, self._milvus(namespace))

    def _milvus(self, namespace: Namespace) -> MilvusTarget | None:
        vector = self.settings.vector
        if vector == "faiss" or (vector == "auto" and not is_server_uri(self.uri)):
            return None
        return MilvusTarget(uri=self.uri, token=self.token, collection=namespace.collection())

    # ---- the interface the answer chain uses ---------------------------------------------
    def lookup(self, question: str, variant: str = "", kb_version: str | None = None
               ) -> tuple[dict[str, Any], float] | None:
        """``(Answer.to_dict() + sources, similarity)`` of a cached answer to the same question, else None."""
        if not self.settings.enabled:
            return None
        try:
            cache = self.cache(variant, kb_version)
            hit = cache.lookup(question) if cache is not None else None
        except DomainRAGError:
            raise
        except Exception as exc:  # a damaged cache must cost a miss, not the answer
            log.warning("warning: answer cache lookup failed (%s: %s); answering without it", type(exc).__name__, exc)
            return None
        return (hit.answer, hit.similarity) if hit is not None else None

    def store(self, question: str, answer: Any, variant: str = "", kb_version: str | None = None) -> bool:
        """Keep a generated answer under ``kb_version``, the version read before it was generated (refusals,
        empty answers and answers from a version that is no longer current are not kept)."""
        if not self.settings.enabled or getattr(answer, "no_context", False) or not str(answer.answer).strip():
            return False
        data = answer.to_dict()
        data.update(cache_hit=False, similarity=None, sources=[s.to_dict() for s in getattr(answer, "sources", [])])
        try:
            if kb_version is not None and kb_version != self.version():
                return False  # never served again; opening its namespace would drop the current version's
            cache = self.cache(variant, kb_version)
            return cache.store(question, data) if cache is not None else False
        except DomainRAGError:
            raise
        except Exception as exc:
            log.warning("warning: answer cache store failed (%s: %s)", type(exc).__name__, exc)
            return False
