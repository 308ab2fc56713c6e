"""The CLI as a user runs it: JSON output, knowledge-base commands, exit codes (crashes: test_ingest_faults.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import LAW_CORPUS

SOLE_PROPRIETORSHIP = "民法商法/个人独资企业法(1999-08-30).md"
HIT_KEYS = {"rank", "score", "chunk_id", "text", "source", "title", "section"}


def cli(*args: str, home: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOMAINRAG_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "domainrag.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_cli_json_outputs_and_kb_commands(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    shutil.copy(LAW_CORPUS / SOLE_PROPRIETORSHIP, corpus / "sole.md")
    (corpus / "empty [draft].txt").write_bytes(b"")  # brackets in a name are printed as they are, not as markup
    db = str(tmp_path / "cli.db")

    ingest = cli("ingest", str(corpus), "--pack", "law", "--uri", db, "--kb", "cli_kb", "--json", home=tmp_path)
    assert ingest.returncode == 1, ingest.stderr  # one file skipped → exit 1, the rest stored
    summary = json.loads(ingest.stdout)
    assert summary["ingested"] == 1 and summary["chunks_total"] == summary["chunks_added"] > 40
    assert summary["skipped"] == [{"source": str(corpus / "empty [draft].txt"), "reason": "empty file"}]
    assert "empty [draft].txt: empty file" in ingest.stderr

    search = cli("search", "个人独资企业的投资人以其个人财产承担什么责任", "--pack", "law", "--uri", db,
                 "--kb", "cli_kb", "--k", "3", "--json", home=tmp_path)
    assert search.returncode == 0, search.stderr
    hits = json.loads(search.stdout)
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert all(set(h) == HIT_KEYS for h in hits)
    assert hits[0]["title"] == "中华人民共和国个人独资企业法" and hits[0]["source"].endswith("sole.md")

    listing = cli("kb", "list", "--uri", db, "--json", home=tmp_path)
    assert json.loads(listing.stdout) == [{"kb": "cli_kb", "pack": "law", "chunks": summary["chunks_total"],
                                           "files": 1, "embedding_model": "multilingual-e5-small"}]  # the pack's own
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
    pack = tmp_path / "mypack"
    pack.mkdir()
    (pack / "pack.toml").write_text('[pack]\nname = "mypack"\n\n[retrieval]\nmode = "fancy"\n', encoding="utf-8")
    bad = cli("search", "x", "--pack", str(pack), "--uri", str(tmp_path / "e.db"), home=tmp_path)
    assert bad.returncode == 2 and "[retrieval] mode must be hybrid, dense or bm25" in bad.stderr  # not read as markup


def test_cli_skips_links_leaving_the_folder_unless_follow_links(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    shutil.copy(LAW_CORPUS / SOLE_PROPRIETORSHIP, corpus / "sole.md")
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
