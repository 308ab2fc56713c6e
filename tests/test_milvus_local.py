"""``domainrag milvus start``: ingest in one process while ``serve`` answers in another, on one knowledge base."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from domainrag import DomainRAG

from conftest import LAW_CORPUS
from loopback import free_port

FIRST, SECOND = "民法商法/个人独资企业法(1999-08-30).md", "民法商法/农民专业合作社法(2017-12-27).md"


def domainrag(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "domainrag.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def ask(url: str, question: str) -> dict:
    body = json.dumps({"model": "law", "messages": [{"role": "user", "content": question}]}).encode()
    request = urllib.request.Request(f"{url}/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


@pytest.mark.slow
def test_serve_answers_while_another_process_ingests(tmp_path: Path) -> None:
    home, docs, pack = tmp_path / "home", tmp_path / "docs", "law"  # the law pack quotes: no model to load
    for folder in (home, docs):
        folder.mkdir()
    env = {**os.environ, "DOMAINRAG_HOME": str(home), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("DOMAINRAG_MILVUS_URI", None)
    started = domainrag(env, "milvus", "start", "--json")
    assert started.returncode == 0, started.stderr
    uri = json.loads(started.stdout)["uri"]
    serve = None
    try:
        assert "already running" in domainrag(env, "milvus", "start").stderr
        shutil.copy(LAW_CORPUS / FIRST, docs / Path(FIRST).name)
        # The first ingest runs here (its embedder is loaded already); the second, below, in its own process.
        assert DomainRAG.from_pack(pack, uri=uri, kb="shared").ingest(docs).ingested == 1

        port = free_port()
        serve = subprocess.Popen([sys.executable, "-m", "domainrag.cli.main", "serve", "--pack", str(pack),
                                  "--kb", "shared", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True)
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            assert serve.poll() is None, serve.stderr.read()
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2).close()
                break
            except OSError:
                assert time.time() < deadline, "serve did not start"
                time.sleep(0.5)

        shutil.copy(LAW_CORPUS / SECOND, docs / Path(SECOND).name)
        second = subprocess.Popen([sys.executable, "-m", "domainrag.cli.main", "ingest", str(docs), "--pack",
                                   str(pack), "--kb", "shared", "--json"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        answered_meanwhile = 0
        while second.poll() is None:
            reply = ask(url, "个人独资企业的投资人以其个人财产对企业债务承担什么责任？")
            assert "无限责任" in reply["choices"][0]["message"]["content"]
            answered_meanwhile += 1
        out, errors = second.communicate()
        assert second.returncode == 0, errors
        assert json.loads(out)["ingested"] == 1 and answered_meanwhile > 0

        reply = ask(url, "农民专业合作社成员对农民专业合作社承担什么责任？")
        assert any("农民专业合作社法" in c["source"] for c in reply["citations"]), reply
        stats = domainrag(env, "kb", "stats", "shared", "--json")
        assert json.loads(stats.stdout)["files"] == 2 and json.loads(stats.stdout)["uri"] == uri
    finally:
        if serve is not None:
            serve.terminate()
            serve.wait(30)
        stopped = domainrag(env, "milvus", "stop")
    assert stopped.returncode == 0, stopped.stderr
    status = domainrag(env, "milvus", "status")
    assert status.returncode == 1 and "not running" in status.stdout
    assert "not running" in domainrag(env, "milvus", "stop").stderr
    listed = domainrag(env, "kb", "list", "--json")  # the data stays in the Lite file
    assert [row["files"] for row in json.loads(listed.stdout)] == [2]
