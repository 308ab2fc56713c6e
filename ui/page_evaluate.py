"""Evaluate page: run a pack's eval set and chart recall@k and latency; open earlier runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from domainrag.config import domainrag_home
from domainrag.errors import DomainRAGError
from domainrag.evaluate import EvalReport, load_run, pack_sets, resolve_set, run_eval
from domainrag.retrieve import MODES
from domainrag.ui import ui_state

rag = ui_state.current_rag()
pack = rag.pack
REPORT_KEY = f"eval-report-{pack.name}"


def earlier_runs() -> dict[str, Path]:
    """Label → folder of this pack's eval runs under DOMAINRAG_HOME/eval (newest first)."""
    root = domainrag_home() / "eval"
    runs: dict[str, Path] = {}
    for config_file in sorted(root.glob("*/run.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if config.get("pack") == pack.name:
            runs[f"{config.get('started', '?')} · {config.get('set')} · {config.get('items')} q · "
                 f"k={config.get('k')}"] = config_file.parent
    return runs


def run_form(sets: dict[str, Path]) -> None:
    with st.form("eval-form", border=True):
        left, middle, right = st.columns(3)
        set_name = left.selectbox("Eval set", list(sets), key="eval-set")
        limit = middle.number_input("Questions (0 = all)", 0, 100000, 20, step=10, key="eval-limit",
                                    help="Start small: answers are generated on this machine.")
        k = right.slider("Retrieval depth k", 1, 50, 10, key="eval-k")
        mode = left.segmented_control("Retrieval mode", MODES, default=pack.retrieval.mode, required=True,
                                      key="eval-mode")
        answers = middle.radio("Answers", ["none", "auto", "all"], horizontal=True, key="eval-answers",
                               help="none: score retrieval only (fast); auto: generate where the gold is an "
                                    "answer (choices, numbers); all: generate for every question.")
        max_tokens = right.number_input("Max new tokens per answer", 8, 2048, 128, step=16, key="eval-tokens")
        submitted = st.form_submit_button("Run evaluation", type="primary", icon=":material/play_arrow:")
    if not submitted:
        return
    try:
        eval_set = resolve_set(pack, set_name)
        bar = st.progress(0.0, text=f"Evaluating {eval_set.name}…")

        def advance(done: int, total: int, row: dict[str, Any]) -> None:
            bar.progress(done / total, text=f"{done}/{total} · {row['id']}")

        report = run_eval(rag, eval_set, k=k, answers=answers, mode=mode, limit=limit or None,
                          ask_options={"max_new_tokens": int(max_tokens)}, on_item=advance)
        report.write(charts=False)  # report.json + report.md, so `domainrag eval --compare` can use this run
    except DomainRAGError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    bar.empty()
    st.session_state[REPORT_KEY] = str(report.run_dir)


def metric_row(report: EvalReport) -> None:
    aggregates = report.aggregates
    retrieval, answers, latency = aggregates["retrieval"], aggregates["answers"], aggregates["latency"]
    shown: list[tuple[str, Any, str]] = [("Questions", aggregates["questions"], "")]
    for key in (f"recall@{report.k}", f"mrr@{report.k}", f"ndcg@{report.k}"):
        if retrieval.get(key) is not None:
            shown.append((key, f"{retrieval[key]:.3f}", f"over {retrieval['n']} questions with gold sources"))
    for key in ("choice_accuracy", "exact_match", "rouge_l", "citation_precision", "faithfulness"):
        if answers.get(key) is not None:
            shown.append((key.replace("_", " "), f"{answers[key]:.3f}", f"over {answers.get(key + '_n')} answers"))
    for stage in ("retrieve_ms", "answer_ms"):
        if latency[stage].get("p50") is not None:
            shown.append((f"{stage.removesuffix('_ms')} p50", f"{latency[stage]['p50']:.0f} ms",
                          f"p95 {latency[stage]['p95']:.0f} ms"))
    for column, (label, value, help_text) in zip(st.columns(len(shown)), shown):
        column.metric(label, value, help=help_text or None)


def recall_chart(report: EvalReport) -> None:
    curve = report.recall_curve
    if not curve:
        st.info("No question of this set has gold sources, so there is no recall curve.")
        return
    data = pd.DataFrame({"k": list(curve), "recall": list(curve.values())})
    scale = alt.Scale(type="log") if max(curve) >= 20 else alt.Undefined
    line = alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("k:Q", title="k (retrieved passages)", scale=scale),
        y=alt.Y("recall:Q", title="recall@k", scale=alt.Scale(domain=[0, 1])),
        tooltip=["k", alt.Tooltip("recall:Q", format=".3f")])
    labels = line.mark_text(dy=-10, fontSize=11).encode(text=alt.Text("recall:Q", format=".2f"))
    st.altair_chart(line + labels, width="stretch")


def latency_chart(report: EvalReport) -> None:
    rows = [{"stage": stage.removesuffix("_ms"), "ms": value}
            for stage, values in report.latencies.items() for value in values]
    if not rows:
        return
    chart = alt.Chart(pd.DataFrame(rows)).mark_bar(opacity=0.8).encode(
        x=alt.X("ms:Q", bin=alt.Bin(maxbins=25), title="latency (ms)"),
        y=alt.Y("count():Q", title="questions"),
        color=alt.Color("stage:N", title="stage"),
        column=alt.Column("stage:N", title=None),
    ).resolve_scale(x="independent")
    st.altair_chart(chart)


def question_table(report: EvalReport) -> None:
    rows = []
    for row in report.rows:
        retrieval, answer = row.get("retrieval") or {}, row.get("answer") or {}
        rows.append({"id": row["id"], "question": row["question"], "gold": row.get("gold", ""),
                     "first gold rank": retrieval.get("first_rank"),
                     f"recall@{report.k}": retrieval.get(f"recall@{report.k}"),
                     "answer correct": answer.get("correct"), "retrieve ms": row["latency"].get("retrieve_ms"),
                     "answer ms": row["latency"].get("answer_ms")})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
        "question": st.column_config.TextColumn(width="large"),
        f"recall@{report.k}": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f"),
        "retrieve ms": st.column_config.NumberColumn(format="%.0f"),
        "answer ms": st.column_config.NumberColumn(format="%.0f")})


