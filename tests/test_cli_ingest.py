"""The CLI as a user runs it: crash and resume, JSON output, knowledge-base commands, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from domainrag import DomainRAG

from conftest import LAW_CORPUS

CRASH_FILES = ["民法商法/农民专业合作社法(2017-12-27).md", "民法商法/个人独资企业法(1999-08-30).md",
               "民法商法/合伙企业法(2006-08-27).md", "民法商法/公司法(2018-10-26).md"]
HIT_KEYS = {"rank", "score", "chunk_id", "text", "source", "title", "section"}


def cli(*args: str, home: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOMAINRAG_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "domainrag.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def crash_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crash-corpus")
    for relative in CRASH_FILES:
        shutil.copy(LAW_CORPUS / relative, folder / Path(relative).name)
    return folder


@pytest.mark.slow
def test_kill_9_mid_ingest_then_rerun_equals_a_clean_run(tmp_path: Path, crash_corpus: Path) -> None:
    db = tmp_path / "crash.db"
    env = {**os.environ, "DOMAINRAG_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "domainrag.cli.main", "ingest", str(crash_corpus), "--pack", "law",
         "--uri", str(db), "--kb", "crash", "--batch-size", "16"],
        env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert proc.stderr is not None
    captured = bytearray()
    reader = threading.Thread(target=lambda: [captured.extend(b) for b in iter(lambda: os.read(proc.stderr.fileno(), 4096), b"")],
                              daemon=True)
    reader.start()
    deadline = time.time() + 900
    seen = ""
    while time.time() < deadline and proc.poll() is None:
        seen = captured.decode("utf-8", "replace")
        if "| 2/4" in seen:  # two of the four files are committed, the third is being embedded
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"ingest finished before it could be killed:\n{seen[-500:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    resumed = DomainRAG.from_pack("law", uri=str(db), kb="crash")
    summary = resumed.ingest(crash_corpus)
    assert summary.skipped == [] and summary.ingested + summary.unchanged == 4

    clean = DomainRAG.from_pack("law", uri=str(db), kb="clean")
    clean.ingest(crash_corpus)
    fields = ["id", "text", "source", "title", "section"]
    crashed_rows = resumed.store._query_all("crash", "", fields)
    clean_rows = clean.store._query_all("clean", "", fields)
    assert len(crashed_rows) == len({r["id"] for r in crashed_rows})  # no duplicates
    assert sorted(map(lambda r: tuple(r[f] for f in fields), crashed_rows)) == \
        sorted(map(lambda r: tuple(r[f] for f in fields), clean_rows))  # nothing missing, nothing extra
    assert resumed.store.manifest("crash").keys() == clean.store.manifest("clean").keys()


def test_cli_json_outputs_and_kb_commands(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    shutil.copy(LAW_CORPUS / CRASH_FILES[1], corpus / "sole.md")
    (corpus / "empty.txt").write_bytes(b"")
    db = str(tmp_path / "cli.db")

    ingest = cli("ingest", str(corpus), "--pack", "law", "--uri", db, "--kb", "cli_kb", "--json", home=tmp_path)
    assert ingest.returncode == 1, ingest.stderr  # one file skipped → exit 1, the rest stored
    summary = json.loads(ingest.stdout)
    assert summary["ingested"] == 1 and summary["chunks_total"] == summary["chunks_added"] > 40
    assert summary["skipped"] == [{"source": str(corpus / "empty.txt"), "reason": "empty file"}]
    assert "empty.txt: empty file" in ingest.stderr

    search = cli("search", "个人独资企业的投资人以其个人财产承担什么责任", "--pack", "law", "--uri", db,
                 "--kb", "cli_kb", "--k", "3", "--json", home=tmp_path)
    assert search.returncode == 0, search.stderr
    hits = json.loads(search.stdout)
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert all(set(h) == HIT_KEYS for h in hits)
    assert hits[0]["title"] == "中华人民共和国个人独资企业法" and hits[0]["source"].endswith("sole.md")

    listing = cli("kb", "list", "--uri", db, "--json", home=tmp_path)
    assert json.loads(listing.stdout) == [{"kb": "cli_kb", "pack": "law", "chunks": summary["chunks_total"],
                                           "files": 1, "embedding_model": "default"}]
    deleted = cli("kb", "delete", "cli_kb", "--uri", db, "--yes", home=tmp_path)
    assert deleted.returncode == 0
    missing = cli("kb", "stats", "cli_kb", "--uri", db, home=tmp_path)
    assert missing.returncode == 2 and "no knowledge base 'cli_kb'" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    unknown = cli("search", "x", "--pack", "astrology", "--uri", str(tmp_path / "e.db"), home=tmp_path)
    assert unknown.returncode == 2
    assert "unknown pack 'astrology'" in unknown.stderr and "Traceback" not in unknown.stderr
    missing = cli("ingest", str(tmp_path / "nowhere"), "--pack", "law", "--uri", str(tmp_path / "e.db"), home=tmp_path)
    assert missing.returncode == 2 and "path not found" in missing.stderr


def test_cli_skips_links_leaving_the_folder_unless_follow_links(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    shutil.copy(LAW_CORPUS / CRASH_FILES[1], corpus / "sole.md")
    (tmp_path / "secrets.txt").write_text("API_KEY=sk-live-0123456789abcdef\n", encoding="utf-8")
    os.symlink(tmp_path / "secrets.txt", corpus / "env.txt")
    args = ("ingest", str(corpus), "--pack", "law", "--uri", str(tmp_path / "links.db"), "--kb", "links", "--json",
            "--file-timeout", "30", "--file-memory-mb", "1024")

    default = cli(*args, home=tmp_path)
    assert default.returncode == 1, default.stderr
    summary = json.loads(default.stdout)
    assert summary["ingested"] == 1 and [s["source"] for s in summary["skipped"]] == [str(corpus / "env.txt")]
    assert f"env.txt: symbolic link to a file outside {corpus.resolve()}" in default.stderr
    assert "pass --follow-links" in default.stderr

    followed = cli(*args, "--follow-links", home=tmp_path)
    assert followed.returncode == 0, followed.stderr
    assert json.loads(followed.stdout)["ingested"] == 1 and json.loads(followed.stdout)["unchanged"] == 1
