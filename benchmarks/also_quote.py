"""When should an extractive answer quote the second passage too? ``[answer] also_quote_below`` / ``also_quote_ratio``
on LawBench 3-2 (dev, 250 questions) against the whole law/laws corpus.

Each question is searched once; its one-passage answer (lead + clause of the best passage) and its two-passage
answer (… 另可参照 the second's lead + clause; two versions of one law named by their dates, as the chain names
them) are scored as LawBench scores task 3-2 (ROUGE-L F over jieba words),
with cites-gold (a cited passage is the gold article). Printed: every (below, ratio) on the grid in-sample, the
pack's own setting, and 5-fold cross-validation (five shuffles) of the rule that chose it: on the training folds,
the most gold citations among the settings whose ROUGE-L is at least the one-passage answer's (ties: higher
ROUGE-L), scored on the held-out fold. The baseline of the same run is the one-passage answer.

    python benchmarks/also_quote.py --uri /tmp/bench-home/milvus.db --kb laws [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import open_law_kb, print_result, quiet, shared_path  # noqa: E402

BELOW = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.01)
RATIO = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def scored_questions(rag, records: list[dict], clause_chars: int) -> list[dict]:
    """Per question: the top two scores, whether each passage is gold, ROUGE-L of the one- and two-passage answers."""
    from domainrag.chain.grounding import extractive_answer, pair_references, reference_for
    from domainrag.evaluate.gold import Gold
    from domainrag.evaluate.metrics import rouge_l_words
    from domainrag.lawref import parse_article_ref

    rows = []
    for i, record in enumerate(records, 1):
        question, reference = record["question"], record["answer"]
        ref = parse_article_ref(reference)
        gold = Gold(articles=[ref] if ref else [])
        hits = rag.search(question)[:2]
        if len(hits) < 2:
            continue
        first, second = hits
        one = extractive_answer(question, reference_for(1, first.title, first.metadata), first.text,
                                max_chars=clause_chars)
        first_reference, second_reference = pair_references((1, first), (2, second))
        two = extractive_answer(question, first_reference, first.text, max_chars=clause_chars,
                                also=(second_reference, second.text))
        rows.append({"scores": (first.score, second.score),
                     "gold": (bool(gold) and bool(gold.matches(first)), bool(gold) and bool(gold.matches(second))),
                     "one": rouge_l_words(one, reference), "two": rouge_l_words(two, reference)})
        print(f"\r{i}/{len(records)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return rows


def outcome(rows: list[dict], below: float, ratio: float) -> tuple[float, float, int]:
    """(ROUGE-L, cites-gold, answers quoting two) of ``rows`` under one setting."""
    from domainrag.chain.grounding import quotes_runner_up

    rouge, gold, two = [], [], 0
    for row in rows:
        both = quotes_runner_up(row["scores"], below, ratio)
        two += both
        rouge.append(row["two"] if both else row["one"])
        gold.append(float(row["gold"][0] or (both and row["gold"][1])))
    return statistics.fmean(rouge), statistics.fmean(gold), two


def choose(rows: list[dict]) -> tuple[float, float]:
    """The setting with the most gold citations whose ROUGE-L is at least the one-passage answer's."""
    floor = outcome(rows, 0.0, 0.0)[0]
    allowed = [(b, r) for b in BELOW for r in RATIO if outcome(rows, b, r)[0] >= floor]
    return max(allowed, key=lambda setting: outcome(rows, *setting)[1::-1])


def cross_validate(rows: list[dict], folds: int = 5, shuffles: int = 5) -> dict:
    """Held-out ROUGE-L and cites-gold of ``choose``, per shuffle, and the settings it chose."""
    result = {"cv_rouge_l": [], "cv_cites_gold": [], "chosen": []}
    for shuffle in range(shuffles):
        order = list(range(len(rows)))
        random.Random(shuffle).shuffle(order)
        rouge = gold = 0.0
        for fold in range(folds):
            test = set(order[fold::folds])
            setting = choose([rows[i] for i in order if i not in test])
            held_out = [rows[i] for i in sorted(test)]
            r, g, _ = outcome(held_out, *setting)
            rouge, gold = rouge + r * len(held_out), gold + g * len(held_out)
            result["chosen"].append(setting)
        result["cv_rouge_l"].append(round(rouge / len(rows), 4))
        result["cv_cites_gold"].append(round(gold / len(rows), 4))
    result["chosen"] = {f"{b}/{r}": result["chosen"].count((b, r)) for b, r in sorted(set(result["chosen"]))}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", required=True, help="Milvus URI holding the whole law/laws corpus")
    parser.add_argument("--kb", default="laws")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet()
    data = shared_path("law", "lawbench", "3-2.dev.json")
    if data is None:
        return 0
    rag = open_law_kb(args.uri, args.kb)
    settings = rag.answer_chain.settings
    rows = scored_questions(rag, json.loads(data.read_text(encoding="utf-8")), settings.clause_chars)
    one = outcome(rows, 0.0, 0.0)
    shipped = outcome(rows, settings.also_quote_below, settings.also_quote_ratio)
    grid = {f"{b}/{r}": [round(v, 4) for v in outcome(rows, b, r)] for b in BELOW for r in RATIO}
    result = {
        "questions": len(rows),
        "one passage (baseline): rouge_l, cites_gold": [round(one[0], 4), round(one[1], 4)],
        f"pack {settings.also_quote_below}/{settings.also_quote_ratio}: rouge_l, cites_gold, two quoted":
            [round(shipped[0], 4), round(shipped[1], 4), shipped[2]],
        **cross_validate(rows),
    }
    if args.json:
        result["grid below/ratio: rouge_l, cites_gold, two quoted"] = grid
    print_result(result, args.json, 64)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
