"""Pairwise judging through the real openai client against a small OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from domainrag.cli.main import app
from domainrag.errors import ModelError
from domainrag.evaluate.judge import PairwiseJudge, combine, judge_runs, parse_verdict
from loopback import free_port, serve_app


def judge_app() -> FastAPI:
    """Deterministic judges. "fair": prefers the response containing 正确 (tie if both or neither);
    "first": always says 1 (pure position bias); "mumble": never gives a verdict."""
    server = FastAPI()
    server.state.requests = []

    @server.post("/v1/chat/completions")
    def completions(body: dict[str, Any]) -> dict[str, Any]:
        server.state.requests.append(body)
        prompt = body["messages"][-1]["content"]
        first, second = re.search(r"### Response 1:\n(.*)\n\n### Response 2:\n(.*)\n\nWhich", prompt, re.S).groups()
        if body["model"] == "first":
            verdict = "1"
        elif body["model"] == "mumble":
            verdict = "Both have merits."
        else:
            good = ["正确" in first, "正确" in second]
            verdict = "Tie" if good[0] == good[1] else ("1" if good[0] else "2")
        return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": f"{verdict}\nbecause."}}]}

    return server


@pytest.fixture(scope="module")
def judge_server():
    server_app = judge_app()
    with serve_app(server_app) as url:
        yield f"{url}/v1", server_app


def rows(answers: dict[str, str]) -> list[dict[str, Any]]:
    return [{"id": qid, "question": f"问题{qid}", "kind": "text", "answer": {"text": text},
             "retrieval": None, "latency": {"retrieve_ms": None, "answer_ms": 10.0}} for qid, text in answers.items()]


RUN_A = rows({"q1": "正确的答案", "q2": "错误的答案", "q3": "正确", "q4": "错误"})
RUN_B = rows({"q1": "错误的答案", "q2": "正确的答案", "q3": "也正确", "q4": "也错误", "q5": "只有B"})


def test_verdict_parsing_and_combination() -> None:
    assert [parse_verdict(t) for t in ("1\nreason", "**2**", "Tie.", "Response 1 is better", "平局", "I think 2")] == \
        ["1", "2", "tie", "1", "tie", None]
    assert combine("1", "2") == "A" and combine("2", "1") == "B"          # consistent across both orders
    assert combine("1", "1") == "tie" and combine("tie", "2") == "tie"    # position-following or half tie
    assert combine(None, "2") == "tie"


def test_fair_judge_win_tie_loss(judge_server) -> None:
    url, server = judge_server
    before = len(server.state.requests)
    summary = judge_runs(PairwiseJudge(url, "fair"), RUN_A, RUN_B).to_dict()
    assert (summary["b_wins"], summary["ties"], summary["b_losses"]) == (1, 2, 1)
    assert summary["questions"] == 4 and summary["b_win_rate"] == 0.25  # q5 was answered by B only
    assert summary["position_consistency"] == 1.0 and summary["first_position_preference"] == 0.5
    assert len(server.state.requests) - before == 8  # every pair judged twice
    q1 = [r for r in server.state.requests[before:] if "问题q1" in r["messages"][-1]["content"]]
    assert [bool(re.search("Response 1:\n正确", r["messages"][-1]["content"])) for r in q1] == [True, False]
    assert q1[0]["temperature"] == 0


def test_position_bias_is_cancelled_by_swapping(judge_server) -> None:
    url, _ = judge_server
    summary = judge_runs(PairwiseJudge(url, "first"), RUN_A, RUN_B).to_dict()
    assert summary["ties"] == 4 and summary["b_wins"] == summary["b_losses"] == 0
    assert summary["position_consistency"] == 0.0 and summary["first_position_preference"] == 1.0
    mumbled = judge_runs(PairwiseJudge(url, "mumble"), RUN_A, RUN_B, limit=2).to_dict()
    assert mumbled["ties"] == 2 and mumbled["unparsed"] == 4


def test_unreachable_judge_is_one_clear_error() -> None:
    port = free_port()
    with pytest.raises(ModelError, match=rf"judge endpoint http://127.0.0.1:{port}/v1 unreachable"):
        PairwiseJudge(f"http://127.0.0.1:{port}/v1", "fair", timeout=5).judge("q", "Q", "a", "b")


def test_cli_compare_with_judge(judge_server, tmp_path: Path) -> None:
    url, _ = judge_server
    for name, run_rows in (("a", RUN_A), ("b", RUN_B)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "run.json").write_text(json.dumps({"pack": "law", "set": "s", "k": 5, "items": len(run_rows)}))
        (folder / "results.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in run_rows))
    result = CliRunner().invoke(app, ["eval", "--compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json",
                                      "--judge-url", url, "--judge-model", "fair", "--report", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["judge"]["b_wins"], data["judge"]["ties"], data["judge"]["b_losses"]) == (1, 2, 1)
    assert data["common"] == 4 and data["only_b"] == 1
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["judge"]["questions"] == 4
    plain = CliRunner().invoke(app, ["eval", "--compare", str(tmp_path / "a"), str(tmp_path / "b"),
                                     "--judge-url", url, "--judge-model", "first"])
    assert plain.exit_code == 0 and "B wins 0, ties 4, B loses 0" in " ".join(plain.stdout.split())
