"""Semantic answer cache on GPTCache: paraphrases answered at once, never a stale or wrong hit.

``AnswerCache`` (one pack and knowledge base) is what ``DomainRAG.ask/stream`` consult; ``SemanticCache`` is one namespace;
``QuestionGuard`` decides whether two questions ask the same thing.
"""

from domainrag.cache.guard import QuestionGuard

__all__ = ["AnswerCache", "CacheHit", "CacheSettings", "Namespace", "QuestionGuard", "SemanticCache"]


def __getattr__(name: str):  # GPTCache and faiss load only when a cache is actually used
    if name == "AnswerCache":
        from domainrag.cache.answers import AnswerCache

        return AnswerCache
    if name in ("CacheHit", "CacheSettings", "SemanticCache"):
        from domainrag.cache import semantic

        return getattr(semantic, name)
    if name == "Namespace":
        from domainrag.cache.namespaces import Namespace

        return Namespace
    raise AttributeError(name)
