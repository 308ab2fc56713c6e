"""Crashes at each ingest step (DOMAINRAG_FAULT, see domainrag/ingestion/faults.py) and of the Milvus Lite server:
the state each one leaves is asserted, and a re-run must end with exactly the chunks and manifest of a clean run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from domainrag import DomainRAG
from domainrag.ingestion import faults
from domainrag.ingestion.faults import FAULT_ENV, KBState, release_lite, wait_released
from domainrag.ingestion.pipeline import DELETE_BATCH, PENDING_HASH, WRITE_PART
from domainrag.ingestion.scan import file_hash
from domainrag.ingestion.worker import ParseRequest, parse

from conftest import LAW_CORPUS

# In scan order; each file is one write batch at --batch-size 16.
FILES = ["民法商法/个人独资企业法(1999-08-30).md", "民法商法/农民专业合作社法(2017-12-27).md"]
CHANGED_FILES = ["民法商法/个人独资企业法(1999-08-30).md", "民法商法/合伙企业法(2006-08-27).md"]


def copy_corpus(folder: Path, files: list[str] = FILES) -> list[str]:
    """The files copied into ``folder``; their sources in scan order."""
    folder.mkdir()
    for relative in files:
        shutil.copy(LAW_CORPUS / relative, folder / Path(relative).name)
    return [str(folder / Path(relative).name) for relative in files]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("faults") / "corpus"
    copy_corpus(folder)
    return folder


@pytest.fixture(scope="module")
def clean(corpus: Path) -> KBState:
    """The corpus ingested once, without faults."""
    rag = DomainRAG.from_pack("law", uri=str(corpus.parent / "clean.db"), kb="clean")
    rag.ingest(corpus, batch_size=16)
    return KBState.read(rag.store, "clean")


def start_ingest(corpus: Path, db: Path, kb: str, fault: str = "") -> subprocess.Popen[bytes]:
    env = {**os.environ, FAULT_ENV: fault}
    return subprocess.Popen([sys.executable, "-m", "domainrag.cli.main", "ingest", str(corpus), "--pack", "law",
                             "--uri", str(db), "--kb", kb, "--batch-size", "16"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[bytes], db: Path) -> str:
    """Wait for a crashed ingest and for its Milvus Lite server to stop; its stderr."""
    _, stderr = proc.communicate(timeout=300)
    wait_released(db)
    return stderr.decode("utf-8", "replace")


def state_after_crash(db: Path, kb: str) -> KBState:
    rag = DomainRAG.from_pack("law", uri=str(db), kb=kb)
    return KBState.read(rag.store, kb)


def assert_rerun_equals(db: Path, kb: str, corpus: Path, clean: KBState) -> None:
    """A re-run stores exactly the clean run's chunk ids (each once) and manifest."""
    rag = DomainRAG.from_pack("law", uri=str(db), kb=kb)
    summary = rag.ingest(corpus, batch_size=16)
    assert summary.skipped == []
    state = KBState.read(rag.store, kb)
    assert state.duplicated() == 0 and state.lost(clean) == 0 and state.extra(clean) == 0
    assert state.ids == clean.ids and state.manifest == clean.manifest


def assert_consistent(state: KBState) -> None:
    """Every file the manifest calls complete has all its chunks, and no chunk is stored twice."""
    assert state.duplicated() == 0
    for source, (stored_hash, chunks) in state.manifest.items():
        if stored_hash != PENDING_HASH:
            assert state.by_source[source] == chunks, source
    assert set(state.by_source) <= set(state.manifest)  # no chunk the manifest does not know of


