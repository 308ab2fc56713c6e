"""Citation following: the statute articles that the top search hits cite join the results.

Case facts rarely share words with the article that governs them ("趁其不备拿走手机" vs "盗窃公私财物"), but they do
share them with the judicial interpretations and cases that describe such facts, and those name the article:
"…窃为己有，数额较大的，依照刑法第二百六十四条的规定，以盗窃罪定罪处罚". Each article cited by one of the top
``depth`` hits (other than the statutes themselves, see ``skip_titles``) is fetched from the knowledge base and
merged into the ranking by reciprocal-rank fusion, as one more ranking of weight ``weight`` ordered by where its
first citing hit stands.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace

from domainrag.hit import Hit
from domainrag.lawref import ArticleRef, parse_article_refs
from domainrag.numerals import article_labels

_SELF_REFERENCE = re.compile(r"^[本该此]")  # 本解释第二条: the citing document itself
MAX_REFERENCES = 20  # articles followed per search (one store query)


@dataclass
class CitationFollower:
    """Adds the articles cited by a search's top hits (see the module docstring). ``store`` is the search backend
    (``domainrag.retrieve.SearchBackend``); hits whose title matches ``skip_titles`` cite nothing to follow."""

    store: object
    kb: str
    weight: float = 1.0
    depth: int = 10
    rrf_k: int = 60
    skip_titles: re.Pattern[str] | None = None

    def references(self, hits: list[Hit]) -> list[tuple[ArticleRef, Hit]]:
        """(cited article, the first hit citing it), in the order of the citing hits."""
        found: dict[ArticleRef, Hit] = {}
        for hit in hits[:self.depth]:
            if self.skip_titles is not None and self.skip_titles.search(hit.title):
                continue
            for ref in parse_article_refs(hit.text):
                if not _SELF_REFERENCE.match(ref.law) and ref not in found:
                    found[ref] = hit
        return list(found.items())[:MAX_REFERENCES]

    def fetch(self, refs: list[ArticleRef]) -> dict[ArticleRef, list[Hit]]:
        """The chunks of each cited article in the knowledge base (none for an article it does not hold)."""
        if not refs:
            return {}
        clauses = [f'(title in {json.dumps(_titles(ref), ensure_ascii=False)} and '
                   f'metadata["article"] in {json.dumps(article_labels(*_number(ref)), ensure_ascii=False)})'
                   for ref in refs]
        wanted = {(title, label): ref for ref in refs for title in _titles(ref) for label in article_labels(*_number(ref))}
        found: dict[ArticleRef, list[Hit]] = {}
        for hit in self.store.filter_hits(self.kb, " or ".join(clauses), limit=16 * len(refs)):
            ref = wanted.get((hit.title, hit.metadata.get("article", "")))
            if ref is not None:
                found.setdefault(ref, []).append(hit)
        return found

    def expand(self, hits: list[Hit]) -> list[Hit]:
        """``hits`` with the articles their top ``depth`` cite merged in. A cited chunk names its first citing hit's
        title in ``metadata["cited_by"]``; one that was not among ``hits`` takes that hit's score."""
        cited = self.references(hits)
        if not cited:
            return hits
        chunks = self.fetch([ref for ref, _ in cited])
        scores = {hit.chunk_id: 1 / (self.rrf_k + rank) for rank, hit in enumerate(hits, start=1)}
        merged = {hit.chunk_id: hit for hit in hits}
        for rank, (ref, citing) in enumerate((item for item in cited if item[0] in chunks), start=1):
            for chunk in chunks[ref]:
                scores[chunk.chunk_id] = scores.get(chunk.chunk_id, 0.0) + self.weight / (self.rrf_k + rank)
                known = merged.get(chunk.chunk_id)
                if known is None or "cited_by" not in known.metadata:
                    merged[chunk.chunk_id] = replace(known or replace(chunk, score=citing.score),
                                                     metadata={**chunk.metadata, "cited_by": citing.title})
        order = sorted(merged, key=lambda chunk_id: -scores[chunk_id])  # stable: ties keep the search's order
        return [merged[chunk_id] for chunk_id in order]


def _titles(ref: ArticleRef) -> list[str]:
    """The document titles a cited law may have in a KB: 刑法 is 中华人民共和国刑法."""
    return [ref.law, "中华人民共和国" + ref.law]


def _number(ref: ArticleRef) -> tuple[int, int | None]:
    number, _, suffix = ref.article.partition("-")
    return int(number), int(suffix) if suffix else None
