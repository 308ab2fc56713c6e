"""Citation following: the statute articles that the top search hits cite join the results.

Case facts rarely share words with the article that governs them ("趁其不备拿走手机" vs "盗窃公私财物"), but they do
share them with the judicial interpretations and cases that describe such facts, and those name the article:
"…窃为己有，数额较大的，依照刑法第二百六十四条的规定，以盗窃罪定罪处罚". Each article cited by one of the top
``depth`` hits (other than the statutes themselves, see ``skip_titles``) is fetched from the knowledge base and
merged into the ranking by reciprocal-rank fusion, as one more ranking of weight ``weight``, most cited first (each
citing hit votes by its rank). A ``ChargeTable`` adds the articles of the charges (罪名) that the hits or the question
name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from domainrag.errors import ConfigError
from domainrag.hit import Hit
from domainrag.lawref import ArticleRef, parse_article_refs
from domainrag.numerals import article_labels

_SELF_REFERENCE = re.compile(r"^[本该此]")  # 本解释第二条: the citing document itself
MAX_REFERENCES = 20  # articles followed per search (one store query)


class ChargeTable:
    """Named offences → the articles of one law that define them (the law pack's ``charges.json``, built by
    domains/law/build_charges.py): "以盗窃罪定罪处罚" cites 刑法 第二百六十四条 as surely as the number would."""

    def __init__(self, law: str, charges: dict[str, list[str]]) -> None:
        self.refs = {name: [ArticleRef(law, key) for key in keys] for name, keys in charges.items() if keys}
        names = sorted(self.refs, key=len, reverse=True)  # 合同诈骗罪 before 诈骗罪
        self._pattern = re.compile("|".join(map(re.escape, names))) if names else None

    @classmethod
    def load(cls, path: Path) -> "ChargeTable":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(str(data["law"]), {str(k): [str(a) for a in v] for k, v in data["charges"].items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{path}: not a charge table ({exc}); rebuild it with domains/law/build_charges.py") \
                from None

    def references(self, text: str) -> list[ArticleRef]:
        """The articles of every charge named in ``text``, in order, without repeats."""
        found: list[ArticleRef] = []
        for match in self._pattern.finditer(text) if self._pattern else ():
            found += [ref for ref in self.refs[match.group(0)] if ref not in found]
        return found


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
    charges: ChargeTable | None = None

    def references(self, hits: list[Hit], query: str = "") -> list[tuple[ArticleRef, Hit | None]]:
        """(cited article, the best-placed hit citing it; None for a charge the question names), most cited first:
        each citing hit votes 1/(rrf_k + its rank), the question as much as the top hit."""
        votes: dict[ArticleRef, float] = {}
        first: dict[ArticleRef, Hit | None] = {}
        for ref in self.charges.references(query) if self.charges else ():
            votes[ref] = 1 / (self.rrf_k + 1)
            first[ref] = None
        for rank, hit in enumerate(hits[:self.depth], start=1):
            if self.skip_titles is not None and self.skip_titles.search(hit.title):
                continue
            refs = parse_article_refs(hit.text) + (self.charges.references(hit.text) if self.charges else [])
            for ref in dict.fromkeys(refs):
                if not _SELF_REFERENCE.match(ref.law) and 0 < _number(ref)[0] < 10_000:  # statutes' numbering
                    votes[ref] = votes.get(ref, 0.0) + 1 / (self.rrf_k + rank)
                    first.setdefault(ref, hit)
        ranked = sorted(votes, key=lambda ref: -votes[ref])[:MAX_REFERENCES]  # stable: ties keep first-cited order
        return [(ref, first[ref]) for ref in ranked]

    def fetch(self, refs: list[ArticleRef]) -> dict[ArticleRef, list[Hit]]:
        """The chunks of each cited article in the knowledge base (none for an article it does not hold)."""
        if not refs:
            return {}
        spellings = {ref: (_titles(ref), article_labels(*_number(ref))) for ref in refs}
        clauses = [f'(title in {json.dumps(titles, ensure_ascii=False)} and '
                   f'metadata["article"] in {json.dumps(labels, ensure_ascii=False)})'
                   for titles, labels in spellings.values()]
        wanted = {(title, label): ref for ref, (titles, labels) in spellings.items() for title in titles
                  for label in labels}
        found: dict[ArticleRef, list[Hit]] = {}
        for hit in self.store.filter_hits(self.kb, " or ".join(clauses), limit=16 * len(refs)):
            ref = wanted.get((hit.title, hit.metadata.get("article", "")))
            if ref is not None:
                found.setdefault(ref, []).append(hit)
        return found

    def expand(self, hits: list[Hit], query: str = "", keep_first: bool = False) -> list[Hit]:
        """``hits`` with the articles their top ``depth`` cite (and the charges ``query`` names) merged in. A cited
        chunk names its first citing hit's title in ``metadata["cited_by"]`` ("question" when the question named
        the charge); one that was not among ``hits`` takes that hit's score (the top hit's for the question). With
        ``keep_first`` the first hit stays first (the search is sure of it) and the cited articles rank below it."""
        cited = self.references(hits, query)
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
                    score = citing.score if citing else (hits[0].score if hits else 0.0)
                    merged[chunk.chunk_id] = replace(known or replace(chunk, score=score), metadata={
                        **chunk.metadata, "cited_by": citing.title if citing else "question"})
        order = sorted(merged, key=lambda chunk_id: -scores[chunk_id])  # stable: ties keep the search's order
        if keep_first and hits:
            order = [hits[0].chunk_id, *(chunk_id for chunk_id in order if chunk_id != hits[0].chunk_id)]
        return [merged[chunk_id] for chunk_id in order]


def _titles(ref: ArticleRef) -> list[str]:
    """The document titles a cited law may have in a KB: 刑法 is 中华人民共和国刑法."""
    return [ref.law, "中华人民共和国" + ref.law]


def _number(ref: ArticleRef) -> tuple[int, int | None]:
    number, _, suffix = ref.article.partition("-")
    return int(number), int(suffix) if suffix else None
