"""Retrieval quality and latency on LawBench 3-2 (dev) against the whole law/laws corpus.

For each mode (dense, bm25, hybrid) and for each of the two BM25 rankings alone (words: jieba; grams: character
n-grams; both with the pack's authority prior): recall@1/5/10 and MRR@10 of the gold article (law + 第N条 parsed
from each answer), and p50/p95 search latency. The KB is ingested first if needed (incremental, so a
second run starts at once).

    python benchmarks/retrieval.py [--uri /tmp/bench-home/milvus.db] [--kb laws] [--limit N] [--no-ingest]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import p50_p95, quiet, shared_path  # noqa: E402

MODES = ("dense", "words", "grams", "bm25", "hybrid")
# Benchmark rows that are one BM25 ranking alone: (search mode, retriever weights to override).
VARIANTS = {"words": ("bm25", {"grams_weight": 0.0}), "grams": ("bm25", {"bm25_weight": 0.0, "grams_weight": 1.0})}


def hit_matches(hit, gold) -> bool:
    """The hit is the gold article of the gold law."""
    from domainrag.lawref import article_key, title_matches_law

    label = hit.metadata.get("article")
    return bool(label) and title_matches_law(hit.title, gold.law) and article_key(label) == gold.article


def lawbench_items(rag, kb: str, dev: Path) -> list[tuple[str, object]]:
    """(question, gold article) for each LawBench question whose answer names an article of a law in the KB."""
    from domainrag.lawref import parse_article_ref

    rag.store.load(kb)
    titles = sorted({row["title"] for row in rag.store.manifest(kb).values()})
    records = json.loads(dev.read_text(encoding="utf-8"))
    items = [(r["question"], g) for r in records if (g := parse_article_ref(r["answer"], titles))]
    print(f"{len(items)} of {len(records)} questions have a parseable gold article; "
          f"{rag.store.count(kb)} chunks in {kb}", file=sys.stderr)
    return items


def evaluate(rag, items: list[tuple[str, object]], mode: str, k: int = 10) -> dict:
    search = rag.search
    if mode in VARIANTS:
        mode, overrides = VARIANTS[mode]
        retriever = copy.copy(rag.retriever)
        vars(retriever).update(overrides)
        search = retriever.search
    ranks: list[int | None] = []
    latencies: list[float] = []
    for question, gold in items:
        started = time.perf_counter()
        hits = search(question, k=k, mode=mode)
        latencies.append((time.perf_counter() - started) * 1000)
        rank = next((h.rank for h in hits if hit_matches(h, gold)), None)
        ranks.append(rank)
    n = len(ranks)
    recall = {f"recall@{c}": round(sum(1 for r in ranks if r and r <= c) / n, 3) for c in (1, 5, 10)}
    mrr = round(sum(1 / r for r in ranks if r) / n, 3)
    p50, p95 = p50_p95(latencies)
    return {**recall, "mrr@10": mrr, "p50_ms": round(p50, 1), "p95_ms": round(p95, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", default="/tmp/bench-home/milvus.db")
    parser.add_argument("--kb", default="laws")
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--no-ingest", action="store_true", help="use the KB as it is")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet()
    corpus, dev = shared_path("law", "laws"), shared_path("law", "lawbench", "3-2.dev.json")
    if corpus is None or dev is None:
        return 0

    from domainrag import DomainRAG

    rag = DomainRAG.from_pack("law", uri=args.uri, kb=args.kb)
    if not args.no_ingest:
        rag.ingest(corpus, progress=True)
    items = lawbench_items(rag, args.kb, dev)
    if args.limit:
        items = items[: args.limit]
    for question, _ in items[:5]:  # warm-up: models, jieba, first-search caches
        rag.search(question, k=10, mode="hybrid")
    results = {mode: evaluate(rag, items, mode) for mode in args.modes.split(",")}
    if args.json:
        print(json.dumps({"questions": len(items), "results": results}, indent=2))
    else:
        print(f"{'mode':8} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR@10':>7} {'p50 ms':>7} {'p95 ms':>7}")
        for mode, r in results.items():
            print(f"{mode:8} {r['recall@1']:6.3f} {r['recall@5']:6.3f} {r['recall@10']:6.3f} {r['mrr@10']:7.3f} "
                  f"{r['p50_ms']:7.1f} {r['p95_ms']:7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