@pytest.mark.slow
def test_kill_9_after_an_upsert_then_rerun_equals_a_clean_run(tmp_path: Path, corpus: Path, clean: KBState) -> None:
    db = tmp_path / "crash.db"
    proc = start_ingest(corpus, db, "crash", fault="after_upsert:2")
    finish(proc, db)
    assert proc.returncode == -signal.SIGKILL

    first, second = (str(corpus / Path(relative).name) for relative in FILES)
    state = state_after_crash(db, "crash")  # file 1 complete; file 2 written, still pending
    assert state.manifest == {first: clean.manifest[first], second: (PENDING_HASH, 0)}
    assert state.by_source == {first: clean.by_source[first], second: clean.by_source[second]}
    assert_consistent(state)
    release_lite(str(db))
    assert_rerun_equals(db, "crash", corpus, clean)


@pytest.mark.slow
def test_kill_9_mid_delete_of_stale_chunks_then_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    sole, partnership = copy_corpus(corpus, CHANGED_FILES)
    db = tmp_path / "changes.db"
    DomainRAG.from_pack("law", uri=str(db), kb="changes").ingest(corpus, batch_size=16)
    before = state_after_crash(db, "changes")
    release_lite(str(db))
    text = Path(partnership).read_text(encoding="utf-8")
    Path(partnership).write_text(text.replace("合伙", "合夥"), encoding="utf-8")  # every chunk of it changes
    Path(sole).unlink()
    assert before.by_source[partnership] > DELETE_BATCH  # its stale chunks take two delete requests

    proc = start_ingest(corpus, db, "changes", fault="mid_delete:1")
    finish(proc, db)
    assert proc.returncode == -signal.SIGKILL
    rag = DomainRAG.from_pack("law", uri=str(db), kb="changes")
    state = KBState.read(rag.store, "changes")
    assert state.manifest == {**before.manifest, partnership: (PENDING_HASH, 0)}  # the removed file not pruned yet
    assert len(set(before.ids) - set(state.ids)) == DELETE_BATCH  # one delete request done, the rest left
    assert state.by_source[sole] == before.by_source[sole]
    assert state.duplicated() == 0

    chunks = parse(ParseRequest(partnership)).chunks or []  # what a clean run stores: the changed file alone
    clean = KBState(Counter(c.id for c in chunks), {partnership: (file_hash(Path(partnership)), len(chunks))},
                    Counter(c.source for c in chunks))
    assert_rerun_equals(db, "changes", corpus, clean)


