"""Ingest and search on real Milvus Lite: round trips, incremental re-ingest, bad files in a batch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from domainrag import DomainRAG
from domainrag.errors import ConfigError
from domainrag.ingestion import faults
from domainrag.ingestion.pipeline import PENDING_HASH

EN_DOC = """# Deposit Insurance Handbook

## Coverage

Deposits held by a member bank are insured up to 500,000 yuan per depositor.

## Claims

A depositor files a claim within ninety days after the bank is closed.
"""


class CountingEmbedder:
    """Wraps the real embedder and counts how many texts it was asked to embed."""

    def __init__(self, inner) -> None:
        self.inner, self.dim, self.texts = inner, inner.dim, 0

    def encode(self, texts, batch_size=64):
        self.texts += len(texts)
        return self.inner.encode(texts, batch_size=batch_size)


def _rag(home: Path, kb: str) -> DomainRAG:
    return DomainRAG.from_pack("law", uri=str(home / "shared.db"), kb=kb)


def test_chinese_round_trip_finds_the_governing_article(law_rag: DomainRAG) -> None:
    for mode in ("hybrid", "bm25"):
        hits = law_rag.search("三个以上的农民专业合作社能否出资设立联合社？", k=3, mode=mode)
        assert hits[0].title == "中华人民共和国农民专业合作社法", mode
        assert any(h.metadata.get("article") == "第五十六条" for h in hits), mode
    theft = law_rag.search("盗窃公私财物数额较大的，怎么处罚", k=3)
    assert theft[0].text.startswith("第二百六十四条")
    assert [h.rank for h in theft] == [1, 2, 3]
    assert theft[0].section == "第二编 分则 / 第五章 侵犯财产罪"


def test_dense_mode_returns_cosine_scores(law_rag: DomainRAG) -> None:
    hits = law_rag.search("个人独资企业的投资人", k=4, mode="dense")
    assert len(hits) == 4
    assert all(-1.0 <= h.score <= 1.0001 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_english_round_trip(tmp_path: Path, domainrag_home: Path) -> None:
    folder = tmp_path / "en"
    folder.mkdir()
    (folder / "handbook.md").write_text(EN_DOC, encoding="utf-8")
    rag = _rag(domainrag_home, "english_kb")
    summary = rag.ingest(folder)
    assert (summary.ingested, summary.chunks_added, summary.skipped) == (1, 2, [])
    for mode in ("hybrid", "dense", "bm25"):
        top = rag.search("How long do depositors have to file a claim after closure?", k=1, mode=mode)[0]
        assert top.section == "Claims", mode
    assert rag.search("insured amount per depositor", k=1)[0].section == "Coverage"


def test_incremental_reingest_change_and_removal(tmp_path: Path, domainrag_home: Path, small_law_corpus: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("个人独资企业法(1999-08-30).md", "农民专业合作社法(2017-12-27).md"):
        shutil.copy(small_law_corpus / name, folder / name)
    rag = _rag(domainrag_home, "incremental")
    first = rag.ingest(folder)
    assert first.ingested == 2 and first.skipped == [] and first.chunks_total == first.chunks_added
    version = rag.kb_version()
    first_law_chunks = len(rag.store.chunk_ids_for_source("incremental", str(folder / "个人独资企业法(1999-08-30).md")))

    counter = CountingEmbedder(rag.embedder)
    rag = DomainRAG(rag.pack, uri=rag.uri, kb=rag.kb, store=rag.store, embedder=counter)  # the same KB, counted
    again = rag.ingest(folder)
    assert (again.unchanged, again.ingested, again.chunks_added, again.chunks_removed) == (2, 0, 0, 0)
    assert counter.texts == 0 and rag.kb_version() == version
    assert again.chunks_total == first.chunks_total

    law = folder / "个人独资企业法(1999-08-30).md"
    text = law.read_text(encoding="utf-8")
    law.write_text(text.replace("第二条 本法所称个人独资企业", "第二条 本法所称（已修订）个人独资企业"), encoding="utf-8")
    changed = rag.ingest(folder)
    assert (changed.ingested, changed.unchanged) == (1, 1)
    assert changed.chunks_added == 1 and changed.chunks_removed == 1 and counter.texts == 1
    assert changed.chunks_total == first.chunks_total
    assert rag.kb_version() != version
    stored = [row for row in rag.store.iter_chunks("incremental", ["text", "source"]) if row["source"] == str(law)]
    assert len(stored) == first_law_chunks and sum("（已修订）" in row["text"] for row in stored) == 1

    law.unlink()
    removed = rag.ingest(folder)
    assert removed.removed == 1 and removed.chunks_removed > 40
    assert all("个人独资企业法" not in h.title for h in rag.search("个人独资企业的投资人", k=5, mode="bm25"))
    assert str(law) not in rag.store.manifest("incremental")


def test_bad_files_are_reported_and_the_batch_goes_on(tmp_path: Path, domainrag_home: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.md").write_text("# 示例\n\n存款保险的最高偿付限额为人民币五十万元。", encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.md").write_bytes(bytes(range(256)) * 8)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7 garbage")
    (folder / "gbk.txt").write_bytes("理财产品应当进行风险评级。".encode("gbk"))
    rag = _rag(domainrag_home, "mixed")
    summary = rag.ingest([folder, tmp_path / "does-not-exist"])
    reasons = {Path(s["source"]).name: s["reason"] for s in summary.skipped}
    assert reasons == {
        "empty.txt": "empty file",
        "binary.md": "binary content behind a text extension (NUL bytes)",
        "broken.pdf": reasons["broken.pdf"],
        "does-not-exist": "path not found",
    }
    assert reasons["broken.pdf"].startswith("corrupt PDF")
    assert summary.ingested == 2 and summary.exit_code == 1
    assert rag.search("风险评级", k=1, mode="bm25")[0].text == "理财产品应当进行风险评级。"
    # a second run stores nothing twice and loses nothing
    again = rag.ingest([folder])
    assert again.unchanged == 2 and again.chunks_total == summary.chunks_total


def test_unknown_mode_and_missing_kb_are_clear_errors(domainrag_home: Path, law_rag: DomainRAG) -> None:
    with pytest.raises(ConfigError, match="unknown retrieval mode"):
        law_rag.search("x", mode="fuzzy")
    with pytest.raises(ConfigError, match="does not exist.*domainrag ingest"):
        _rag(domainrag_home, "never_ingested").search("x")
    with pytest.raises(ConfigError, match="invalid knowledge-base name"):
        _rag(domainrag_home, "bad-name!")


def test_failure_mid_ingest_then_rerun_equals_a_clean_run(tmp_path: Path, domainrag_home: Path,
                                                         small_law_corpus: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("个人独资企业法(1999-08-30).md", "农民专业合作社法(2017-12-27).md"):
        shutil.copy(small_law_corpus / name, folder / name)
    rag = _rag(domainrag_home, "resumed")
    store = rag.store
    # the process dies after a file's chunks are written, before it is recorded
    with faults.raise_at("after_upsert"), pytest.raises(faults.SimulatedCrash):
        rag.ingest(folder, batch_size=16)
    partial = list(store.iter_chunks("resumed", ["id"]))
    assert len(partial) > 40 and [row["file_hash"] for row in store.manifest("resumed").values()] == [PENDING_HASH]

    counter = CountingEmbedder(rag.embedder)
    rag = DomainRAG(rag.pack, uri=rag.uri, kb=rag.kb, store=rag.store, embedder=counter)
    resumed = rag.ingest(folder, batch_size=16)
    clean = _rag(domainrag_home, "clean_run")
    clean.ingest(folder)
    fields = ["id", "text", "source", "section"]
    resumed_rows = sorted(tuple(r[f] for f in fields) for r in store.iter_chunks("resumed", fields))
    clean_rows = sorted(tuple(r[f] for f in fields) for r in clean.store.iter_chunks("clean_run", fields))
    assert resumed_rows == clean_rows and len({r[0] for r in resumed_rows}) == len(resumed_rows)
    assert counter.texts == len(clean_rows) - len(partial)  # what was stored before the crash is not embedded again
    assert resumed.ingested == 2 and resumed.chunks_total == len(clean_rows)


def test_an_article_unchanged_between_two_versions_of_a_law_is_returned_once(tmp_path: Path, domainrag_home: Path,
                                                                             small_law_corpus: Path) -> None:
    original = (small_law_corpus / "个人独资企业法(1999-08-30).md").read_text(encoding="utf-8")
    amended = original.replace("第五条 国家依法保护个人独资企业的财产和其他合法权益。",
                               "第五条 国家依法保护个人独资企业的财产、商业秘密和其他合法权益。")
    assert amended != original
    folder = tmp_path / "versions"
    folder.mkdir()
    (folder / "个人独资企业法(1999-08-30).md").write_text(original, encoding="utf-8")
    (folder / "个人独资企业法(2030-01-01).md").write_text(amended, encoding="utf-8")
    rag = _rag(domainrag_home, "two_versions")
    assert rag.ingest(folder).ingested == 2
    for mode in ("hybrid", "dense", "bm25"):
        hits = rag.search("个人独资企业的投资人以其个人财产对企业债务承担无限责任", k=10, mode=mode)
        passages = [(h.title, h.text) for h in hits]
        assert len(passages) == 10 and len(set(passages)) == 10, mode
    article_five = [h for h in rag.search("国家依法保护个人独资企业的财产和其他合法权益", k=5)
                    if h.metadata.get("article") == "第五条"]
    assert len(article_five) == 2 and article_five[0].text != article_five[1].text
    assert {Path(h.source).name for h in article_five} == {"个人独资企业法(1999-08-30).md", "个人独资企业法(2030-01-01).md"}
