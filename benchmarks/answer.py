"""Answer latency: LawBench 3-2 questions against the whole law/laws corpus with the default local model, warm.

Prints p50/p95 of retrieval, first token and total per answer, and retrieval's share of the total. Baseline
measured in the same run: the same model answering the bare question (no retrieval, no context). Also how the
relevance and similarity floors split LawBench questions (answered) from off-topic ones (refused; the question
lists and the split: benchmarks/floors.py).

    python benchmarks/answer.py --uri /tmp/bench-home/milvus.db --kb laws [--n 50] [--max-new-tokens 64]

Without --uri the pack's sample corpus (domains/law/corpus) is ingested into a temporary KB first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, p50_p95, pack_kb, print_result, quiet, shared_path  # noqa: E402
from floors import (LEGAL_HELD_OUT, LEGAL_SHORT, OFF_TOPIC, OFF_TOPIC_HELD_OUT, OFF_TOPIC_MORE,  # noqa: E402
                    floor_split)


def figures(values: list[float]) -> dict[str, float]:
    p50, p95 = p50_p95(values)
    return {"p50": round(p50, 1), "p95": round(p95, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", default=None, help="Milvus URI holding the full corpus (e.g. /tmp/bench-home/milvus.db)")
    parser.add_argument("--kb", default="laws")
    parser.add_argument("--n", type=int, default=50, help="LawBench questions to answer")
    parser.add_argument("--baseline-n", type=int, default=10, help="questions answered without retrieval (baseline)")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default: the pack's (256)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet()
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    data = shared_path("law", "lawbench", "3-2.dev.json")
    if data is None:
        return 0
    every_question = [row["question"] for row in json.loads(data.read_text(encoding="utf-8"))]
    questions = every_question[: args.n]

    rag, corpus = pack_kb("law", args.uri, args.kb, REPO / "domains" / "law" / "corpus", "law_sample")
    rag.with_llm(max_new_tokens=args.max_new_tokens, answer_mode="grounded")  # the model writes: generation latency
    generator = rag.generator
    generator.load()
    for q in questions[:3]:  # warm: model, tokenizer, embedder, collection load, jieba
        rag.ask(q, use_cache=False)

    rows = []
    for i, q in enumerate(questions, 1):
        answer = rag.ask(q, use_cache=False)
        rows.append({**answer.timings, "no_context": answer.no_context, "cited": len(answer.citations)})
        print(f"\r{i}/{len(questions)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    baseline = []  # the same model, the bare question: what generation costs without retrieval or context
    for q in questions[: args.baseline_n]:
        started = time.perf_counter()
        first = None
        for _ in generator.stream([{"role": "user", "content": q}], max_new_tokens=args.max_new_tokens):
            first = first if first is not None else (time.perf_counter() - started) * 1000
        baseline.append({"first_token_ms": first or 0.0, "total_ms": (time.perf_counter() - started) * 1000})

    floors = floor_split(rag, {"lawbench_3-2": every_question, "legal_short": LEGAL_SHORT,
                               "legal_held_out": LEGAL_HELD_OUT, "off_topic": OFF_TOPIC,
                               "off_topic_more": OFF_TOPIC_MORE, "off_topic_held_out": OFF_TOPIC_HELD_OUT})

    answered = [r for r in rows if not r["no_context"]]
    shares = [r["retrieve_ms"] / r["total_ms"] for r in answered if r["total_ms"]]
    result = {
        "corpus": corpus, "chunks": rag.store.count(rag.kb),
        "model": generator.model_name, "adapter": generator.adapter_label(None),
        "max_new_tokens": generator.settings.max_new_tokens,
        "max_context_tokens": generator.settings.max_context_tokens,
        "questions": len(rows), "answered": len(answered), "refused_no_context": len(rows) - len(answered),
        "retrieve_ms": figures([r["retrieve_ms"] for r in rows]),
        "first_token_ms": figures([r["first_token_ms"] for r in answered]),
        "generate_ms": figures([r["generate_ms"] for r in answered]),
        "total_ms": figures([r["total_ms"] for r in answered]),
        "retrieval_share_of_total": figures([100 * s for s in shares]) | {"unit": "%"},
        "answers_with_citations": sum(r["cited"] > 0 for r in answered),
        "baseline_no_retrieval": {"questions": len(baseline),
                                  "first_token_ms": figures([b["first_token_ms"] for b in baseline]),
                                  "total_ms": figures([b["total_ms"] for b in baseline])},
        "relevance_floor": floors,
        "cpu_threads": __import__("torch").get_num_threads(),
    }
    print_result(result, args.json, 26)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
