"""The relevance floor for retrieved passages.

Hybrid retrieval ranks by reciprocal-rank fusion, whose score (Σ 1/(rrf_k + rank)) says where a chunk ranks,
not whether it is about the question: the top hit of an off-topic question scores as high as the top hit of
a good one. So each passage gets an absolute score instead:

    relevance = Σ idf(w) · credit(w, passage) / Σ idf(w)    over the question's keywords w

the IDF-weighted share of the question's distinctive words (`domainrag.query.keywords`) that the
passage contains. credit is 1 for a word found as it is; a Chinese word found only in part (盗窃罪 → 盗窃)
gets the share of its characters found as one run of at least two; an English word found only by a
prefix of at least four letters (penalties → penalt) likewise. 0 means no keyword in common, 1 means all.
Passages below the pack's ``[retrieval] score_threshold`` are not given to the model; when none is left the
answer says nothing relevant was found. The law reranker uses the same share with whole words only
(``exact=True``) as one of its features: there partial credit ranks worse (benchmarks/train_law_reranker.py).

Keywords judge passages one by one; whether the question is about the knowledge base's subject at all, the dense
model judges better (``DomainRAG.off_subject``): an off-topic question ("红烧肉的做法是什么？") shares a word or two
with some statute, but no chunk comes near it in meaning. When the nearest chunk's similarity stays under the
pack's ``[retrieval] similarity_floor``, nothing is given to the model either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from domainrag.query import has_cjk, keywords, tfidf

if TYPE_CHECKING:
    from domainrag.hit import Hit

_CJK_MIN, _LATIN_MIN = 2, 4


def _idf() -> tuple[dict[str, float], float]:
    extractor = tfidf()
    return extractor.idf_freq, extractor.median_idf


def whole_word_credit(word: str, text: str) -> float:
    """1.0 when ``word`` occurs in ``text`` as it is, else 0.0 (no partial credit)."""
    return float(word in text)


def credit(word: str, text: str) -> float:
    """How much of ``word`` occurs in ``text`` (1.0 = all of it), see the module docstring."""
    if word in text:
        return 1.0
    if has_cjk(word):
        for size in range(len(word) - 1, _CJK_MIN - 1, -1):
            if any(word[i:i + size] in text for i in range(len(word) - size + 1)):
                return size / len(word)
        return 0.0
    for size in range(len(word) - 1, _LATIN_MIN - 1, -1):
        if word[:size] in text:
            return size / len(word)
    return 0.0


class RelevanceScorer:
    """Scores passages against one question; ``exact`` credits whole words only (no partial matches)."""

    def __init__(self, question: str, exact: bool = False) -> None:
        idf, median = _idf()
        self.words = keywords(question)
        self.weights = [idf.get(w, median) for w in self.words]
        self.credit = whole_word_credit if exact else credit

    def score(self, text: str) -> float:
        """In [0, 1]; 1.0 when the question has no keywords to judge by."""
        total = sum(self.weights)
        if not self.words or total <= 0:
            return 1.0
        haystack = text.lower()
        return sum(w * self.credit(word.lower(), haystack) for word, w in zip(self.words, self.weights)) / total


def above_floor(question: str, hits: list["Hit"], floor: float) -> list["Hit"]:
    """The ``hits`` whose title, section and text score at least ``floor`` for ``question``: what the answer chain
    gives the model (every hit when ``floor`` is 0)."""
    scorer = RelevanceScorer(question)
    return [hit for hit in hits if scorer.score(f"{hit.title} {hit.section} {hit.text}") >= floor]
