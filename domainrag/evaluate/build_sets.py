"""Regenerate the eval sets shipped in ``domains/<pack>/eval/`` from the shared public data.

    python -m domainrag.evaluate.build_sets --data ../shared/data [--packs law,math] [--out domains]

Every rule is deterministic (no sampling with a seed, no hand edits), so the same data gives the same files.
Questions that already appear in a pack's corpus (e.g. GAOKAO items used as education reference text) are
left out, so an eval never scores a question whose answer sheet was ingested.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path
from typing import Any

from domainrag.evaluate.gold import squeeze
from domainrag.lawref import normalize_law_name, parse_article_ref

LAWBENCH = ("open-compass/LawBench", "e30981bb3ff54c41571f222e0b23e92d27375388", "Apache-2.0 (code); data mixed from "
            "JEC-QA, CAIL and LawGPT_zh scenario QA: research and evaluation use")
FINEVAL = ("SUFE-AIFLM-Lab/FinEval", "b676e912f52f35d515d635ea67df4626deaa69b2", "Apache-2.0")
MEDICALGPT = ("shibing624/MedicalGPT", "2f1008cfa49cbba69ff6f138c3b5e2fb0646bdc7", "Apache-2.0")
GAOKAO = ("OpenLMLab/GAOKAO-Bench", "6dbb24f8d8439041e5431c4c184a582182a6ce9c", "Apache-2.0")
GSM8K = ("openai/grade-school-math", "3101c7d5072418e28b9008a6636bde82a006892c", "MIT")
GAOKAO_SUBJECTS = ("Biology", "Chemistry", "Chinese_Lang_and_Usage", "Geography", "History", "Math_I", "Math_II",
                   "Physics", "Political_Science")
DOMAINS = Path(__file__).resolve().parents[2] / "domains"
PER_SUBJECT, LAWBENCH_MCQ, GSM8K_TAKE, SPAN_CHARS = 20, 200, 200, 30
_CLAUSE = re.compile(r"[，,；;。\n]")
_DATE_PREFIX = re.compile(r"^(?:截至|截止)?\s*[\d年月日季度一二三四第上下半末报今目前年初]*[，,]\s*")


def _bigrams(text: str) -> set[str]:
    chars = [c for c in text if c.isalnum()]
    return {a + b for a, b in zip(chars, chars[1:])}


# ---- law ---------------------------------------------------------------------------------------------------
def build_law(data: Path, domains: Path) -> dict[str, list[dict[str, Any]]]:
    """LawBench 3-2 dev (all 250: scenario → the one article; gold = first 《law》第N条 in the answer) and
    LawBench 1-2 (first 200 legal-exam MCQs). ``in_pack_corpus`` says whether the law pack ships the gold law."""
    shipped = {normalize_law_name(p.stem) for p in (domains / "law/corpus").glob("**/*.md")}
    shipped |= {"民法典"} if any((domains / "law/corpus").glob("民法典/*.md")) else set()
    articles = []
    for n, record in enumerate(json.loads((data / "law/lawbench/3-2.dev.json").read_text(encoding="utf-8"))):
        ref = parse_article_ref(record["answer"])
        if ref is None:
            print(f"law 3-2 record {n}: no article reference in the answer; left out", file=sys.stderr)
            continue
        articles.append({"id": f"lawbench-3-2-{n:03d}", "question": record["question"], "answer": record["answer"],
                         "kind": "text", "gold_articles": [ref.to_dict()], "in_pack_corpus": ref.law in shipped})
    mcq = []
    for n, record in enumerate(json.loads((data / "law/lawbench/1-2.json").read_text(encoding="utf-8"))[:LAWBENCH_MCQ]):
        letters = re.findall(r"[A-D]", record["answer"])
        mcq.append({"id": f"lawbench-1-2-{n:03d}", "question": record["question"], "answer": sorted(set(letters)),
                    "kind": "mcq", "prompt": f"{record['instruction']}\n{record['question']}"})
    return {"articles_lawbench_3-2": articles, "mcq_lawbench_1-2": mcq}


# ---- finance -----------------------------------------------------------------------------------------------
def _fact_span(sentence: str) -> str:
    """"2025年05月15日，一鸣食品的当前价为21.81元。" → "一鸣食品的当前价为21.81元" (date prefix and end dropped)."""
    return _DATE_PREFIX.sub("", sentence.strip()).rstrip("。.；; ")


def _best_spans(question: str, spans: list[str], limit: int = 3) -> list[str]:
    """The spans sharing most character bigrams with the question (the facts it asks about)."""
    grams = _bigrams(question)
    scored = [(len(_bigrams(s) & grams), -i, s) for i, s in enumerate(spans)]
    top = max((score for score, _, _ in scored), default=0)
    return [s for score, _, s in sorted(scored, reverse=True) if score == top][:limit] if top else spans[:1]


def _number_clauses(logic: str, context: str, question: str) -> list[str]:
    """Clauses of the context that hold the operands of the worked calculation (e.g. the fund's NAV)."""
    spans = []
    for number in re.findall(r"\d+(?:\.\d+)?", logic.replace(",", "")):
        if len(number) < 3 or number in question.replace(",", ""):
            continue
        for clause in _CLAUSE.split(context):
            if number in clause:
                clause = clause.strip()
                at = clause.index(number)
                spans.append(clause[max(0, at - SPAN_CHARS):at + len(number)])
                break
    return list(dict.fromkeys(spans))[:3]


def _shipped_rows(domains: Path, name: str) -> set[str] | None:
    """序号 of the FinEval rows the finance pack's corpus ships (None when it ships no such file)."""
    path = domains / "finance/corpus/fineval" / name
    if not path.exists():
        return None
    with path.open(encoding="utf-8") as handle:
        return {row["序号"] for row in csv.DictReader(handle)}


def build_finance(data: Path, domains: Path) -> dict[str, list[dict[str, Any]]]:
    """FinEval Financial Rigor Test, the rows whose retrieved articles the finance pack ships (all rows when
    it ships none): index-extraction questions (gold: the reference facts that occur verbatim in the row's own
    articles and best match the question) and numerical ones (numeric answer; gold: context clauses holding
    the calculation's operands)."""
    folder = data / "finance/fineval_rigor"
    records = []
    shipped = _shipped_rows(domains, "index_extraction.csv")
    with (folder / "index_extraction.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if shipped is not None and row["序号"] not in shipped:
                continue
            facts = json.loads(row["参考答案"])
            context = squeeze(row["基座大模型query"])
            found = [span for span in (_fact_span(f) for f in facts) if span and squeeze(span) in context]
            record = {"id": f"fineval-index-{row['序号']}", "question": row["端到端query"], "answer": "\n".join(facts),
                      "kind": "text", "category": row["类型"]}
            if found:
                record["gold_spans"] = _best_spans(row["端到端query"], found)
            records.append(record)
    shipped = _shipped_rows(domains, "numerical_calculation.csv")
    with (folder / "numerical_calculation.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if shipped is not None and row["序号"] not in shipped:
                continue
            record = {"id": f"fineval-calc-{row['序号']}", "question": row["端到端query"], "answer": row["标准答案"],
                      "kind": "numeric", "calculation": row["题目答案计算逻辑"]}
            spans = _number_clauses(row["题目答案计算逻辑"], row["基座query"], row["端到端query"])
            if spans:
                record["gold_spans"] = spans
            records.append(record)
    return {"fineval_rigor": records}


# ---- medical -----------------------------------------------------------------------------------------------
def _answer_span(answer: str) -> str:
    """The first SPAN_CHARS characters of an answer, cut before any line break or quote."""
    return re.split(r"[\n\r\"\\]", answer.strip())[0][:SPAN_CHARS]


def build_medical(data: Path) -> dict[str, list[dict[str, Any]]]:
    """MedicalGPT RAG QA (all 87): question → its answer; gold = the answer's opening words."""
    records = []
    for n, line in enumerate((data / "medical/medicalgpt/medical_corpus.txt").read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        pair = json.loads(line)
        records.append({"id": f"medicalgpt-qa-{n:03d}", "question": pair["问"], "answer": pair["答"], "kind": "text",
                        "gold_spans": [_answer_span(pair["答"])]})
    return {"medical_qa": records}


# ---- education ---------------------------------------------------------------------------------------------
def corpus_questions(domains: Path) -> set[str]:
    """Squeezed ``question`` texts of every JSONL record in the packs' corpora."""
    found: set[str] = set()
    for path in domains.glob("*/corpus/**/*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                question = json.loads(line).get("question")
            except (json.JSONDecodeError, AttributeError):
                continue
            if isinstance(question, str):
                found.add(squeeze(question))
    return found


def build_education(data: Path, domains: Path) -> dict[str, list[dict[str, Any]]]:
    """GAOKAO-Bench objective MCQs: 20 evenly spaced single-question items from each of 9 Chinese-medium
    subjects, skipping questions found in any pack corpus."""
    seen = corpus_questions(domains)
    records = []
    for subject in GAOKAO_SUBJECTS:
        path = next((data / "education/gaokao_bench/Objective_Questions").glob(f"*_{subject}_MCQs.json"))
        examples = json.loads(path.read_text(encoding="utf-8"))["example"]
        eligible = [e for e in examples if len(e["answer"]) == 1 and re.fullmatch(r"[A-H]+", e["answer"][0])
                    and squeeze(e["question"]) not in seen]
        step = len(eligible) / PER_SUBJECT
        for i in range(min(PER_SUBJECT, len(eligible))):
            example = eligible[int(i * step)]
            records.append({"id": f"gaokao-{subject}-{example['index']}", "question": example["question"].strip(),
                            "answer": [example["answer"][0]], "kind": "mcq", "subject": subject,
                            "year": example["year"]})
    return {"gaokao_mcq": records}


# ---- math --------------------------------------------------------------------------------------------------
def build_math(data: Path) -> dict[str, list[dict[str, Any]]]:
    """GSM8K test, first 200: the number after "####" is the answer."""
    records = []
    lines = (data / "math/gsm8k/test.jsonl").read_text(encoding="utf-8").splitlines()[:GSM8K_TAKE]
    for n, line in enumerate(lines):
        item = json.loads(line)
        final = item["answer"].split("####")[-1].strip().replace(",", "")
        records.append({"id": f"gsm8k-test-{n:04d}", "question": item["question"], "answer": final, "kind": "numeric",
                        "solution": item["answer"]})
    return {"gsm8k_test": records}


# ---- output -----------------------------------------------------------------------------------------------
SOURCES = {
    "law": [("articles_lawbench_3-2", LAWBENCH, "data/zero_shot/3-2.json (first 250 records = shared law/lawbench/3-2.dev.json)",
             "every record; gold = the first “《law》第N条” named in the reference answer, parsed by "
             "domainrag.lawref (strips 根据/XX类中的/中华人民共和国, Chinese numerals → numbers); "
             "`in_pack_corpus` is true when domains/law/corpus/ holds that law (the others need the full "
             "LawRefBook corpus, e.g. the benchmark store)"),
            ("mcq_lawbench_1-2", LAWBENCH, "data/zero_shot/1-2.json", "the first 200 records; answer = the letter in "
             "“正确答案：X”; prompt = LawBench's instruction + the question")],
    "finance": [("fineval_rigor", FINEVAL, "Financial Rigor Test/index_extraction.csv, numerical_calculation.csv",
                 "the rows whose retrieved articles domains/finance/corpus/fineval/ ships (matched by 序号; all "
                 "rows if it ships none). Index extraction: answer = the reference facts; gold_spans = the facts (date prefix "
                 "dropped) that occur verbatim in the row's own retrieved articles, keeping those sharing most "
                 "character bigrams with the question (≤ 3). Numerical: answer = 标准答案 (numeric); gold_spans = "
                 "the context clauses holding the operands of 题目答案计算逻辑")],
    "medical": [("medical_qa", MEDICALGPT, "data/rag/medical_corpus.txt", "all 87 question/answer pairs; gold_spans = "
                 "the answer's first 30 characters (cut at a line break or quote)")],
    "education": [("gaokao_mcq", GAOKAO, "Data/Objective_Questions/2010-2022_{subject}_MCQs.json",
                   "for each of Biology, Chemistry, Chinese_Lang_and_Usage, Geography, History, Math_I, Math_II, "
                   "Physics, Political_Science: single-question items whose question is not in any pack corpus, "
                   "20 evenly spaced (index int(i × n/20))")],
    "math": [("gsm8k_test", GSM8K, "grade_school_math/data/test.jsonl", "the first 200 problems; answer = the number "
              "after “####”; the worked solution is kept as `solution`")],
}


def write_set(folder: Path, name: str, records: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def write_source(folder: Path, pack: str, counts: dict[str, int]) -> None:
    lines = [f"# Eval sets of the {pack} pack", "",
             "Built by `python -m domainrag.evaluate.build_sets --data ../shared/data --packs "
             f"{pack}` (domainrag/evaluate/build_sets.py); the rules below are the whole recipe.",
             "Format: one JSON object per line, see the README section “Evaluation”.", ""]
    for name, (repo, commit, licence), path, rule in SOURCES[pack]:
        lines += [f"## {name}.jsonl ({counts.get(name, 0)} questions)", "",
                  f"- source: https://github.com/{repo} @ {commit}, `{path}`", f"- licence: {licence}",
                  f"- rule: {rule}", ""]
    (folder / "SOURCE.md").write_text("\n".join(lines), encoding="utf-8")


def build(data: Path, out: Path, packs: list[str], domains: Path = DOMAINS) -> dict[str, dict[str, int]]:
    """Write ``out/<pack>/eval/*.jsonl`` and SOURCE.md; ``domains`` holds the corpora whose questions are excluded."""
    builders = {"law": lambda: build_law(data, domains), "finance": lambda: build_finance(data, domains),
                "medical": lambda: build_medical(data), "education": lambda: build_education(data, domains),
                "math": lambda: build_math(data)}
    summary = {}
    for pack in packs:
        sets = builders[pack]()
        folder = out / pack / "eval"
        for name, records in sets.items():
            write_set(folder, name, records)
        summary[pack] = {name: len(records) for name, records in sets.items()}
        write_source(folder, pack, summary[pack])
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared data folder")
    parser.add_argument("--out", type=Path, default=DOMAINS,
                        help="the domains/ folder to write <pack>/eval/ into")
    parser.add_argument("--packs", default=",".join(SOURCES), help="comma-separated packs")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.error(f"{args.data}: shared data folder not found; pass --data PATH")
    print(json.dumps(build(args.data, args.out, args.packs.split(",")), indent=2))


if __name__ == "__main__":
    main()
