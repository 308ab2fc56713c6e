"""``domainrag eval``: score a pack's retrieval and answers on an eval set; compare two runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from domainrag.cli.ask import AdapterOpt, BaseModelOpt, LlmEndpointOpt, LlmModelOpt, MaxTokensOpt
from domainrag.cli.common import (EmbeddingOpt, JsonOpt, KbOpt, TokenOpt, UriOpt, answer_mode_for, err, fail,
                                  handle_errors, open_rag, out, print_json)


@handle_errors
def eval_command(
    pack: str = typer.Argument(None, help="Pack name (law, finance, ...) or a pack folder path."),
    eval_set: str = typer.Option(None, "--set", "-s", help="Eval set: a .jsonl/.json file, or the name of a set in "
                                 "the pack's eval/ folder (default: the pack's first set)."),
    k: int = typer.Option(10, "--k", "-k", min=1, max=1000, help="Retrieval depth scored (recall@1…k, MRR, nDCG)."),
    as_json: bool = JsonOpt,
    report: Path = typer.Option(None, "--report", help="Run folder for results and the report; rerunning with the "
                                "same folder resumes an interrupted run (default: a new folder under DOMAINRAG_HOME/eval)."),
    limit: int = typer.Option(None, "--limit", "-n", min=1, help="Only the first N questions (quick runs)."),
    answers: str = typer.Option("auto", "--answers", help="auto: generate answers only where the gold is an answer "
                                "(MCQ, numbers, text without retrieval gold); all: for every question (adds citation precision and "
                                "faithfulness); none: retrieval only."),
    mode: str = typer.Option(None, "--mode", help="Retrieval mode: hybrid, dense or bm25 (default: the pack's)."),
    fresh: bool = typer.Option(False, "--fresh", help="Discard earlier results in the --report folder."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Warn about malformed set lines and skip them "
                                      "instead of stopping."),
    kb: str = KbOpt, uri: str = UriOpt, token: str = TokenOpt, embedding_model: str = EmbeddingOpt,
    answer_mode: str = typer.Option(None, "--answer-mode", help="grounded or extractive (default: the pack's, or "
                                    "grounded when --llm-endpoint or --base-model names a model)."),
    adapter: str = AdapterOpt,
    llm_endpoint: str = LlmEndpointOpt, llm_model: str = LlmModelOpt, base_model: str = BaseModelOpt,
    max_new_tokens: int = MaxTokensOpt,
    compare: tuple[str, str] | None = typer.Option(None, "--compare", metavar="RUN_A RUN_B",
                                            help="Compare two run folders: side-by-side metrics with deltas (B − A)."),
    judge_url: str = typer.Option(None, "--judge-url", help="With --compare: OpenAI-compatible base URL of a judge "
                                  "model for pairwise win/tie/loss (asked twice per question, positions swapped)."),
    judge_model: str = typer.Option(None, "--judge-model", help="Judge model name at --judge-url."),
    judge_key: str = typer.Option(None, "--judge-key", help="API key for the judge (default: $DOMAINRAG_JUDGE_API_KEY "
                                  "or $OPENAI_API_KEY)."),
) -> None:
    """Evaluate retrieval (recall@k, MRR, nDCG) and answers (accuracy, exact match, ROUGE-L, citation precision,
    faithfulness) of a pack on an eval set; write report.json, report.md and PNG charts.

    `domainrag eval --compare RUN_A RUN_B` prints both runs' metrics side by side with deltas.
    """
    if compare and compare[0] is not None:
        _compare(compare, as_json, report, limit, judge_url, judge_model, judge_key)
        return
    if not pack:
        fail("give a PACK to evaluate (e.g. `domainrag eval law`) or --compare RUN_A RUN_B")
    from domainrag.evaluate import resolve_set, run_eval

    rag = open_rag(pack, uri, kb, embedding_model, token).with_llm(
        endpoint=llm_endpoint, model=llm_model, base_model=base_model,
        answer_mode=answer_mode_for(answer_mode, llm_endpoint, base_model))
    loaded = resolve_set(rag.pack, eval_set, skip_invalid=skip_invalid,
                         warn=lambda message: err.print(f"[yellow]warning[/] {escape(message)}", markup=True))
    try:
        result = run_eval(rag, loaded, k=k, answers=answers, mode=mode, limit=limit, run_dir=report, fresh=fresh,
                          ask_options={"adapter": adapter, "max_new_tokens": max_new_tokens},
                          settings={"llm_endpoint": llm_endpoint, "llm_model": llm_model, "base_model": base_model,
                                    "embedding_model": embedding_model}, progress=True)
    except KeyboardInterrupt:
        where = f" --report {report}" if report else " --report <the run folder printed above>"
        err.print(f"interrupted: finished questions are saved; rerun the same command with{where} to resume")
        raise typer.Exit(130) from None
    paths = result.write()
    err.print(f"report: {paths['markdown']}")
    if as_json:
        print_json({"run_dir": str(result.run_dir), "config": result.config, "aggregates": result.aggregates,
                    "recall_curve": result.recall_curve, "files": {k: str(v) for k, v in paths.items()}})
        return
    _print_aggregates(result.aggregates)


def _print_aggregates(agg: dict[str, Any]) -> None:
    table = Table("metric", "value", "questions", title=f"eval ({agg['questions']} questions)")
    for section in ("retrieval", "answers"):
        values = agg[section]
        for key, value in values.items():
            if key == "n" or key.endswith("_n") or value is None:
                continue
            table.add_row(f"{section}.{key}", f"{value:.3f}", str(values.get(f"{key}_n", values["n"])))
    for stage, stats in agg["latency"].items():
        if stats["n"]:
            table.add_row(f"latency.{stage} p50 / p95", f"{stats['p50']:.0f} / {stats['p95']:.0f}", str(stats["n"]))
    out.print(table)


def _compare(runs: tuple[str, str], as_json: bool, report: Path | None, limit: int | None,
             judge_url: str | None, judge_model: str | None, judge_key: str | None) -> None:
    from domainrag.evaluate import compare_reports, load_run

    run_a, run_b = load_run(runs[0]), load_run(runs[1])
    result = compare_reports(run_a, run_b)
    if judge_url or judge_model:
        result["judge"] = _judge(run_a, run_b, judge_url, judge_model, judge_key, limit)
    if report:
        Path(report).mkdir(parents=True, exist_ok=True)
        (Path(report) / "compare.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    if as_json:
        print_json(result)
        return
    for key, (a, b) in result["settings"].items():
        err.print(f"{key}: A={a} B={b}", style="dim")
    table = Table("metric", "A", "B", "Δ (B − A)", title=f"A = {runs[0]}\nB = {runs[1]}\n{result['common']} common questions")
    for row in result["metrics"]:
        delta = row["delta"]
        colour = {"A": "red", "B": "green"}.get(row["better"] or "", "")
        shown = f"{delta:+.3f}" if delta is not None else "–"
        table.add_row(row["metric"], *(f"{v:.3f}" if v is not None else "–" for v in (row["a"], row["b"])),
                      Text(shown, style=colour))
    out.print(table)
    if "judge" in result:
        j = result["judge"]
        out.print(f"judge {judge_model}: B wins {j['b_wins']}, ties {j['ties']}, B loses {j['b_losses']} of "
                  f"{j['questions']} (position consistency {j['position_consistency']:.2f}, "
                  f"first-position preference {_pct(j['first_position_preference'])})")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _judge(run_a: Any, run_b: Any, url: str | None, model: str | None, key: str | None,
           limit: int | None) -> dict[str, Any]:
    from domainrag.errors import DomainRAGError
    from domainrag.evaluate import load_eval_set
    from domainrag.evaluate.judge import PairwiseJudge, judge_runs

    judge = PairwiseJudge(url or "", model or "", key)
    references: dict[str, str] = {}
    try:
        references = {i.id: i.answer for i in load_eval_set(run_a.config.get("set_path", "")).items if i.answer}
    except DomainRAGError:
        pass  # the set file moved: judge without reference answers
    from tqdm import tqdm

    with tqdm(desc="judge", unit="pair", file=sys.stderr, leave=False) as bar:
        def step(done: int, total: int) -> None:
            bar.total = total
            bar.update(1)

        return judge_runs(judge, run_a.rows, run_b.rows, references, limit=limit, on_pair=step).to_dict()
