"""Knowledge-base stamps: a fresh process serves a cached answer without starting Milvus, and never a stale one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from domainrag.kb_stamp import KBStamps

QUESTION = "测试条例规定的期限是多少天？"


def test_a_stamp_holds_while_the_file_is_unchanged_and_any_write_voids_it(tmp_path: Path) -> None:
    from pymilvus import MilvusClient

    db = tmp_path / "stamps.db"
    client = MilvusClient(str(db))
    try:
        client.create_collection("notes", dimension=2)
        stamps = KBStamps(str(db), root=tmp_path / "stamps")
        assert stamps.read("notes") is None
        assert stamps.record("notes", lambda: {"version": "v1"}) == {"version": "v1"}
        assert stamps.read("notes") == {"version": "v1"}
        assert stamps.read("other") is None

        client.insert("notes", [{"id": 1, "vector": [0.1, 0.2]}])  # Milvus Lite writes it to the file at once
        assert stamps.read("notes") is None

        def writes_meanwhile() -> dict[str, str]:
            client.insert("notes", [{"id": 2, "vector": [0.3, 0.4]}])
            return {"version": "v2"}

        assert stamps.record("notes", writes_meanwhile) == {"version": "v2"}  # returned, but not stamped
        assert stamps.read("notes") is None
        stamps.record("notes", lambda: {"version": "v3"})
        assert stamps.read("notes") == {"version": "v3"}
        (stamps.folder / "notes.json").write_text("{not json", encoding="utf-8")
        assert stamps.read("notes") is None  # a damaged stamp is no stamp
    finally:
        client.close()


def test_a_milvus_server_has_no_stamps() -> None:
    assert KBStamps.for_uri("http://127.0.0.1:19530") is None
    with pytest.raises(ValueError, match="server"):
        KBStamps("http://127.0.0.1:19530")


CACHED = textwrap.dedent("""
    import json, sys
    from domainrag import DomainRAG

    rag = DomainRAG.from_pack("law", uri=sys.argv[1], kb="stamped")
    answer = rag.cached_answer(sys.argv[2], warm_up_milvus=True)  # as `domainrag ask` calls it
    loaded = [m for m in ("pymilvus", "langchain_core", "model2vec", "jieba") if m in sys.modules]
    print(json.dumps({"answer": answer.to_dict() if answer else None, "loaded": loaded}, ensure_ascii=False))
""")

WARM = textwrap.dedent("""
    import json, sys
    from domainrag import DomainRAG

    rag = DomainRAG.from_pack("law", uri=sys.argv[1], kb="stamped")
    threads = rag.warm_up()
    for thread in threads:
        thread.join(120)
    hits = rag.search(sys.argv[2], k=1)
    print(json.dumps({"alive": [t.name for t in threads if t.is_alive()], "top": hits[0].text,
                      "model": rag.embedding_model_name, "built_with": rag.store.kb_info("stamped").embedding_model},
                     ensure_ascii=False))
""")

NEW_QUESTION = textwrap.dedent("""
    import json, sys, threading
    from domainrag import DomainRAG
    from domainrag.store import is_connected

    rag = DomainRAG.from_pack("law", uri=sys.argv[1], kb="stamped")
    answer = rag.cached_answer(sys.argv[2], warm_up_milvus=sys.argv[3] == "warm")
    for thread in threading.enumerate():
        if thread.name == "domainrag-warm-milvus":
            thread.join(120)
    print(json.dumps({"answer": answer is not None, "milvus": is_connected(sys.argv[1])}))
""")


def _run(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_a_fresh_process_serves_a_repeat_without_milvus_and_never_a_stale_answer(tmp_path: Path) -> None:
    env = {**os.environ, "DOMAINRAG_HOME": str(tmp_path / "home"), "PYTHONPATH": os.pathsep.join(sys.path)}
    db, note = str(tmp_path / "kb.db"), tmp_path / "测试条例.md"
    note.write_text("# 测试条例\n\n第一条 本条例规定缓存测试的期限为三十日。\n", encoding="utf-8")
    cli = ["-m", "domainrag"]
    where = ["--pack", "law", "--uri", db, "--kb", "stamped"]
    _run(*cli, "ingest", str(note), *where, env=env)
    first = json.loads(_run(*cli, "ask", QUESTION, *where, "--json", env=env))
    assert first["cache_hit"] is False and "三十日" in first["answer"]

    fresh = json.loads(_run("-c", CACHED, db, QUESTION, env=env))
    assert fresh["answer"]["cache_hit"] is True and fresh["answer"]["answer"] == first["answer"]
    assert fresh["loaded"] == []  # no Milvus client, no LangChain, no embedding model, no jieba
    again = json.loads(_run(*cli, "ask", QUESTION, *where, "--json", env=env))  # the CLI takes the same path
    assert again["cache_hit"] is True and again["answer"] == first["answer"]
    other = "公司的董事会由几名成员组成？"  # not cached: the lookup must embed it, and misses
    assert json.loads(_run("-c", NEW_QUESTION, db, other, "cold", env=env)) == {"answer": False, "milvus": False}
    assert json.loads(_run("-c", NEW_QUESTION, db, other, "warm", env=env)) == {"answer": False, "milvus": True}
    warmed = json.loads(_run("-c", WARM, db, QUESTION, env=env))  # the stamp names the model: it loads beside Milvus
    assert "三十日" in warmed["top"] and warmed["model"] == warmed["built_with"] and warmed["alive"] == []

    note.write_text("# 测试条例\n\n第一条 本条例规定缓存测试的期限为六十日。\n", encoding="utf-8")
    _run(*cli, "ingest", str(note), *where, env=env)  # the file changed: the stamp no longer holds
    rewarmed = json.loads(_run("-c", WARM, db, QUESTION, env=env))  # a stale stamp is none: Milvus names the model
    assert "六十日" in rewarmed["top"] and rewarmed["model"] == rewarmed["built_with"] and rewarmed["alive"] == []
    after = json.loads(_run("-c", CACHED, db, QUESTION, env=env))
    assert after["answer"] is None and "pymilvus" in after["loaded"]  # read from Milvus: a new version, no entry
    answered = json.loads(_run(*cli, "ask", QUESTION, *where, "--json", env=env))
    assert answered["cache_hit"] is False and "六十日" in answered["answer"]


def test_a_stamp_that_cannot_be_written_costs_nothing_but_the_stamp(tmp_path: Path) -> None:
    db = tmp_path / "file.db"
    db.write_bytes(b"sqlite")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the stamps' folder would be", encoding="utf-8")
    stamps = KBStamps(str(db), root=blocked)
    assert stamps.record("notes", lambda: {"version": "v1"}) == {"version": "v1"}
    assert stamps.read("notes") is None


def test_an_unchanged_stamp_is_not_rewritten(tmp_path: Path) -> None:
    db = tmp_path / "file.db"
    db.write_bytes(b"sqlite")
    stamps = KBStamps(str(db), root=tmp_path / "stamps")
    stamps.record("notes", lambda: {"version": "v1"})
    written = (stamps.folder / "notes.json").stat().st_mtime_ns
    os.utime(stamps.folder / "notes.json", ns=(written - 10**9, written - 10**9))
    stamps.record("notes", lambda: {"version": "v1"})
    assert (stamps.folder / "notes.json").stat().st_mtime_ns == written - 10**9
    stamps.record("notes", lambda: {"version": "v2"})
    assert stamps.read("notes") == {"version": "v2"}
