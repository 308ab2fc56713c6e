"""Would lexical alignment features help the law reranker? A probe, not a product path.

LawBench 3-2 questions end with the legal proposition they ask about (根据哪条法律，三个以上的农民专业合作社可以出资
设立农民专业合作社联合社？), often in the article's own words. BM25 (words and character n-grams) counts shared terms;
these features look at how the question and a candidate line up instead:

  lcsub_question  log(1 + the longest common substring of the question and the candidate's text)
  lcsub_clause    the same for the question's last clause (its framing 根据…， removed)
  cover_clause    the share of that clause's character bigrams the candidate holds
  cover_question  the same for the whole question
  lcs_clause      the longest common subsequence of the clause and the candidate's first 600 characters ÷ the clause

each with its reciprocal rank among the candidates and its gap to the best one. Prints, on the same top ``depth``
fused candidates of the 250 dev questions: each feature's R@1 alone, and the reranker's 5-fold cross-validated
R@1/5 with each feature and with all of them, next to the shipped features alone.

Needs the whole law/laws corpus in a KB built with the law pack (benchmarks/retrieval.py builds one):

    python benchmarks/lexical_probe.py [--uri /tmp/bench-home/milvus.db] [--kb laws] [--depth 30] [--json]
"""

from __future__ import annotations

import argparse
import re
import sys
from difflib import SequenceMatcher
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_result  # noqa: E402
from semantic_probe import dev_candidates, e5_features  # noqa: E402
from train_law_reranker import cross_validate, recall_at  # noqa: E402

_LABEL = re.compile(r"^\s*第[零一二三四五六七八九十百千\d]+条(?:之[一二三四五六七八九十]+)?\s*")
_PUNCTUATION = re.compile(r"[\s，。；：、,.;:！？?!“”\"（）()《》]")
_FRAMING = re.compile(r"^\s*(场景|问题)\s*[:：]")
_ASKS_BY = re.compile(r"^[^，,]*?(根据|依据|按照)[^，,]*[，,]")
NAMES = ("lcsub_question", "lcsub_clause", "cover_clause", "cover_question", "lcs_clause")


def bare(text: str) -> str:
    return _PUNCTUATION.sub("", text)


def last_clause(question: str) -> str:
    """The question's last sentence without its framing (根据哪条法律，…): the proposition it asks about."""
    sentences = [s for s in re.split(r"[。！？?]", _FRAMING.sub("", question)) if s.strip()]
    return _ASKS_BY.sub("", sentences[-1] if sentences else question)


def bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


def longest_common_substring(a: str, b: str) -> int:
    return SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b)).size


def longest_common_subsequence(a: str, b: str) -> int:
    previous = [0] * (len(b) + 1)
    for ca in a:
        current = [0]
        for j, cb in enumerate(b):
            current.append(previous[j] + 1 if ca == cb else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def alignment(question: str, texts: list[str]) -> dict:
    """Feature name → one value per candidate text."""
    import numpy as np

    whole, clause = bare(_FRAMING.sub("", question)), bare(last_clause(question))
    whole_grams, clause_grams = bigrams(whole), bigrams(clause)
    values: dict[str, list[float]] = {name: [] for name in NAMES}
    for text in texts:
        body = bare(_LABEL.sub("", text))
        grams = bigrams(body)
        values["lcsub_question"].append(np.log1p(longest_common_substring(whole, body)))
        values["lcsub_clause"].append(np.log1p(longest_common_substring(clause, body)))
        values["cover_clause"].append(len(clause_grams & grams) / max(len(clause_grams), 1))
        values["cover_question"].append(len(whole_grams & grams) / max(len(whole_grams), 1))
        values["lcs_clause"].append(longest_common_subsequence(clause, body[:600]) / max(len(clause), 1))
    return {name: np.array(column) for name, column in values.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", default="/tmp/bench-home/milvus.db")
    parser.add_argument("--kb", default="laws")
    parser.add_argument("--depth", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = dev_candidates(args.uri, args.kb, args.depth)
    if isinstance(rows, int):
        return rows
    import numpy as np

    data, aligned = [], []
    for question, head, x, y in rows:
        data.append((x, y))
        aligned.append(alignment(question, [hit.text for hit in head]))

    def with_features(names: tuple[str, ...]) -> list:
        return [(np.column_stack([x, *(e5_features(features[name]) for name in names)]), y)
                for (x, y), features in zip(data, aligned)]

    result: dict = {"questions": len(data), "shipped features, CV": cross_validate(data)}
    for name in NAMES:
        result[f"{name} alone: R@1"] = recall_at(data, [features[name] for features in aligned], 1)
        result[f"+ {name}, CV"] = cross_validate(with_features((name,)))
    result["+ all five, CV"] = cross_validate(with_features(NAMES))
    print_result(result, args.json, width=40)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
