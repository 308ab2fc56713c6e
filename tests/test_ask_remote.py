"""``domainrag ask --server URL``: a fresh CLI process answered by a running ``domainrag serve`` (the real app on
loopback over the small law KB, real retrieval and cache), without loading Milvus or any model itself; the server's
refusals and a missing server as one line with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from domainrag import DomainRAG
from domainrag.cli.remote import chat_url, request_body
from domainrag.server import create_app
from domainrag.server_limits import ServeSettings
from loopback import free_port, serve_app
from test_ask import THEFT

# Runs the CLI, then reports on stderr which heavy libraries the process imported.
CLI = ("import sys\nfrom domainrag.cli.main import main\nsys.argv = ['domainrag', *sys.argv[1:]]\ntry:\n    main()\n"
       "except SystemExit as exit:\n    code = exit.code\nelse:\n    code = 0\n"
       "heavy = sorted(m for m in ('pymilvus', 'langchain_core', 'model2vec', 'torch', 'gptcache') if m in sys.modules)\n"
       "print('IMPORTED', heavy, file=sys.stderr)\nsys.exit(code)\n")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "300", **(env or {})})


@pytest.fixture(scope="module")
def server(law_rag: DomainRAG) -> Iterator[str]:
    """``domainrag serve --debug`` in-process over the small law KB: the pack's own settings (extractive answers,
    its semantic cache)."""
    rag = DomainRAG.from_pack("law", uri=law_rag.uri, kb=law_rag.kb)
    with serve_app(create_app(rag, ServeSettings(debug=True))) as url:
        yield url


@pytest.mark.slow
def test_a_served_answer_and_then_a_cache_hit_without_loading_anything(server: str) -> None:
    first = cli("ask", THEFT, "--pack", "law", "--server", server, "--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["answer"].startswith("根据《刑法》第二百六十四条的规定[1]") and data["mode"] == "extractive"
    assert data["citations"][0]["n"] == 1 and "第二百六十四条" in data["citations"][0]["text"]
    assert "不构成法律意见" in data["disclaimer"] and "不构成法律意见" not in data["answer"]
    assert "IMPORTED []" in first.stderr  # no Milvus client, LangChain, cache or model in the client
    from domainrag.packs import load_pack

    folder = str(load_pack("law").path)  # a pack named by its folder reaches the server by its name
    again = cli("ask", THEFT, "--pack", folder, "--server", f"{server}/v1", "--json")
    assert again.returncode == 0, again.stderr
    hit = json.loads(again.stdout)
    assert hit["cache_hit"] is True and hit["answer"] == data["answer"]  # the server's cache (shared with --debug)


@pytest.mark.slow
def test_streamed_output_matches_a_local_ask(server: str, tmp_path) -> None:
    history = tmp_path / "history.json"
    history.write_text(json.dumps([["盗窃罪怎么处罚？", "……"]], ensure_ascii=False), encoding="utf-8")
    done = cli("ask", "那它的刑期呢？", "--pack", "law", "--history", str(history), "--no-cache",
               env={"DOMAINRAG_SERVER": server})
    assert done.returncode == 0, done.stderr
    answer, _, sources = done.stdout.partition("\nSources:\n")
    assert "[1]" in answer and "不构成法律意见" in answer
    assert sources.startswith("[1] 中华人民共和国刑法") and "第二百六十四条" in sources
    assert f"answered by {server}" in done.stderr and "first token" in done.stderr


def test_no_server_or_a_refusal_is_one_line() -> None:
    down = f"http://127.0.0.1:{free_port()}"
    result = cli("ask", THEFT, "--pack", "law", "--server", down)
    assert result.returncode == 2 and "no domainrag server answers at" in result.stderr
    assert "domainrag serve --pack law" in result.stderr and "Traceback" not in result.stderr
    local = cli("ask", THEFT, "--pack", "law", "--server", down, "--kb", "other", "--mode", "extractive")
    assert local.returncode == 2 and "--kb, --mode" in local.stderr and "with --server" in local.stderr
    bad = cli("ask", THEFT, "--pack", "law", "--server", "127.0.0.1:8000")
    assert bad.returncode == 2 and "give the server's URL" in bad.stderr


@pytest.mark.slow
def test_the_servers_refusals_come_back_as_one_line(server: str, law_rag: DomainRAG) -> None:
    unknown = cli("ask", THEFT, "--pack", "no_such_pack", "--server", server)
    assert unknown.returncode == 2 and "answered 404" in unknown.stderr and "unknown model" in unknown.stderr
    empty = cli("ask", "  ", "--pack", "law", "--server", server)
    assert empty.returncode == 2 and "answered 400" in empty.stderr and "empty question" in empty.stderr
    rag = DomainRAG.from_pack("law", uri=law_rag.uri, kb=law_rag.kb)
    with serve_app(create_app(rag, ServeSettings(api_key="s3cret"))) as guarded:
        refused = cli("ask", THEFT, "--pack", "law", "--server", guarded, env={"DOMAINRAG_API_KEY": ""})
        assert refused.returncode == 2 and "answered 401" in refused.stderr and "--api-key" in refused.stderr
        allowed = cli("ask", THEFT, "--pack", "law", "--server", guarded, "--api-key", "s3cret", "--json")
        assert allowed.returncode == 0, allowed.stderr
        assert json.loads(allowed.stdout)["citations"][0]["n"] == 1


def test_a_reply_that_is_not_a_chat_completion_is_one_line() -> None:
    """Something else listening on the port, or a reply cut off: 200 with an event stream that breaks off."""
    import http.server
    import threading

    class Garbage(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b'data: {"choices": [{"delta": {"content": "x"}, "finish_reason": null}]}\n\n<html>'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        for extra in ((), ("--json",)):
            result = cli("ask", THEFT, "--pack", "law", "--server", url, *extra)
            assert result.returncode == 2 and "was not a chat completion" in result.stderr, result.stderr
            assert "Traceback" not in result.stderr
    finally:
        httpd.shutdown()


def test_the_request_is_the_servers_chat_api() -> None:
    assert chat_url("http://h:8000/") == chat_url("http://h:8000/v1") == "http://h:8000/v1/chat/completions"
    body = request_body("law", "那刑期呢？", [("盗窃罪怎么处罚？", "……"), {"role": "user", "content": "还有吗"}],
                        stream=True, use_cache=False, k=3, adapter=None, max_new_tokens=64)
    assert body["model"] == "law" and body["use_cache"] is False and body["k"] == 3 and body["max_tokens"] == 64
    assert "adapter" not in body
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user", "user"]
    assert body["messages"][-1]["content"] == "那刑期呢？"


@pytest.mark.slow
def test_serve_and_ask_as_separate_processes(small_law_corpus, tmp_path) -> None:
    """What a user runs: ``domainrag serve`` in one shell, ``domainrag ask --server`` in another. The law pack
    answers extractively, so ``serve`` starts without loading its model."""
    import time

    db, port = str(tmp_path / "served.db"), free_port()
    ingest = subprocess.run([sys.executable, "-m", "domainrag", "ingest", str(small_law_corpus), "--pack", "law",
                             "--uri", db, "--kb", "statutes"], capture_output=True, text=True, timeout=300)
    assert ingest.returncode == 0, ingest.stderr
    log = tmp_path / "serve.log"
    with open(log, "w") as stderr:
        serve = subprocess.Popen([sys.executable, "-m", "domainrag", "serve", "--pack", "law", "--uri", db, "--kb",
                                  "statutes", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 120
        while "serving pack law" not in log.read_text() and serve.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "serving pack law" in log.read_text(), log.read_text()
        done = cli("ask", THEFT, "--pack", "law", "--server", f"http://127.0.0.1:{port}")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("根据《刑法》第二百六十四条的规定[1]") and "IMPORTED []" in done.stderr
    finally:
        serve.terminate()
        serve.wait(30)
    assert "GGUF" not in log.read_text()  # the pack's model (a GGUF file) was never converted and loaded
