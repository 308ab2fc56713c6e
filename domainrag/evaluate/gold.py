"""Retrieval gold: which gold items (chunk ids, law articles, text spans, document ids) a hit satisfies."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from domainrag.lawref import ARTICLE, ArticleRef, article_key, title_matches_law

_SPACE = re.compile(r"\s+")
_LEADING_ARTICLE = re.compile(rf"^\s*({ARTICLE.pattern})")


def squeeze(text: str) -> str:
    """Text without whitespace, lower-cased: spans match across line breaks and spacing differences."""
    return _SPACE.sub("", text).lower()


def hit_article(hit: Any) -> str | None:
    """The canonical article key of a hit or citation: ``metadata["article"]``, else a leading "第N条"."""
    label = (getattr(hit, "metadata", None) or {}).get("article")
    if not label:
        match = _LEADING_ARTICLE.match(getattr(hit, "text", "") or "")
        label = match.group(1) if match else None
    return article_key(label) if label else None


@dataclass
class Gold:
    """What counts as relevant for one question. Each entry is one gold item, credited at most once."""

    chunk_ids: list[str] = field(default_factory=list)
    articles: list[ArticleRef] = field(default_factory=list)
    spans: list[str] = field(default_factory=list)
    doc_ids: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.chunk_ids or self.articles or self.spans or self.doc_ids)

    def keys(self) -> list[str]:
        """Stable names of the gold items (``chunk:…``, ``article:公司法:10``, ``span:0``, ``doc:…``)."""
        return ([f"chunk:{c}" for c in self.chunk_ids] + [f"article:{a.law}:{a.article}" for a in self.articles]
                + [f"span:{i}" for i in range(len(self.spans))] + [f"doc:{d}" for d in self.doc_ids])

    def matches(self, hit: Any) -> list[str]:
        """The gold keys that ``hit`` (a Hit or a Citation: chunk_id, title, text, metadata) satisfies."""
        found: list[str] = []
        chunk_id = str(getattr(hit, "chunk_id", "") or "")
        found += [f"chunk:{c}" for c in self.chunk_ids if c == chunk_id]
        if self.articles:
            title = getattr(hit, "title", "") or ""
            key = hit_article(hit)
            found += [f"article:{a.law}:{a.article}" for a in self.articles
                      if key == a.article and title_matches_law(title, a.law)]
        if self.spans:
            text = squeeze(getattr(hit, "text", "") or "")
            found += [f"span:{i}" for i, span in enumerate(self.spans) if squeeze(span) in text]
        if self.doc_ids:
            metadata = getattr(hit, "metadata", None) or {}
            ids = {chunk_id, str(metadata.get("doc_id", "")), str(metadata.get("id", ""))}
            found += [f"doc:{d}" for d in self.doc_ids if d in ids]
        return found

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.chunk_ids:
            data["gold_chunk_ids"] = self.chunk_ids
        if self.articles:
            data["gold_articles"] = [a.to_dict() for a in self.articles]
        if self.spans:
            data["gold_spans"] = self.spans
        if self.doc_ids:
            data["gold_doc_ids"] = self.doc_ids
        return data
