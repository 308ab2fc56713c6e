"""Character n-grams: the text of the second BM25 field of Chinese knowledge bases.

Word segmentation (jieba) only matches whole words as it cut them: 独资企业 is indexed as 独资 / 企业 / 独资企业,
so a question that words things differently (or segments differently) shares no token with it. Character
unigrams and bigrams match such partial overlaps, and Milvus' built-in BM25 over them (a ``whitespace`` analyzer
on text written by this module) keeps collection-wide statistics. On LawBench 3-2 it is the stronger of the two
BM25 rankings and hybrid search fuses both (README "Ingest and search" and its benchmark table).
"""

from __future__ import annotations

import re

# Runs of CJK ideographs (basic, extension A, compatibility) or of Latin letters and digits; the rest is dropped.
_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[A-Za-z0-9]+")
MAX_BYTES = 65535  # Milvus' VARCHAR limit


def char_grams(text: str, max_bytes: int = MAX_BYTES) -> str:
    """Whitespace-separated unigrams and bigrams of each CJK run, plus lower-cased Latin/digit words."""
    terms: list[str] = []
    for run in _RUNS.findall(text):
        if run.isascii():
            terms.append(run.lower())
            continue
        terms.extend(run)
        terms.extend(run[i:i + 2] for i in range(len(run) - 1))
    joined = " ".join(terms)
    if len(joined.encode("utf-8")) <= max_bytes:
        return joined
    cut = joined.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")
    return cut.rsplit(" ", 1)[0]


# Words that ask rather than say what about: in nearly every question, rarely in the text searched, so their n-grams
# (什/么/什么, 是什…) outweigh a rare term the question is about (ETF是什么？ found passages holding 是什么).
_QUESTION_WORDS = re.compile("为什么|什么|怎么|怎样|如何|多少|哪些|哪个|哪里|是否|吗|呢")


def query_grams(text: str) -> str:
    """The n-grams of a query without its question words, each once: a term repeated in a long question should not
    weigh more (on LawBench 3-2 the set beat the repeated list; README "Ingest and search")."""
    return " ".join(dict.fromkeys(char_grams(_QUESTION_WORDS.sub(" ", text)).split(" ")))
