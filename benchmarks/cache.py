"""Semantic cache: latency of a hit vs a miss, paraphrase hit rate and near-miss false hits, in one run.

1. Latency, through ``DomainRAG.ask(use_cache=True)`` with the default local model (SmolLM2-135M-Instruct) on
   a small law KB (three statutes from the pack's corpus, in a temporary DOMAINRAG_HOME): a *miss* is
   retrieval + generation (+ storing the answer); a *hit* is a paraphrase or a repeat of an answered
   question. The miss is the baseline, measured in the same run.
2. Quality, on the pair sets in tests/data (paraphrases that must hit, near-misses that must not): every
   first question is stored in a real GPTCache (SQLite + faiss) cache, every second one looked up, at the
   pack's threshold and across a sweep, under the law pack's embedding model and, as the baseline, the default
   all-MiniLM-L6-v2. Beside it, the same sweep with cosine similarity alone (what a plain GPTCache distance
   evaluation would decide) shows what the guard prevents.

    python benchmarks/cache.py [--questions 8] [--hit-repeats 3] [--max-new-tokens N] [--json]
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, p50_p95, quiet  # noqa: E402

DATA = REPO / "tests" / "data"
PAIR_SETS = {"dev": DATA / "cache_pairs.jsonl", "held_out": DATA / "cache_pairs_holdout.jsonl"}
STATUTES = ["刑法/刑法.md", "民法商法/个人独资企业法(1999-08-30).md", "民法商法/农民专业合作社法(2017-12-27).md"]
SWEEP = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]


def load_pairs(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _same_text(a: str, b: str) -> bool:
    return re.sub(r"\W", "", a) == re.sub(r"\W", "", b)


# ---- quality ------------------------------------------------------------------------------------
def quality(pairs: list[dict], embedder, folder: Path, default: float) -> dict:
    """Hit rate on paraphrases and false-hit rate on near-misses, per threshold, guarded and cosine-only."""
    import numpy as np

    from domainrag.cache.semantic import CacheSettings, SemanticCache

    anchors = sorted({p["a"] for p in pairs})
    SemanticCache(folder, embedder, CacheSettings()).store_many([(a, {"answer": a}) for a in anchors])
    paraphrases = [p for p in pairs if p["kind"] == "paraphrase"]
    near = [p for p in pairs if p["kind"] == "near_miss"]
    cosine = {id(p): float(np.dot(*embedder.encode([p["a"], p["b"]]))) for p in pairs}
    rows = []
    for threshold in sorted(set(SWEEP) | {default}):
        cache = SemanticCache(folder, embedder, CacheSettings(threshold=threshold))
        hits = wrong = false = 0
        for p in paraphrases:
            hit = cache.lookup(p["b"])
            if hit is not None:
                ok = _same_text(hit.question, p["a"]) or _same_text(hit.question, p["b"])
                hits += ok
                wrong += not ok
        false_hits = [p["b"] for p in near if cache.lookup(p["b"]) is not None]
        false = len(false_hits)
        rows.append({
            "threshold": threshold, "default": threshold == default,
            "paraphrase_hit_rate": hits / len(paraphrases), "wrong_answer_hits": wrong,
            "near_miss_false_hits": false, "near_miss_false_hit_rate": false / len(near),
            "cosine_only_paraphrase_hit_rate": sum(cosine[id(p)] >= threshold for p in paraphrases) / len(paraphrases),
            "cosine_only_false_hit_rate": sum(cosine[id(p)] >= threshold for p in near) / len(near),
            "false_hit_examples": false_hits[:3],
        })
    return {"paraphrases": len(paraphrases), "near_misses": len(near), "sweep": rows}


# ---- latency --------------------------------------------------------------------------------------
def latency(pairs: list[dict], questions: int, repeats: int, max_new_tokens: int | None) -> dict:
    from domainrag import DomainRAG
    from domainrag.config import domainrag_home

    corpus = domainrag_home() / "corpus"
    corpus.mkdir()
    for relative in STATUTES:
        shutil.copy(REPO / "domains" / "law" / "corpus" / relative, corpus / Path(relative).name)
    rag = DomainRAG.from_pack("law", uri=str(domainrag_home() / "milvus.db"), kb="cache_bench")
    started = time.perf_counter()
    rag.ingest(corpus)
    print(f"ingested {len(STATUTES)} statutes in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if max_new_tokens:
        rag.with_llm(max_new_tokens=max_new_tokens)
    rag.generator.load()
    rag.ask("热身：什么是正当防卫？", use_cache=False)  # warm-up: weights, jieba, first-call costs

    law = [p for p in pairs if p["kind"] == "paraphrase" and p["domain"] == "law" and p["lang"] == "zh"]
    chosen = law[:questions]
    miss_ms: list[float] = []
    hit_ms: list[float] = []
    answers: dict[str, str] = {}
    for p in chosen:  # misses: retrieval + generation, through the cache (which stores the answer)
        t0 = time.perf_counter()
        answer = rag.ask(p["a"], use_cache=True)
        miss_ms.append((time.perf_counter() - t0) * 1000)
        assert not answer.cache_hit, p["a"]
        answers[p["a"]] = answer.answer
        print(f"miss {miss_ms[-1]:8.0f} ms  {p['a']}", file=sys.stderr)
    for _ in range(repeats):  # hits: the same questions asked again, and their paraphrases
        for p in chosen:
            for question in (p["a"], p["b"]):
                t0 = time.perf_counter()
                answer = rag.ask(question, use_cache=True)
                elapsed = (time.perf_counter() - t0) * 1000
                if answer.cache_hit:
                    assert answer.answer in (answers[p["a"]], answers.get(p["b"])), question
                    hit_ms.append(elapsed)
                else:
                    print(f"paraphrase missed (generated): {question}", file=sys.stderr)
                    answers[question] = answer.answer
                    miss_ms.append(elapsed)
    miss50, miss95 = p50_p95(miss_ms)
    hit50, hit95 = p50_p95(hit_ms)
    return {"misses": len(miss_ms), "hits": len(hit_ms), "miss_p50_ms": miss50, "miss_p95_ms": miss95,
            "hit_p50_ms": hit50, "hit_p95_ms": hit95, "speedup_p50": miss50 / hit50 if hit_ms else None,
            "model": rag.generator.model_name,
            "max_new_tokens": max_new_tokens or rag.generator.settings.max_new_tokens}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=8, help="distinct questions generated (misses)")
    parser.add_argument("--hit-repeats", type=int, default=3, help="times each question and paraphrase is re-asked")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default: the pack's [generation]")
    parser.add_argument("--skip-latency", action="store_true", help="only the hit-rate / false-hit figures")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="cache-bench-home-"))
    os.environ["DOMAINRAG_HOME"] = str(home)
    atexit.register(shutil.rmtree, home, True)
    quiet()
    from domainrag.cache.semantic import CacheSettings
    from domainrag.embed import get_embedder
    from domainrag.packs import load_pack

    pack = load_pack("law")
    default = float(CacheSettings.from_pack(pack).threshold)
    embedders = {f"law pack ({pack.embedding_model})": get_embedder(pack.embedding_model, pack.path),
                 "all-MiniLM-L6-v2 (default)": get_embedder("default")}
    report: dict = {"default_threshold": default, "load_average_at_start": os.getloadavg()[0], "quality": {}}
    for model, embedder in embedders.items():
        for name, path in PAIR_SETS.items():
            report["quality"][f"{model}, {name}"] = quality(load_pairs(path), embedder,
                                                            home / f"pairs-{len(report['quality'])}", default)
    if not args.skip_latency:
        report["latency"] = latency(load_pairs(PAIR_SETS["dev"]), args.questions, args.hit_repeats, args.max_new_tokens)
    report["load_average_at_end"] = os.getloadavg()[0]

    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    for name, result in report["quality"].items():
        print(f"\n{name} pairs: {result['paraphrases']} paraphrases, {result['near_misses']} near-misses")
        print(f"{'threshold':>9} {'para hit':>9} {'false hit':>10} {'wrong':>6} | {'cosine-only: para hit':>22} {'false hit':>10}")
        for row in result["sweep"]:
            mark = " *" if row["default"] else "  "
            print(f"{row['threshold']:>7.2f}{mark} {row['paraphrase_hit_rate']:>9.1%} {row['near_miss_false_hit_rate']:>10.1%}"
                  f" {row['wrong_answer_hits']:>6} | {row['cosine_only_paraphrase_hit_rate']:>22.1%}"
                  f" {row['cosine_only_false_hit_rate']:>10.1%}")
    print("(* = the law pack's default threshold)")
    if "latency" in report:
        lat = report["latency"]
        print(f"\nlatency through rag.ask, {lat['model']}, max_new_tokens={lat['max_new_tokens']}:")
        print(f"  miss (retrieve + generate): p50 {lat['miss_p50_ms']:8.1f} ms  p95 {lat['miss_p95_ms']:8.1f} ms  (n={lat['misses']})")
        print(f"  hit  (cache):               p50 {lat['hit_p50_ms']:8.1f} ms  p95 {lat['hit_p95_ms']:8.1f} ms  (n={lat['hits']})")
        print(f"  speed-up at p50: {lat['speedup_p50']:.0f}x")
    print(f"load average: {report['load_average_at_start']:.1f} at start, {report['load_average_at_end']:.1f} at end "
          f"(machine shared with other jobs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
