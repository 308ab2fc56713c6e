"""Evaluate page through AppTest: a short retrieval-only run of the law pack's article set, shown as charts."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from domainrag.ui import APP_FILE


@pytest.fixture()
def eval_app(monkeypatch: pytest.MonkeyPatch, law_rag) -> AppTest:
    monkeypatch.setenv("DOMAINRAG_MILVUS_URI", law_rag.uri)
    monkeypatch.setenv("DOMAINRAG_KB", law_rag.kb)
    monkeypatch.setenv("DOMAINRAG_UI_PACK", "law")
    at = AppTest.from_file(str(APP_FILE), default_timeout=180).run()
    at.switch_page("page_evaluate.py").run()
    assert not at.exception
    return at


def test_eval_run_shows_recall_and_latency_charts(eval_app: AppTest, domainrag_home) -> None:
    at = eval_app
    at.selectbox(key="eval-set").set_value("articles_lawbench_3-2")
    at.number_input(key="eval-limit").set_value(2)
    at.radio(key="eval-answers").set_value("none")
    at.button[0].click().run()  # the form's submit button
    assert not at.exception and not at.error, [e.value for e in at.error]

    runs = [p.parent for p in (domainrag_home / "eval").glob("law-articles_lawbench_3-2-*/run.json")]
    assert runs, "the run is saved under DOMAINRAG_HOME/eval"
    report = json.loads((max(runs, key=lambda p: p.stat().st_mtime) / "report.json").read_text(encoding="utf-8"))
    assert report["aggregates"]["questions"] == 2
    # the first question asks for 农民专业合作社法 第五十六条, which is in the small KB
    assert report["rows"][0]["retrieval"]["first_rank"] is not None

    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Questions"] == "2"
    assert float(metrics["recall@10"]) == pytest.approx(report["aggregates"]["retrieval"]["recall@10"], abs=1e-3)
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2, "recall@k curve and latency histogram"
    table = at.dataframe[0].value
    assert list(table["id"]) == [r["id"] for r in report["rows"]]
