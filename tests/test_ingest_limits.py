"""Per-file bounds of an ingest on real Milvus Lite: a slow file times out, links leaving the folder are not followed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from domainrag import DomainRAG
from domainrag.ingestion.scan import scan
from domainrag.ingestion.worker import FileParser, ParseRequest

GOOD = "# Deposit Insurance\n\nDeposits held by a member bank are insured up to 500,000 yuan per depositor.\n"
SECRET = "API_KEY=sk-live-0123456789abcdef\n"


def _rag(home: Path, kb: str) -> DomainRAG:
    return DomainRAG.from_pack("law", uri=str(home / "shared.db"), kb=kb)


@pytest.fixture
def linked_folder(tmp_path: Path) -> Path:
    """docs/ with one real document and a link to a secrets file outside docs/."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secrets.txt").write_text(SECRET, encoding="utf-8")
    (outside / "more.md").write_text("# More\n\nText in a linked folder.\n", encoding="utf-8")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "insurance.md").write_text(GOOD, encoding="utf-8")
    os.symlink(outside / "secrets.txt", docs / "env.txt")
    os.symlink(outside, docs / "linked")
    return docs


@pytest.mark.timeout(180)
def test_a_file_over_the_time_limit_is_skipped_and_the_batch_goes_on(tmp_path: Path, domainrag_home: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "a-insurance.md").write_text(GOOD, encoding="utf-8")
    slow = folder / "b-slow.md"  # valid but large: ~3 s to load and split on an idle core
    slow.write_text("".join(f"## Section {i}\n\nDeposits are insured up to {i} yuan.\n\n" for i in range(200_000)),
                    encoding="utf-8")
    (folder / "c-claims.md").write_text("# Claims\n\nA depositor files a claim within ninety days.\n", encoding="utf-8")
    rag = _rag(domainrag_home, "limits_timeout")
    started = time.perf_counter()
    summary = rag.ingest(folder, file_timeout_s=0.5)
    assert time.perf_counter() - started < 60
    assert summary.skipped == [{"source": str(slow), "reason": "parsing took longer than the 0.5 s per-file limit; "
                                                                "raise it with --file-timeout"}]
    assert summary.ingested == 2 and summary.exit_code == 1
    assert set(rag.store.manifest("limits_timeout")) == {str(folder / "a-insurance.md"), str(folder / "c-claims.md")}


@pytest.mark.timeout(120)
def test_one_worker_serves_a_batch_and_a_file_over_the_memory_limit_is_skipped(tmp_path: Path) -> None:
    small = [tmp_path / f"note-{i}.md" for i in range(3)]
    for number, path in enumerate(small):
        path.write_text(f"# Note {number}\n\nDeposits are insured.\n", encoding="utf-8")
    records = tmp_path / "records.jsonl"  # 32 MB: 400k records need well over 512 MiB as chunks
    records.write_text("".join(f'{{"id": {i}, "text": "Deposits are insured up to {i} yuan per depositor."}}\n'
                               for i in range(400_000)), encoding="utf-8")
    with FileParser(timeout_s=60, memory_bytes=512 * 2**20) as parser:
        parser.submit(ParseRequest(str(small[0])))
        assert parser.result().chunks is not None
        worker = parser.process
        assert [len(p.chunks or []) for p in parser.parse_all([ParseRequest(str(p)) for p in small[1:]])] == [1, 1]
        assert parser.process is worker and worker is not None and worker.poll() is None  # reused, still running
        parsed = list(parser.parse_all([ParseRequest(str(records)), ParseRequest(str(small[0]))]))
    assert parsed[0].chunks is None and parsed[0].reason == ("parsing needed more than the 512 MiB per-file memory "
                                                             "limit; raise it with --file-memory-mb")
    assert parsed[1].chunks is not None and parsed[1].chunks[0].title == "Note 0"
    assert worker.poll() is not None  # stopped on close


def test_links_leaving_the_folder_are_skipped_with_the_reason(linked_folder: Path, domainrag_home: Path) -> None:
    rag = _rag(domainrag_home, "limits_links")
    summary = rag.ingest(linked_folder)
    assert summary.ingested == 1
    reasons = {Path(s["source"]).name: s["reason"] for s in summary.skipped}
    assert set(reasons) == {"env.txt", "linked"}
    assert reasons["env.txt"].startswith(f"symbolic link to a file outside {linked_folder.resolve()}")
    assert "pass --follow-links" in reasons["env.txt"] and "folder outside" in reasons["linked"]
    hits = rag.search("API_KEY", k=5, mode="bm25")
    assert all("API_KEY" not in hit.text for hit in hits)


def test_follow_links_ingests_linked_files_and_folders(linked_folder: Path, domainrag_home: Path) -> None:
    rag = _rag(domainrag_home, "limits_follow")
    summary = rag.ingest(linked_folder, follow_links=True)
    assert summary.skipped == [] and summary.ingested == 4  # the real file, env.txt and the two under linked/
    assert any("API_KEY" in hit.text for hit in rag.search("API_KEY", k=5, mode="bm25"))


def test_scan_follows_a_link_loop_only_once(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text(GOOD, encoding="utf-8")
    os.symlink(tmp_path, tmp_path / "loop")
    assert scan([tmp_path], follow_links=True).files == [tmp_path.resolve() / "notes.md"]
    inside = scan([tmp_path])
    assert inside.files == [tmp_path.resolve() / "notes.md"] and inside.refused == []
