"""``domainrag ask`` / ``serve`` from the command line: output formats and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domainrag import DomainRAG
from domainrag.cli.main import app
from loopback import free_port
from test_ask import THEFT


@pytest.fixture(scope="module")
def ask_args(law_rag: DomainRAG) -> list[str]:
    """Options pointing at the shared small law KB, in-process (the Milvus Lite file allows one process)."""
    return ["--uri", law_rag.uri, "--kb", law_rag.kb, "--no-cache", "--adapter", "none", "--max-new-tokens", "4"]


def run(*args: str) -> object:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "300"})


@pytest.mark.slow
def test_ask_json(ask_args: list[str]) -> None:
    result = run("ask", THEFT, "--pack", "law", *ask_args, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"answer", "mode", "disclaimer", "citations", "cache_hit", "model", "adapter", "timings",
                         "similarity"}
    assert data["mode"] in ("generated", "extractive") and data["answer"].startswith("根据《刑法》第二百六十四条的规定[1]")
    assert data["citations"][0]["n"] == 1 and "不构成法律意见" in data["disclaimer"]
    assert set(data["timings"]) == {"retrieve_ms", "first_token_ms", "generate_ms", "total_ms"}
    assert data["model"] == "SmolLM2-135M-Instruct" and data["adapter"] is None and data["cache_hit"] is False


@pytest.mark.slow
def test_ask_streams_the_answer_then_the_sources(ask_args: list[str], tmp_path: Path) -> None:
    history = tmp_path / "history.json"
    history.write_text(json.dumps([{"role": "user", "content": "盗窃罪怎么处罚？"},
                                   {"role": "assistant", "content": "……"}], ensure_ascii=False), encoding="utf-8")
    result = run("ask", "那它的刑期呢？", "--pack", "law", *ask_args, "--history", str(history))
    assert result.exit_code == 0, result.stderr
    answer, _, sources = result.stdout.partition("\nSources")
    assert answer.strip() and "[1] 中华人民共和国刑法" in sources and "第二百六十四条" in sources
    assert "不构成法律意见" in answer  # the pack's disclaimer, printed beside the answer, not inside it
    assert "first token" in result.stderr and ("generated answer" in result.stderr or "extractive" in result.stderr)
    assert ("SmolLM2" in result.stderr) == ("generated answer" in result.stderr)  # the model is named when it wrote
    plain = run("ask", THEFT, "--pack", "law", *ask_args, "--no-stream")
    assert plain.exit_code == 0 and "\nSources" in plain.stdout


def test_nothing_relevant_is_said_plainly(ask_args: list[str]) -> None:
    result = run("ask", "红烧肉的做法是什么？", "--pack", "law", *ask_args)
    assert result.exit_code == 0
    assert result.stdout.startswith("在知识库中没有找到") and "Sources" not in result.stdout


@pytest.mark.parametrize("args, message", [
    (["ask", "   ", "--pack", "law"], "empty question"),
    (["ask", THEFT, "--pack", "no_such_pack"], "unknown pack 'no_such_pack'"),
    (["ask", THEFT, "--pack", "law", "--llm-endpoint", "http://127.0.0.1:9/v1", "--llm-model", "x"], "unreachable"),
    (["ask", THEFT, "--pack", "law", "--base-model", "/nowhere/model.gguf"], "not found"),
    (["ask", THEFT, "--pack", "law", "--history", "/nowhere/history.json"], "history file"),
])
def test_bad_input_is_one_line_and_exit_2(ask_args: list[str], args: list[str], message: str) -> None:
    result = run(*args, *ask_args)
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr


def test_overlong_question_is_cut_with_a_warning(ask_args: list[str]) -> None:
    result = run("ask", "红烧肉" * 400, "--pack", "law", *ask_args)
    assert result.exit_code == 0
    assert "only the first 500" in result.stderr


def test_serve_refuses_a_busy_port_and_a_missing_kb(law_rag: DomainRAG) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = run("serve", "--pack", "law", "--uri", law_rag.uri, "--port", port)
    assert result.exit_code == 2 and "choose another --port" in result.stderr
    result = run("serve", "--pack", "law", "--uri", law_rag.uri, "--kb", "not_ingested", "--port", str(free_port()))
    assert result.exit_code == 2 and "knowledge base 'not_ingested' does not exist" in result.stderr


def test_errors_in_a_fresh_process_have_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "DOMAINRAG_HOME": str(tmp_path), "COLUMNS": "300"}
    cli = [sys.executable, "-m", "domainrag.cli.main"]
    for args, message in ((["ask", " ", "--pack", "law"], "empty question"), (["ask", "x", "--pack", "nope"], "unknown pack")):
        done = subprocess.run(cli + args, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_a_note_while_the_answer_streams_gets_a_line_of_its_own() -> None:
    """A model starts loading after the lead is out: in a terminal (stdout and stderr the same) its note must not
    run on from the lead; with the streams apart, stdout holds the answer alone."""
    script = ("import logging\n"
              "from domainrag.cli.ask import stream_to_stdout, warnings_to_stderr\n"
              "warnings_to_stderr()\n"
              "def deltas():\n"
              "    yield '根据《刑法》第二百六十四条的规定[1]，'\n"
              "    logging.getLogger('domainrag.progress').info('loading SmolLM2-135M-Instruct …')\n"
              "    yield '盗窃公私财物，数额较大的，处三年以下有期徒刑。'\n"
              "stream_to_stdout(deltas())\n")
    command = [sys.executable, "-c", script]
    together = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert together.returncode == 0, together.stdout
    assert together.stdout.splitlines() == ["根据《刑法》第二百六十四条的规定[1]，", "loading SmolLM2-135M-Instruct …",
                                            "盗窃公私财物，数额较大的，处三年以下有期徒刑。"]
    apart = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert apart.stdout == "根据《刑法》第二百六十四条的规定[1]，盗窃公私财物，数额较大的，处三年以下有期徒刑。\n"
    assert apart.stderr == "loading SmolLM2-135M-Instruct …\n"


def test_python_dash_m_runs_the_same_command_line() -> None:
    result = subprocess.run([sys.executable, "-m", "domainrag", "packs", "list", "--json"], capture_output=True,
                            text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    assert {"law", "finance", "medical", "education", "math"} <= {p["name"] for p in json.loads(result.stdout)}


def test_jieba_is_quiet_without_being_imported_up_front(tmp_path: Path) -> None:
    script = ("import sys\n"
              "from domainrag.cli.common import quiet_libraries\n"
              "quiet_libraries()\n"
              "assert 'jieba' not in sys.modules\n"
              "import jieba\n"
              f"jieba.dt.tmp_dir = {str(tmp_path)!r}\n"
              "jieba.initialize()\n"
              "print(jieba.lcut('盗窃公私财物'))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "盗窃" in done.stdout
    assert "prefix dict" not in done.stderr and done.stderr.strip() == ""
