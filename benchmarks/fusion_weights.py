"""Hybrid fusion weights for a pack, chosen by cross-validation on a retrieval set with gold documents.

Each question's searches run once (the dense ranking, BM25 over jieba words, BM25 over character n-grams: the legs
``Retriever.fused`` returns, 50 deep); they are then fused offline by weighted reciprocal-rank fusion over a grid of
weights and ``rrf_k`` and scored as ``domainrag eval`` scores them (nDCG@10, recall@10, MRR@10 of the gold documents,
``domainrag.evaluate.metrics``). Printed: the pack's own setting, each leg alone, and the 2-fold cross-validated figure
of choosing the best grid point on one half of the questions and scoring it on the other (what to expect on new
questions). Baselines come from the same run.

    python benchmarks/fusion_weights.py --pack medical --set more/medical/qa_cmdd_retrieval.jsonl \\
        --corpus more/medical/corpus_cmdd_answers.jsonl [--uri URI --kb KB] [--json]

--set and --corpus are paths under ../shared/data (or files here: a pack's own eval set). Without --uri the corpus is ingested into a temporary KB first
(cmdd's 7,244 answers with multilingual-e5-small: ~7 minutes on two cores).
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import pack_kb, print_result, quiet, shared_path  # noqa: E402

LEGS = ("dense", "words", "grams")
DENSE_WEIGHTS = (0.3, 1.0)
LEXICAL_WEIGHTS = (0.0, 0.2, 0.4, 0.7, 1.0)
RRF_KS = (10, 60)
DEPTH, K = 50, 10


def fuse(legs: dict[str, list[tuple[str, list[str]]]], weights: dict[str, float], rrf_k: int) -> list[list[str]]:
    """The gold keys of each fused hit, best first (weighted RRF over the legs' (chunk id, gold keys) rankings)."""
    scores: dict[str, float] = {}
    keys: dict[str, list[str]] = {}
    for name, ranking in legs.items():
        weight = weights.get(name, 0.0)
        if weight <= 0:
            continue
        for rank, (chunk_id, gold_keys) in enumerate(ranking, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (rrf_k + rank)
            keys[chunk_id] = gold_keys
    return [keys[c] for c in sorted(scores, key=scores.__getitem__, reverse=True)]


def collect(rag, items) -> list[tuple[dict[str, list[tuple[str, list[str]]]], list[str]]]:
    """Per question: each leg's ranking as (chunk id, the gold keys the hit satisfies), and the gold keys."""
    rows = []
    for i, item in enumerate(items, 1):
        _, legs = rag.retriever.fused(item.question, DEPTH)
        rows.append(({name: [(hit.chunk_id, item.gold.matches(hit)) for hit in hits] for name, hits in legs.items()
                      if name in LEGS}, item.gold.keys()))
        if i % 50 == 0 or i == len(items):
            print(f"\rsearching {i}/{len(items)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return rows


def per_question(rows, weights: dict[str, float], rrf_k: int) -> list[dict[str, float]]:
    from domainrag.evaluate.metrics import retrieval_metrics

    return [retrieval_metrics(fuse(legs, weights, rrf_k), gold, K) for legs, gold in rows]


def mean_of(scores: list[dict[str, float]], subset: list[int] | None = None) -> dict[str, float]:
    chosen = [scores[i] for i in subset] if subset is not None else scores
    return {name: round(statistics.fmean(s[key] for s in chosen), 4)
            for name, key in (("ndcg@10", "ndcg"), ("recall@10", "recall@10"), ("mrr@10", "mrr"), ("recall@1", "recall@1"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", required=True)
    parser.add_argument("--set", required=True, help="questions with gold_doc_ids, a path under ../shared/data")
    parser.add_argument("--corpus", default=None, help="the documents, a path under ../shared/data")
    parser.add_argument("--uri", default=None)
    parser.add_argument("--kb", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet()
    questions = Path(args.set) if Path(args.set).is_file() else shared_path(*Path(args.set).parts)
    corpus = (Path(args.corpus) if Path(args.corpus).exists() else shared_path(*Path(args.corpus).parts)) if args.corpus else None
    if questions is None or (args.corpus and corpus is None):
        return 0
    from domainrag.evaluate.sets import load_eval_set

    items = [item for item in load_eval_set(questions).items if item.gold]
    rag, _ = pack_kb(args.pack, args.uri, args.kb, corpus, "fusion")
    rows = collect(rag, items)
    settings = rag.pack.retrieval
    shipped = ({"dense": settings.dense_weight, "words": settings.bm25_weight, "grams": settings.grams_weight},
               settings.rrf_k)
    grid = [({"dense": d, "words": w, "grams": g}, k) for d, w, g, k in
            itertools.product(DENSE_WEIGHTS, LEXICAL_WEIGHTS, LEXICAL_WEIGHTS, RRF_KS) if w or g]
    scores = {}
    for n, point in enumerate(grid, 1):
        scores[repr(point)] = per_question(rows, *point)
        if n % 10 == 0 or n == len(grid):
            print(f"\rgrid {n}/{len(grid)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    order = list(range(len(rows)))
    random.Random(0).shuffle(order)
    halves = [sorted(order[::2]), sorted(order[1::2])]
    shipped_scores = per_question(rows, *shipped)
    held_out = []
    for pick, score in ((0, 1), (1, 0)):
        best = max(grid, key=lambda p: mean_of(scores[repr(p)], halves[pick])["ndcg@10"])
        held_out.append({"chosen_on_one_half": {**best[0], "rrf_k": best[1]},
                         "other_half": mean_of(scores[repr(best)], halves[score]),
                         "pack_setting_on_that_half": mean_of(shipped_scores, halves[score])})
    cv = {name: round(statistics.fmean(h["other_half"][name] for h in held_out), 4) for name in held_out[0]["other_half"]}
    result = {
        "pack": args.pack, "set": args.set, "questions": len(rows), "kb": f"{rag.uri} kb={rag.kb}",
        "chunks": rag.store.count(rag.kb), "dense_model": rag.embedding_model_name,
        "pack_setting": {**shipped[0], "rrf_k": shipped[1]}, "pack_setting_scores": mean_of(shipped_scores),
        **{f"{leg}_alone": mean_of(per_question(rows, {leg: 1.0}, 60)) for leg in LEGS if rows and leg in rows[0][0]},
        "equal_weights_rrf_k_60": mean_of(per_question(rows, {leg: 1.0 for leg in LEGS}, 60)),
        "cross_validated_choice": cv, "folds": held_out,
    }
    print_result(result, args.json, 26)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
