"""Answer quality on LawBench 3-2 (dev, 250 scenario questions) against the whole law/laws corpus.

Scores each answer the way LawBench scores task 3-2 (ROUGE-L F over jieba words, ``rouge_chinese``) and checks its
citations: cites-any (a valid [n]), cites-gold (a citation points at the gold law and article; the first citation
alone, and how many answers also quote a second passage, are printed beside it), answers naming an
article absent from their sources, refusals, and how each answer was written (``Answer.mode``). Baselines of the
same run, on the same retrieval:
  quote-top-hit   "根据《title》" + the top passage's text (what search alone gives)
  extractive      the chain's own fallback (lead + the passage's relevant clause), without the model
Latency: first token and total per answer (warm, cache off).

    python benchmarks/answer_quality.py --uri /tmp/bench-home/milvus.db --kb laws [--n 250] [--mode grounded]
        [--adapter none|DIR] [--base-model PATH] [--max-new-tokens 64] [--json]

Other packs: `domainrag eval PACK --answers all` prints the same answer metrics on the pack's eval set.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import open_law_kb, p50_p95, print_result, quiet, shared_path  # noqa: E402


def quote_top_hit(hit: Any) -> str:
    return f"根据《{hit.title}》" + hit.text


def mean(values: list[float]) -> float:
    return round(statistics.fmean(values), 4) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", required=True, help="Milvus URI holding the whole law/laws corpus")
    parser.add_argument("--kb", default="laws")
    parser.add_argument("--n", type=int, default=250)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--mode", choices=("grounded", "extractive"), default=None, help="default: the pack's")
    parser.add_argument("--adapter", default=None, help="none, or an adapter folder (default: the pack's)")
    parser.add_argument("--base-model", default=None)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet()
    data = shared_path("law", "lawbench", "3-2.dev.json")
    if data is None:
        return 0
    from dataclasses import replace

    from domainrag.chain.grounding import extractive_answer, reference_for, unsupported_mentions
    from domainrag.evaluate.gold import Gold, hit_article
    from domainrag.lawref import parse_article_ref
    from domainrag.evaluate.metrics import rouge_l_words

    records = json.loads(data.read_text(encoding="utf-8"))[args.offset:args.offset + args.n]
    rag = open_law_kb(args.uri, args.kb).with_llm(base_model=args.base_model, max_new_tokens=args.max_new_tokens)
    chain = rag.answer_chain
    if args.mode:
        chain.settings = replace(chain.settings, mode=args.mode)
    rag.ask(records[0]["question"], use_cache=False, adapter=args.adapter)  # warm: models, collection, jieba

    rows = []
    for i, record in enumerate(records, 1):
        question, reference = record["question"], record["answer"]
        ref = parse_article_ref(reference)
        gold = Gold(articles=[ref] if ref else [])
        answer = rag.ask(question, use_cache=False, adapter=args.adapter)
        given = [(c.title, hit_article(c) or "", c.text) for c in answer.sources]
        hits = rag.search(answer.standalone_question or question)
        top = hits[0] if hits else None
        extractive = (extractive_answer(question, reference_for(1, top.title, top.metadata), top.text,
                                        max_chars=chain.settings.clause_chars) if top else "")
        rows.append({
            "rouge_l": rouge_l_words(answer.answer, reference),
            "baseline_quote": rouge_l_words(quote_top_hit(top) if top else "", reference),
            "baseline_extractive": rouge_l_words(extractive, reference),
            "cites_any": bool(answer.citations), "cites_gold": bool(gold) and any(gold.matches(c) for c in answer.citations),
            "first_cites_gold": bool(gold) and bool(answer.citations) and bool(gold.matches(answer.citations[0])),
            "cites_two": len({c.n for c in answer.citations}) > 1,
            "top_is_gold": bool(gold) and top is not None and bool(gold.matches(top)),
            "unsupported": len(unsupported_mentions(answer.answer, given)), "mode": answer.mode,
            "first_token_ms": answer.timings.get("first_token_ms", 0.0), "total_ms": answer.timings.get("total_ms", 0.0),
        })
        print(f"\r{i}/{len(records)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    answered = [r for r in rows if r["mode"] != "refused"]
    generator = rag.generator
    result = {
        "questions": len(rows), "corpus_chunks": rag.store.count(rag.kb), "model": generator.model_name,
        "adapter": generator.adapter_label(args.adapter), "mode_setting": chain.settings.mode,
        "rouge_l": mean([r["rouge_l"] for r in rows]),
        "baseline_quote_top_hit_rouge_l": mean([r["baseline_quote"] for r in rows]),
        "baseline_extractive_rouge_l": mean([r["baseline_extractive"] for r in rows]),
        "cites_gold": mean([float(r["cites_gold"]) for r in rows]),
        "first_citation_is_gold": mean([float(r["first_cites_gold"]) for r in rows]),
        "answers_citing_two_passages": sum(r["cites_two"] for r in rows),
        "top_hit_is_gold (R@1)": mean([float(r["top_is_gold"]) for r in rows]),
        "cites_any_of_answered": mean([float(r["cites_any"]) for r in answered]),
        "answers_with_unsupported_articles": sum(r["unsupported"] > 0 for r in rows),
        "refused": sum(r["mode"] == "refused" for r in rows),
        "modes": {m: sum(r["mode"] == m for r in rows) for m in ("generated", "extractive", "refused")},
        "rouge_l_generated": mean([r["rouge_l"] for r in rows if r["mode"] == "generated"]),
        "first_token_ms_p50_p95": [round(v, 1) for v in p50_p95([r["first_token_ms"] for r in answered])],
        "total_ms_p50_p95": [round(v, 1) for v in p50_p95([r["total_ms"] for r in answered])],
    }
    print_result(result, args.json, 36)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
