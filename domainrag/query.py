"""Query analysis: the text BM25 searches with, and the distinctive words of a question.

BM25 gets the whole question minus its framing label ("场景：", "问题："): with Milvus' collection-wide BM25
statistics, common words already weigh little, and on LawBench 3-2 the full question beat its TF-IDF keywords
on both halves of the dev set (README "Query analysis"). The keywords (jieba TF-IDF
minus domain boilerplate) serve the relevance floor and follow-up rewriting, which need the few words that say
what a question is about.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Words that appear in nearly every question of a domain and say nothing about which document answers it.
BOILERPLATE_ZH = frozenset(
    "场景 问题 根据 依据 按照 相关 哪条 哪些 哪个 哪种 什么 怎么 怎样 如何 是否 可以 应当 应该 需要 能否 能够 规定 "
    "法律 法律规定 法规 条款 法条 规定 情况 情形 这种 此时 该 某 某个 某些 一个 一些 一名 其 他 她 他们 我们 你 我 "
    "有关 关于 请问 请 进行 采取 措施 要求 具体 给出 涉及 下列 以下 以上 情况下 时候 之后 之前 为了 因此 所以 但是 如果 "
    "公民 有权 权利 义务".split()
)
_LATIN_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9\-']+|\d+(?:\.\d+)?")
_PREFIX = re.compile(r"^\s*(场景|问题|案例|背景)\s*[:：]\s*")
ENGLISH_STOP = frozenset("what which who whom how when where why is are was were do does did the a an of to in on for and or "
                         "with by as at from that this it be can could should would may might must i you we they".split())


@lru_cache(maxsize=1)
def tfidf():
    """jieba's default TF-IDF keyword extractor and its IDF table, which ``jieba.analyse`` reads on import; the
    relevance floor reads the same table (a second ``TFIDF()`` would read the file again)."""
    import jieba.analyse

    return jieba.analyse.default_tfidf


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def keywords(question: str, limit: int = 16) -> list[str]:
    """Distinctive words of a question, most distinctive first (Chinese via jieba TF-IDF, else plain tokens)."""
    text = _PREFIX.sub("", question.strip())
    if not text:
        return []
    words: list[str] = []
    if _has_cjk(text):
        extractor = tfidf()
        words = [w for w in extractor.extract_tags(text, topK=limit * 2) if w not in BOILERPLATE_ZH and len(w) > 1]
    words += [t.lower() for t in _LATIN_TOKEN.findall(text) if t.lower() not in ENGLISH_STOP]
    return list(dict.fromkeys(words))[:limit]


def bm25_query(question: str) -> str:
    """The text sent to Milvus' BM25 function: the question without a framing label such as "场景："."""
    text = question.strip()
    return _PREFIX.sub("", text).strip() or text
