"""Shipped adapters against their base model, one run per pack.

For each pack: validation loss and perplexity (answer tokens only, as in training) of the base model
and of base + the pack's shipped adapter on (1) the pack's validation split, rebuilt from its corpus
with its builder, and (2) held-out data built by the same builder from ../shared/data files that are
not in the pack's corpus (other statutes, other exam items, GSM8K test, other doctor answers). For
math, also exact match on 200 freshly generated arithmetic problems (a seed of their own, no
expression shared with the training data), before and after. Training speed and peak memory come from
a short run of the pack's own ``[tune]`` settings in a child process (``--train-steps``).

    python benchmarks/tune.py [--packs law,finance,...] [--eval-examples 200] [--train-steps 10] [--threads 1] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, SHARED_DATA, quiet  # noqa: E402

PACKS = ("law", "finance", "medical", "education", "math")
LAWS = SHARED_DATA / "law" / "laws"
HELD_OUT_LAWS = {
    "law": ["经济法/反垄断法(2022-06-24).md", "经济法/广告法(2021-04-29).md", "经济法/产品质量法(2018-12-29).md",
            "行政法/行政处罚法(2021-01-22).md", "社会法/工会法(2021-12-24).md", "民法商法/招标投标法(2017-12-27).md"],
    "finance": ["经济法/会计法(2024-06-28).md", "经济法/注册会计师法(2014-08-31).md", "经济法/预算法(2018-12-29).md",
                "经济法/税收征收管理法(2015-04-24).md", "经济法/资产评估法(2016-07-02).md"],
    "medical": ["行政法/中医药法(2016-12-25).md", "行政法/精神卫生法(2018-04-27).md", "行政法/献血法(1997-12-29).md",
                "经济法/职业病防治法(2018-12-29).md"],
    "education": ["行政法/学位法(2024-04-26).md", "行政法/民办教育促进法(2018-12-29).md",
                  "行政法/国防教育法(2024-09-13).md"],
}


def _copy_laws(pack: str, folder: Path) -> None:
    for relative in HELD_OUT_LAWS.get(pack, []):
        source = LAWS / relative
        if source.exists():
            (folder / source.name).write_bytes(source.read_bytes())


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _corpus_lines(pack: str, relative: str, key: str) -> set[str]:
    path = REPO / "domains" / pack / "corpus" / relative
    return {str(json.loads(l).get(key)) for l in path.read_text(encoding="utf-8").splitlines() if l.strip()}


def held_out_source(pack: str, folder: Path) -> Path | None:
    """A corpus folder of shared data that the pack's corpus does not contain (None without ../shared/data)."""
    if not SHARED_DATA.exists():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    _copy_laws(pack, folder)
    rng = random.Random(7)
    if pack == "finance":
        shipped = {row["序号"] for row in csv.DictReader((REPO / "domains/finance/corpus/fineval/index_extraction.csv").open(encoding="utf-8"))}
        source = SHARED_DATA / "finance/fineval_rigor/index_extraction.csv"
        csv.field_size_limit(1 << 30)
        with source.open(encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            rows = [r for r in reader if r["序号"] not in shipped]
        with (folder / "index_extraction_heldout.csv").open("w", encoding="utf-8", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=reader.fieldnames)
            writer.writeheader()
            writer.writerows(rows)
    elif pack == "medical":
        source = SHARED_DATA / "more/medical/qa_cmdd_retrieval.jsonl"
        rows = [json.loads(l) for l in source.read_text(encoding="utf-8").splitlines() if l.strip()]
        rng.shuffle(rows)
        _write_jsonl(folder / "cmdd_qa.jsonl", [{"问": r["question"], "答": r["answer"]} for r in rows[:400] if r.get("answer")])
    elif pack == "education":
        shipped = _corpus_lines("education", "gaokao/gaokao_questions.jsonl", "id")
        _write_jsonl(folder / "gaokao_heldout.jsonl", _gaokao_items(shipped, math=False, limit=400, rng=rng))
    elif pack == "math":
        rows = [json.loads(l) for l in (SHARED_DATA / "math/gsm8k/test.jsonl").read_text(encoding="utf-8").splitlines() if l.strip()]
        rng.shuffle(rows)
        _write_jsonl(folder / "gsm8k_test.jsonl", rows[:300])
        shipped = _corpus_lines("math", "gaokao/gaokao_math.jsonl", "id")
        _write_jsonl(folder / "gaokao_math_heldout.jsonl", _gaokao_items(shipped, math=True, limit=150, rng=rng))
    return folder


def _gaokao_items(shipped: set[str], math: bool, limit: int, rng: random.Random) -> list[dict]:
    items = []
    for path in sorted((SHARED_DATA / "education/gaokao_bench").glob("*/*.json")):
        if ("Math" in path.name) != math:
            continue
        for item in json.loads(path.read_text(encoding="utf-8"))["example"]:
            if f"{path.stem}#{item['index']}" not in shipped and len(item["question"]) <= 200:
                items.append({**item, "id": f"{path.stem}#{item['index']}"})
    rng.shuffle(items)
    return items[:limit]


def build_examples(pack, source: Path | None, out: Path, limit: int, seed: int):
    """Validation examples the pack's builder makes from ``source`` (the whole output when held out)."""
    from domainrag.instruct.build import build_dataset
    from domainrag.instruct.records import read_jsonl

    if source is None:
        result = build_dataset(pack, out=out)
        return read_jsonl(result.validation_path)[:limit], result
    result = build_dataset(pack, source=source, out=out, val_ratio=0.0)
    examples = read_jsonl(result.train_path)
    if pack.name == "math":  # generated arithmetic is scored separately; keep the word problems here
        examples = [e for e in examples if not e.source.startswith("generated:")]
    random.Random(seed).shuffle(examples)
    return examples[:limit], result


def loss_pair(base, adapted, tokenizer, examples, settings) -> dict:
    from domainrag.tune.evaluate import answer_loss

    before = answer_loss(base, tokenizer, examples, settings.system, settings.max_length)
    after = answer_loss(adapted, tokenizer, examples, settings.system, settings.max_length)
    return {"examples": before.examples, "tokens": before.tokens, "base_loss": round(before.loss, 4),
            "adapter_loss": round(after.loss, 4), "base_ppl": round(before.perplexity, 3),
            "adapter_ppl": round(after.perplexity, 3),
            "ppl_reduction_pct": round(100 * (1 - after.perplexity / before.perplexity), 1)}


def arithmetic_exact_match(pack, base, adapted, tokenizer, settings, count: int) -> dict:
    from domainrag.instruct.arithmetic import generate, is_correct
    from domainrag.instruct.records import Example
    from domainrag.tune.evaluate import generate as complete

    builder = pack.section("builder")
    bench = pack.section("benchmark")
    trained = {p.expression for p in generate(int(builder.get("arithmetic_count", 3000)), seed=int(builder.get("seed", 0)))}
    problems = list(generate(count, seed=int(bench.get("arithmetic_seed", 20240601)), exclude=trained))
    examples = [Example(p.question, "") for p in problems]
    scores = {}
    for label, model in (("base", base), ("adapter", adapted)):
        outputs = complete(model, tokenizer, examples, settings.system, max_new_tokens=48)
        hits = [is_correct(text, p.value) for text, p in zip(outputs, problems)]
        by_kind: dict[str, list[bool]] = {}
        for problem, hit in zip(problems, hits):
            by_kind.setdefault(problem.kind, []).append(hit)
        scores[label] = {"exact_match": round(sum(hits) / len(hits), 3),
                         **{kind: round(sum(v) / len(v), 3) for kind, v in sorted(by_kind.items())},
                         "sample": outputs[0][:80]}
    base_em, adapter_em = scores["base"]["exact_match"], scores["adapter"]["exact_match"]
    return {"problems": len(problems), **scores,
            "ratio": round(adapter_em / base_em, 2) if base_em else None}


def training_speed(pack_name: str, data: Path, steps: int, threads: int, workdir: Path) -> dict:
    """steps/s and peak RSS of a short run with the pack's [tune] settings, in a child process."""
    command = [sys.executable, "-m", "domainrag.cli.main", "tune", pack_name, "--data", str(data), "--max-steps",
               str(steps), "--out", str(workdir / "speed-adapter"), "--json", "--threads", str(threads)]
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    card = json.loads(done.stdout)
    return {"steps": card["steps"], "steps_per_second": card["steps_per_second"], "peak_rss_mb": card["peak_rss_mb"],
            "batch_size": card["hyperparameters"]["batch_size"], "max_length": card["hyperparameters"]["max_length"]}


def run_pack(name: str, args: argparse.Namespace, workdir: Path) -> dict:
    import torch

    from domainrag.packs import load_pack
    from domainrag.tune.card import read_card
    from domainrag.tune.merge import load_adapter
    from domainrag.tune.train import TuneSettings, load_base

    pack = load_pack(name)
    if pack.adapter_dir is None:
        return {"pack": name, "skipped": "no shipped adapter"}
    settings = TuneSettings.from_pack(pack)
    card = read_card(pack.adapter_dir) or {}
    started = time.perf_counter()
    validation, built = build_examples(pack, None, workdir / name / f"{name}.jsonl", args.eval_examples, 0)
    base, tokenizer = load_base(pack.base_model)
    adapted, _ = load_adapter(pack.adapter_dir, pack.base_model)
    row = {"pack": name, "adapter_trained_steps": card.get("steps"),
           "data_matches_card": card.get("data", {}).get("sha256") == _sha(built),
           "validation": loss_pair(base, adapted, tokenizer, validation, settings)}
    held_source = held_out_source(name, workdir / name / "heldout-corpus")
    if held_source is not None:
        held, _ = build_examples(pack, held_source, workdir / name / "heldout.jsonl", args.eval_examples, 1)
        row["held_out"] = loss_pair(base, adapted, tokenizer, held, settings)
    if name == "math":
        row["arithmetic"] = arithmetic_exact_match(pack, base, adapted, tokenizer, settings, args.arithmetic)
    del base, adapted
    if args.train_steps > 0:
        row["training"] = training_speed(name, built.train_path, args.train_steps, args.threads, workdir / name)
    row["shipped_training"] = {k: card.get(k) for k in ("steps", "steps_per_second", "train_seconds", "peak_rss_mb", "device")}
    row["seconds"] = round(time.perf_counter() - started, 1)
    torch.cuda.empty_cache() if torch.cuda.is_available() else None
    return row


def _sha(built) -> str:
    from domainrag.instruct.records import file_sha256

    return file_sha256(built.train_path, built.validation_path)


def print_table(rows: list[dict]) -> None:
    print(f"{'pack':<10} {'split':<10} {'n':>4} {'base ppl':>9} {'adapter ppl':>11} {'reduction':>9}")
    for row in rows:
        if "skipped" in row:
            print(f"{row['pack']:<10} skipped: {row['skipped']}")
            continue
        for split in ("validation", "held_out"):
            if split in row:
                r = row[split]
                print(f"{row['pack']:<10} {split:<10} {r['examples']:>4} {r['base_ppl']:>9.2f} {r['adapter_ppl']:>11.2f} "
                      f"{r['ppl_reduction_pct']:>8.1f}%")
        if "arithmetic" in row:
            a = row["arithmetic"]
            print(f"{'':<10} arithmetic exact match on {a['problems']} held-out problems: base {a['base']['exact_match']:.3f}"
                  f" → adapter {a['adapter']['exact_match']:.3f} (×{a['ratio']})")
        if "training" in row:
            t = row["training"]
            print(f"{'':<10} training: {t.get('steps_per_second')} steps/s (batch {t.get('batch_size')}, "
                  f"max_length {t.get('max_length')}), peak RSS {t.get('peak_rss_mb')} MB {t.get('error', '')}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packs", default=",".join(PACKS))
    parser.add_argument("--eval-examples", type=int, default=200, help="validation / held-out examples per pack")
    parser.add_argument("--arithmetic", type=int, default=200, help="held-out arithmetic problems (math)")
    parser.add_argument("--train-steps", type=int, default=10, help="steps of the speed run (0: skip)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (evaluation and the speed run)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    args = parser.parse_args()
    quiet()
    os.environ.setdefault("DOMAINRAG_HOME", tempfile.mkdtemp(prefix="tune-bench-home-"))
    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if not SHARED_DATA.exists():
        print(f"note: {SHARED_DATA} not found; held-out figures are skipped", file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tune-bench-") as tmp:
        for name in [p.strip() for p in args.packs.split(",") if p.strip()]:
            print(f"[{name}] evaluating ...", file=sys.stderr)
            rows.append(run_pack(name, args, Path(tmp)))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