def show_report(report: EvalReport) -> None:
    config = report.config
    st.subheader(f"{config.get('set')} · {len(report.rows)} questions · {config.get('mode')} · k={report.k}")
    st.caption(f"KB `{config.get('kb')}` (version {config.get('kb_version')}) · started {config.get('started')} · "
               f"`{report.run_dir}`")
    metric_row(report)
    left, right = st.columns(2)
    with left:
        st.markdown("**Recall@k**")
        recall_chart(report)
    with right:
        st.markdown("**Latency per question**")
        latency_chart(report)
    with st.expander(f"Per-question results ({len(report.rows)})", icon=":material/table:"):
        question_table(report)
    misses = report.misses()
    if misses:
        with st.expander(f"Misses ({len(misses)} shown)", icon=":material/search_off:"):
            for row in misses:
                st.markdown(f"**{row['id']}** — {row['question'][:200]}")
                st.caption(f"gold: {row.get('gold', '')}")


st.title("Evaluate")
st.caption(f"Score the `{pack.name}` pack on `{rag.kb}`: retrieval (recall@k, MRR, nDCG) and, optionally, "
           "generated answers. Runs are saved under DOMAINRAG_HOME/eval and can be compared with "
           "`domainrag eval --compare`.")
sets = pack_sets(pack)
if not sets:
    st.info(f"The {pack.name} pack ships no eval sets (`{pack.path / 'eval'}` is empty); "
            "use `domainrag eval --set FILE` for your own.", icon=":material/info:")
else:
    run_form(sets)
runs = earlier_runs()
if runs:
    current = st.session_state.get(REPORT_KEY)
    labels = list(runs)
    index = next((i for i, label in enumerate(labels) if str(runs[label]) == current), 0)
    chosen = st.selectbox("Run", labels, index=index, key=f"eval-run-{current}")
    try:
        show_report(load_run(runs[chosen]))
    except DomainRAGError as exc:
        st.error(str(exc), icon=":material/error:")
