"""Case facts → 刑法 articles: recall of the governing article with and without citation following.

The case-style set is built from the corpus itself, never from an evaluation set: every sentence of a judicial
interpretation or case in ``law/laws`` of the form "<facts>的，依照刑法第N条的规定，以<charge>罪定罪处罚"
gives a question (the facts, with any article number in them removed) and its gold article (刑法 第N条; when the
sentence names only the charge, the first article the law pack's charge table, ``charges.json``, gives it).
The sentence's own document is removed from every result before anything else happens (the facts would
otherwise find themselves), so an item is answered from the *other* documents that describe such facts, and
from the statute. Rows, same KB, same run:

- ``search``: the pack's search (hybrid + reranker) without citation following;
- ``+ cited articles``: the same hits with the articles the top ``cited_depth`` non-statute hits cite by number
  merged in (domainrag/cited.py), below the top hit when the reranker is sure of it (``cited_keep_top``);
- ``+ cited articles and charges``: also the articles of the charges (罪名) they or the question name (the law
  pack's setting, ``charges.json``);
- ``lawbench 3-2`` before/after: the same two rows on LawBench 3-2 dev (no document removed), to show the
  step costs nothing there.

    python benchmarks/case_facts.py [--uri /tmp/bench-home/milvus.db] [--kb laws] [--json]
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, open_law_kb, p50_p95, print_result, quiet, shared_path  # noqa: E402
from retrieval import hit_matches, lawbench_items  # noqa: E402

CRIMINAL_LAW = "中华人民共和国刑法"
# "<facts>的，依照刑法第N条(第M款)的规定，以<charge>罪定罪处罚" (the article and 依照 are optional)
FACT_PATTERN = re.compile(r"([^。；\n]{8,200}?)的，(?:应当)?(?:依照|按照|根据)?(?:刑法)?(第[^，。]{1,40}?条)?"
                          r"(?:第[一二三四五六七八九十]+款)?(?:的规定)?，?以([^，。；]{2,40}?罪)定罪处罚")
ARTICLE_MENTION = re.compile(r"，?(?:符合|依照|按照)?(?:刑法)?第[^，。]{1,30}条(?:第[一二三四五六七八九十]+款)?(?:规定)?(?:的)?")


def case_items(laws: Path) -> list[tuple[str, object, str]]:
    """(facts, gold 刑法 article, source file) for every fact pattern outside the criminal law itself."""
    from domainrag.cited import ChargeTable
    from domainrag.lawref import ArticleRef, article_key

    charges = ChargeTable.load(REPO / "domains" / "law" / "charges.json").refs  # the law pack's charge table
    items = []
    for path in sorted(laws.rglob("*.md")):
        if path.parent.name == "刑法":
            continue
        for match in FACT_PATTERN.finditer(path.read_text(encoding="utf-8")):
            facts = re.sub(r"^\s*第[一二三四五六七八九十百零]+条\s*", "", match.group(1))
            facts = ARTICLE_MENTION.sub("", facts).strip("，")
            charge = charges.get(match.group(3))
            article = article_key(re.match(r"第[^条]+条", match.group(2)).group(0)) if match.group(2) \
                else charge[0].article if charge else None
            if article and len(facts) >= 8:
                items.append((facts, ArticleRef(CRIMINAL_LAW, article), str(path)))
    return items


def ranks(retriever, follower, items, exclude_own: bool, depth: int = 50) -> tuple[list[int | None], list[float]]:
    """The gold article's 1-based rank in the top 10 (None if absent) and the time citation following took."""
    found, spent = [], []
    following = copy.copy(retriever)  # the retriever's own citation step, with this follower
    following.follower = follower
    for question, gold, source in items:
        hits = retriever.search(question, k=depth)
        if exclude_own:
            hits = [hit for hit in hits if hit.source != source]
        if follower is not None:
            started = time.perf_counter()
            hits = following.follow_citations(hits, question)
            spent.append((time.perf_counter() - started) * 1000)
        found.append(next((rank for rank, hit in enumerate(hits[:10], start=1) if hit_matches(hit, gold)), None))
    return found, spent


def recall(found: list[int | None]) -> dict[str, float]:
    return {f"R@{k}": round(sum(1 for r in found if r and r <= k) / len(found), 3) for k in (1, 5, 10)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", default="/tmp/bench-home/milvus.db")
    parser.add_argument("--kb", default="laws")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet()
    laws, dev = shared_path("law", "laws"), shared_path("law", "lawbench", "3-2.dev.json")
    if laws is None or dev is None:
        return 0
    rag = open_law_kb(args.uri, args.kb)
    follower = rag.retriever.follower
    if follower is None:
        print("error: the law pack's [retrieval] cited_weight is 0", file=sys.stderr)
        return 1
    plain = copy.copy(rag.retriever)
    plain.follower = None
    items = case_items(laws.resolve())  # the KB records each source as its resolved path
    dev_items = [(q, gold, "") for q, gold in lawbench_items(rag, args.kb, dev)]
    result: dict[str, object] = {"case-style items": len(items), "lawbench 3-2 items": len(dev_items)}
    numbers_only = copy.copy(follower)
    numbers_only.charges = None
    spent: list[float] = []
    for name, questions, exclude_own in (("case facts", items, True), ("lawbench 3-2", dev_items, False)):
        for row, step in (("search", None), ("+ cited articles", numbers_only), ("+ cited articles and charges", follower)):
            found, took = ranks(plain, step, questions, exclude_own)
            result[f"{name}: {row}"] = recall(found)
            spent += took if step is follower else []
    p50, p95 = p50_p95(spent)
    result["citation following ms p50/p95"] = [round(p50, 1), round(p95, 1)]
    print_result(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
