"""run_eval on the real small law knowledge base: metrics per question, resume, reports, CLI, one real ask."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from domainrag.cli.main import app
from domainrag.errors import ConfigError
from domainrag.evaluate import load_eval_set, load_run, run_eval
from domainrag.evaluate.report import aggregate

DATA = Path(__file__).parent / "data" / "eval"
SMALL_SET = DATA / "law_small.jsonl"


class CountingRag:
    """The real DomainRAG, counting searches (to see which questions a resumed run repeats)."""

    def __init__(self, rag: Any) -> None:
        self.inner, self.searches = rag, 0

    def search(self, *args: Any, **kwargs: Any) -> Any:
        self.searches += 1
        return self.inner.search(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def small_run(law_rag: Any, tmp_path_factory: pytest.TempPathFactory):
    return run_eval(law_rag, SMALL_SET, k=5, answers="none", run_dir=tmp_path_factory.mktemp("run-small"))


def test_retrieval_rows_match_known_answers(small_run: Any) -> None:
    rows = {r["id"]: r["retrieval"] for r in small_run.rows}
    assert list(rows) == ["coop-56", "sole-2", "theft-264", "drunk-133-1", "company-13"]
    # questions that quote their article are answered by it at rank 1
    assert rows["coop-56"]["first_rank"] == 1 and rows["theft-264"]["first_rank"] == 1
    top = rows["coop-56"]["top"][0]
    assert top["title"] == "中华人民共和国农民专业合作社法" and top["article"] == "56"
    # the company law is not in the knowledge base: nothing can be found
    assert rows["company-13"]["recall@5"] == 0 and rows["company-13"]["first_rank"] is None
    for row in rows.values():  # the figures agree with the ranked hits that were kept
        ranks = [n for n, hit in enumerate(row["top"], start=1) if hit["gold"]]
        assert row["first_rank"] == (ranks[0] if ranks else None)
        assert row["mrr"] == pytest.approx(1 / ranks[0] if ranks else 0.0)


def test_aggregates_are_means_of_rows(small_run: Any) -> None:
    agg = small_run.aggregates
    rows = [r["retrieval"] for r in small_run.rows]
    assert agg["retrieval"]["n"] == 5 and agg["answers"]["n"] == 0
    assert agg["retrieval"]["recall@5"] == pytest.approx(sum(r["recall@5"] for r in rows) / 5)
    assert agg["retrieval"]["mrr@5"] == pytest.approx(sum(r["mrr"] for r in rows) / 5)
    assert agg["retrieval"]["hit_rate@5"] <= 0.8  # company-13 cannot be found
    assert sorted(small_run.recall_curve) == [1, 3, 5]
    assert len(small_run.latencies["retrieve_ms"]) == 5


def test_chunk_id_gold(law_rag: Any, tmp_path: Path) -> None:
    question = "个人独资企业解散后，原投资人对企业存续期间的债务仍应承担偿还责任吗？"
    second = law_rag.search(question, k=2)[1]
    path = tmp_path / "ids.jsonl"
    path.write_text(json.dumps({"question": question, "gold_chunk_ids": [second.chunk_id]}, ensure_ascii=False), encoding="utf-8")
    row = run_eval(law_rag, path, k=2, run_dir=tmp_path / "run").rows[0]["retrieval"]
    assert row["first_rank"] == 2 and row["recall@1"] == 0 and row["recall@2"] == 1 and row["mrr"] == 0.5


def test_interrupted_run_resumes(law_rag: Any, tmp_path: Path) -> None:
    counting = CountingRag(law_rag)
    first = run_eval(counting, SMALL_SET, k=5, limit=2, run_dir=tmp_path, mode="bm25")
    assert len(first.rows) == 2 and counting.searches == 1 + 2  # warm-up + two questions
    with (tmp_path / "results.jsonl").open("a", encoding="utf-8") as results:
        results.write('{"id": "theft-264", "retri')  # a line cut short by a kill
    counting.searches = 0
    resumed = run_eval(counting, SMALL_SET, k=5, run_dir=tmp_path, mode="bm25")
    assert counting.searches == 1 + 3 and [r["id"] for r in resumed.rows][:2] == ["coop-56", "sole-2"]
    assert len((tmp_path / "results.jsonl").read_text(encoding="utf-8").splitlines()) == 5
    assert resumed.complete
    with pytest.raises(ConfigError, match=r"k=5 \(now 3\).*--fresh"):
        run_eval(counting, SMALL_SET, k=3, run_dir=tmp_path, mode="bm25")
    counting.searches = 0
    fresh = run_eval(counting, SMALL_SET, k=3, run_dir=tmp_path, mode="bm25", fresh=True)
    assert len(fresh.rows) == 5 and counting.searches == 6


def test_report_files(small_run: Any, tmp_path: Path) -> None:
    paths = small_run.write(tmp_path)
    assert paths["recall_chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths["latency_chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = paths["markdown"].read_text(encoding="utf-8")
    assert "| recall@5 |" in markdown and "![recall@k](recall_at_k.png)" in markdown and "company-13" in markdown
    again = load_run(tmp_path)
    assert again.rows == small_run.rows and aggregate(again.rows, 5) == small_run.aggregates


def test_cli_eval_json_and_compare(law_rag: Any, tmp_path: Path) -> None:
    runner = CliRunner()
    common = ["eval", "law", "--set", str(SMALL_SET), "--uri", law_rag.uri, "--kb", law_rag.kb, "--answers", "none"]
    bm25 = runner.invoke(app, [*common, "--mode", "bm25", "--k", "3", "--report", str(tmp_path / "a"), "--json"])
    assert bm25.exit_code == 0, bm25.output
    data = json.loads(bm25.stdout)
    assert data["config"]["mode"] == "bm25" and data["aggregates"]["retrieval"]["n"] == 5
    assert Path(data["files"]["markdown"]).exists()
    hybrid = runner.invoke(app, [*common, "--k", "3", "--limit", "3", "--report", str(tmp_path / "b")])
    assert hybrid.exit_code == 0 and "retrieval.recall@3" in hybrid.stdout
    compared = runner.invoke(app, ["eval", "--compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json"])
    result = json.loads(compared.stdout)
    assert result["common"] == 3 and result["only_a"] == 2 and result["settings"]["mode"] == ["bm25", "hybrid"]
    recall = next(m for m in result["metrics"] if m["metric"] == "retrieval.recall@3")
    assert recall["delta"] == pytest.approx(recall["b"] - recall["a"])
    table = runner.invoke(app, ["eval", "--compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert table.exit_code == 0 and "Δ (B − A)" in table.stdout


def test_cli_names_the_bad_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "law", "--set", str(DATA / "bad_json.jsonl"), "--report", str(tmp_path)])
    assert result.exit_code == 2
    assert "bad_json.jsonl:3: invalid JSON" in result.output and "Traceback" not in result.output
    missing = CliRunner().invoke(app, ["eval", "--compare", str(tmp_path / "x"), str(tmp_path / "y")])
    assert missing.exit_code == 2 and "not an eval run folder" in " ".join(missing.output.split())


@pytest.mark.slow
def test_answer_eval_with_the_real_model(law_rag: Any, tmp_path: Path) -> None:
    """One question through DomainRAG.ask (local model): the row carries the answer's metrics."""
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"id": "mcq", "question": "三个以上的农民专业合作社可以出资设立什么?A:公司;B:联合社;C:基金会;D:工会",
                                "answer": ["B"]}, ensure_ascii=False), encoding="utf-8")
    report = run_eval(law_rag, load_eval_set(path), k=5, run_dir=tmp_path / "run", ask_options={"max_new_tokens": 24})
    answer = report.rows[0]["answer"]
    assert report.rows[0]["retrieval"] is None  # no retrieval gold: only the answer is scored
    assert isinstance(answer["correct"], bool) and isinstance(answer["predicted"], list)
    assert answer["text"].strip() and answer["model"]
    assert report.rows[0]["latency"]["answer_ms"] > 0
    assert report.aggregates["answers"]["choice_accuracy"] == (1.0 if answer["correct"] else 0.0)


def test_doc_id_gold_finds_chunks_of_a_jsonl_corpus(tmp_path: Path, domainrag_home: Path) -> None:
    from domainrag import DomainRAG

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    records = [{"id": "d-fever", "title": "Fever", "text": "Aspirin lowers a fever within an hour."},
               {"id": "d-pain", "title": "Pain", "text": "Ibuprofen relieves joint pain after exercise."}]
    (corpus / "docs.jsonl").write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    rag = DomainRAG.from_pack("law", uri=str(domainrag_home / "shared.db"), kb="jsonl_doc_ids")
    assert rag.ingest(corpus).chunks_added == 2
    questions = tmp_path / "qs.jsonl"
    questions.write_text(json.dumps({"question": "What relieves joint pain?", "gold_doc_ids": ["d-pain"]}), encoding="utf-8")
    row = run_eval(rag, questions, k=2, answers="none", run_dir=tmp_path / "run").rows[0]["retrieval"]
    assert row["first_rank"] == 1 and row["recall@1"] == 1
