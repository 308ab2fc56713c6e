"""ingest --workers N against a Milvus server: the same chunks and one manifest as a single-process run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from domainrag import DomainRAG
from domainrag.errors import ConfigError
from domainrag.ingestion.parallel import split_by_size

from conftest import LAW_CORPUS, SMALL_LAW_FILES


def test_files_are_split_by_size(tmp_path: Path) -> None:
    files = []
    for name, size in [("a", 900), ("b", 500), ("c", 400), ("d", 100)]:
        (tmp_path / name).write_bytes(b"x" * size)
        files.append(tmp_path / name)
    groups = split_by_size(files, 2)
    assert sorted(sum((p.stat().st_size for p in g), 0) for g in groups) == [900, 1000]
    assert len(split_by_size(files[:1], 4)) == 1  # no empty workers


@pytest.mark.slow
def test_two_workers_store_what_one_process_stores(milvus_server_uri: str, tmp_path: Path) -> None:
    folder = tmp_path / "statutes"
    folder.mkdir()
    for relative in SMALL_LAW_FILES[:2]:
        shutil.copy(LAW_CORPUS / relative, folder / Path(relative).name)
    (folder / "empty.md").write_text("", encoding="utf-8")  # skipped, and listed once
    single = DomainRAG.from_pack("law", uri=milvus_server_uri, kb="one_process")
    parallel = DomainRAG.from_pack("law", uri=milvus_server_uri, kb="two_workers")
    try:
        one = single.ingest([str(folder)])
        from domainrag.ingestion.parallel import ingest_in_parallel

        two = ingest_in_parallel(parallel, [str(folder)], 2)
        assert (two.ingested, two.chunks_added, two.chunks_total) == (one.ingested, one.chunks_added, one.chunks_total)
        assert [s["source"] for s in two.skipped] == [s["source"] for s in one.skipped] == [str(folder / "empty.md")]
        ids = {kb: sorted(r["id"] for r in rag.store.iter_chunks(kb, ["id"]))
               for kb, rag in (("one_process", single), ("two_workers", parallel))}
        assert ids["one_process"] == ids["two_workers"] and len(set(ids["two_workers"])) == len(ids["two_workers"])
        entries = [{source: (e["file_hash"], e["chunks"]) for source, e in rag.store.manifest(kb).items()}
                   for kb, rag in (("one_process", single), ("two_workers", parallel))]
        assert entries[0] == entries[1] and len(entries[1]) == 2
        (folder / Path(SMALL_LAW_FILES[1]).name).unlink()  # a file gone from the folder is pruned once
        again = ingest_in_parallel(parallel, [str(folder)], 2)
        assert again.removed == 1 and again.ingested == 0 and len(parallel.store.manifest("two_workers")) == 1
    finally:
        for rag, kb in ((single, "one_process"), (parallel, "two_workers")):
            rag.store.drop_kb(kb)


def test_workers_need_a_server(law_rag: DomainRAG) -> None:
    from domainrag.ingestion.parallel import ingest_in_parallel

    with pytest.raises(ConfigError, match="--workers needs a Milvus server"):
        ingest_in_parallel(law_rag, ["."], 2)
