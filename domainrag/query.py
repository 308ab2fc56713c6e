"""Query analysis: the text BM25 searches with, and the distinctive words of a question.

BM25 gets the whole question minus its framing label ("场景：", "问题："): with Milvus' collection-wide BM25
statistics, common words already weigh little, and on LawBench 3-2 the full question beat its TF-IDF keywords
on both halves of the dev set (README "Query analysis"). The keywords (jieba TF-IDF
minus domain boilerplate) serve the relevance floor and follow-up rewriting, which need the few words that say
what a question is about.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache

# Words that appear in nearly every question of a domain and say nothing about which document answers it.
BOILERPLATE_ZH = frozenset(
    "场景 问题 根据 依据 按照 相关 哪条 哪些 哪个 哪种 什么 怎么 怎样 如何 是否 可以 应当 应该 需要 能否 能够 规定 "
    "法律 法律规定 法规 条款 法条 规定 情况 情形 这种 此时 该 某 某个 某些 一个 一些 一名 其 他 她 他们 我们 你 我 "
    "有关 关于 请问 请 进行 采取 措施 要求 具体 给出 涉及 下列 以下 以上 情况下 时候 之后 之前 为了 因此 所以 但是 如果 "
    "公民 有权 权利 义务 先生 女士".split()
)
# Stand-in names of scenario questions (小明, 和小红, 张某, 李先生, 张三): they say who is involved, never which law or
# topic applies. A word of this shape counts as a name when jieba tags it as one (its tag alone is too loose: it marks
# 慈善, 许可, 养老) or when it is 小/老 + a common surname, which jieba's dictionary holds as a noun (小张, 老王).
_PLACEHOLDER_NAME = re.compile(r"^[和与但]?(?:[小老阿][\u4e00-\u9fff]|[\u4e00-\u9fff]某某?|[\u4e00-\u9fff](?:先生|女士)|张三|李四|王五)$")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
_SURNAME_NICKNAME = re.compile(rf"^[和与但]?[小老][{_SURNAMES}]$")
_jieba_ready = threading.Lock()
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


def pos_cut(text: str) -> list[tuple[str, str]]:
    """jieba POS segmentation, (word, flag) pairs (the dictionary loads once, quietly)."""
    import jieba
    import jieba.posseg as pseg

    with _jieba_ready:
        if not jieba.dt.initialized:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
    return [(pair.word, pair.flag) for pair in pseg.lcut(text)]


def placeholder_names(text: str, words: list[str]) -> set[str]:
    """Those of ``words`` that are stand-in person names in ``text`` (see ``_PLACEHOLDER_NAME``)."""
    candidates = {word for word in words if _PLACEHOLDER_NAME.match(word)}
    if not candidates:
        return set()
    tagged = {word for word, flag in pos_cut(text) if word in candidates and flag.startswith("nr")}
    return tagged | {word for word in candidates if _SURNAME_NICKNAME.match(word)}


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a CJK ideograph (the basic block)."""
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def keywords(question: str, limit: int = 16) -> list[str]:
    """Distinctive words of a question, most distinctive first (Chinese via jieba TF-IDF, else plain tokens)."""
    return list(_keywords(question, limit))


@lru_cache(maxsize=1024)  # one question's words serve the reranker, the relevance floor and rewriting
def _keywords(question: str, limit: int) -> tuple[str, ...]:
    text = _PREFIX.sub("", question.strip())
    if not text:
        return ()
    words: list[str] = []
    if has_cjk(text):
        extractor = tfidf()
        words = [w for w in extractor.extract_tags(text, topK=limit * 2) if w not in BOILERPLATE_ZH and len(w) > 1]
        names = placeholder_names(text, words)
        words = [w for w in words if w not in names]
    words += [t.lower() for t in _LATIN_TOKEN.findall(text) if t.lower() not in ENGLISH_STOP]
    return tuple(dict.fromkeys(words))[:limit]


def bm25_query(question: str) -> str:
    """The text sent to Milvus' BM25 function: the question without a framing label such as "场景："."""
    text = question.strip()
    return _PREFIX.sub("", text).strip() or text