def test_a_file_removed_after_a_crash_leaves_no_chunks(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.md").write_text("# 甲条例\n\n第一条 甲条例规定的期限为三十日。\n", encoding="utf-8")
    (folder / "b.md").write_text("# 乙条例\n\n第一条 乙条例规定的期限为六十日。\n", encoding="utf-8")
    rag = DomainRAG.from_pack("law", uri=str(tmp_path / "orphans.db"), kb="orphans")
    with faults.raise_at("after_upsert"), pytest.raises(faults.SimulatedCrash):
        rag.ingest(folder, batch_size=1)
    crashed = KBState.read(rag.store, "orphans")
    assert crashed.manifest == {str(folder / "a.md"): (PENDING_HASH, 0)}
    assert crashed.by_source == {str(folder / "a.md"): 1}

    (folder / "a.md").unlink()  # gone before the re-run: its chunks must not stay behind
    summary = rag.ingest(folder, batch_size=1)
    state = KBState.read(rag.store, "orphans")
    assert summary.removed == 1 and list(state.manifest) == [str(folder / "b.md")]
    assert list(state.by_source) == [str(folder / "b.md")]


def test_a_large_file_is_written_in_parts_and_entered_as_pending_before_the_first(tmp_path: Path) -> None:
    """One file of more than WRITE_PART records (a big JSONL) is embedded and stored part by part; a crash after its
    first part leaves those chunks under a pending manifest entry, so removing the file before the re-run prunes them,
    and a re-run of the file stores exactly its chunks."""
    folder = tmp_path / "records"
    folder.mkdir()
    records = [{"id": f"r{i}", "text": f"第{i}号记录：保管期限为{i}日。"} for i in range(WRITE_PART + 40)]
    big = folder / "records.jsonl"
    big.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    rag = DomainRAG.from_pack("law", uri=str(tmp_path / "parts.db"), kb="parts")
    with faults.raise_at("after_upsert"), pytest.raises(faults.SimulatedCrash):
        rag.ingest(folder)
    crashed = KBState.read(rag.store, "parts")
    assert crashed.manifest == {str(big): (PENDING_HASH, 0)} and crashed.by_source == {str(big): WRITE_PART}

    summary = rag.ingest(folder)  # the rest is embedded; what the first part stored is not embedded again
    state = KBState.read(rag.store, "parts")
    assert summary.ingested == 1 and summary.chunks_added == 40 and state.duplicated() == 0
    assert state.manifest == {str(big): (file_hash(big), len(records))} and state.by_source == {str(big): len(records)}

    with faults.raise_at("after_upsert"), pytest.raises(faults.SimulatedCrash):  # changed: crash after part one
        big.write_text(big.read_text(encoding="utf-8").replace("日", "天"), encoding="utf-8")
        rag.ingest(folder)
    big.unlink()  # gone before the re-run: neither version's chunks may stay
    rag.ingest(folder)
    assert KBState.read(rag.store, "parts").by_source == {}


@pytest.mark.slow
def test_milvus_killed_as_the_flush_begins_then_rerun_equals_a_clean_run(tmp_path: Path, corpus: Path,
                                                                         clean: KBState) -> None:
    db = tmp_path / "flush.db"
    proc = start_ingest(corpus, db, "flush", fault="flush:1:0:milvus")
    stderr = finish(proc, db)
    assert proc.returncode != 0 and "error:" in stderr
    state = state_after_crash(db, "flush")
    assert_consistent(state)
    release_lite(str(db))
    assert_rerun_equals(db, "flush", corpus, clean)


@pytest.mark.slow
def test_milvus_lite_killed_mid_ingest_then_rerun_equals_a_clean_run(tmp_path: Path, corpus: Path,
                                                                     clean: KBState) -> None:
    db = tmp_path / "server.db"
    proc = start_ingest(corpus, db, "server")
    assert proc.stderr is not None
    captured = bytearray()
    fd = proc.stderr.fileno()
    reader = threading.Thread(target=lambda: [captured.extend(b) for b in iter(lambda: os.read(fd, 4096), b"")],
                              daemon=True)
    reader.start()
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and "| 1/2" not in captured.decode("utf-8", "replace"):
        time.sleep(0.05)  # the first file parsed: its chunks are being embedded or written
    victims = faults.kill("milvus", proc.pid)
    assert victims, "no Milvus Lite server found under the ingest"
    proc.wait(timeout=300)
    reader.join(timeout=10)
    wait_released(db)
    assert proc.returncode != 0 and "error:" in captured.decode("utf-8", "replace")
    state = state_after_crash(db, "server")
    assert_consistent(state)
    release_lite(str(db))
    assert_rerun_equals(db, "server", corpus, clean)


def test_a_file_reverted_after_a_crash_keeps_only_its_own_chunks(tmp_path: Path) -> None:
    note = tmp_path / "notes" / "a.md"
    note.parent.mkdir()
    original = "# 甲条例\n\n第一条 甲条例规定的期限为三十日。\n"
    note.write_text(original, encoding="utf-8")
    rag = DomainRAG.from_pack("law", uri=str(tmp_path / "revert.db"), kb="revert")
    rag.ingest(note.parent)
    before = KBState.read(rag.store, "revert")

    note.write_text(original.replace("三十日", "九十日"), encoding="utf-8")
    with faults.raise_at("after_upsert"), pytest.raises(faults.SimulatedCrash):
        rag.ingest(note.parent)
    crashed = KBState.read(rag.store, "revert")
    assert crashed.manifest == {str(note): (PENDING_HASH, 0)} and crashed.by_source[str(note)] == 2

    note.write_text(original, encoding="utf-8")  # back to the ingested content: the edit's chunk must go
    rag.ingest(note.parent)
    assert KBState.read(rag.store, "revert") == before
