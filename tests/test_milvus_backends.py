"""Ingest → search → ask → cache, the same on each Milvus: a Lite file, a Milvus server on loopback and, when
DOMAINRAG_TEST_MILVUS_URI is set, that Milvus. Answers are extractive, so no model is needed."""

from __future__ import annotations

import dataclasses
import shutil
import uuid
from pathlib import Path

import pytest

from domainrag import DomainRAG
from domainrag.llm.base import Generator
from domainrag.packs import load_pack

from conftest import LAW_CORPUS

STATUTE = "民法商法/个人独资企业法(1999-08-30).md"
QUESTION = "个人独资企业的投资人以其个人财产对企业债务承担什么责任？"


class NoModel(Generator):
    """Extractive answers never call the model."""

    model_name = "none"

    def stream(self, messages, adapter=None, max_new_tokens=None, guidance=None):
        raise AssertionError("the model was called")


@pytest.fixture(scope="module")
def statute(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("statute")
    shutil.copy(LAW_CORPUS / STATUTE, folder / Path(STATUTE).name)
    return folder


def test_ingest_search_ask_and_cache(milvus_uri: str, milvus_token: str | None, statute: Path) -> None:
    from domainrag.cache.namespaces import clear_namespaces, list_namespaces

    pack = load_pack("law")
    pack = dataclasses.replace(pack, raw={**pack.raw, "answer": {"mode": "extractive"}})
    kb = f"e2e_{uuid.uuid4().hex[:8]}"
    rag = DomainRAG(pack, uri=milvus_uri, kb=kb, token=milvus_token).with_llm(generator=NoModel())
    try:
        summary = rag.ingest(statute)
        assert (summary.ingested, summary.skipped) == (1, []) and summary.chunks_total > 10
        hits = rag.search(QUESTION, k=3)
        assert any("承担无限责任" in hit.text for hit in hits) and hits[0].title.endswith("个人独资企业法")

        first = rag.ask(QUESTION)
        assert first.mode == "extractive" and not first.cache_hit and "无限责任" in first.answer
        assert first.citations and first.citations[0].source.endswith(Path(STATUTE).name)
        again = rag.ask(QUESTION)
        assert again.cache_hit and again.answer == first.answer

        assert rag.ingest(statute).unchanged == 1 and rag.kb_version() == rag.kb_version()
    finally:
        clear_namespaces(list_namespaces(pack=pack.name, kb=kb), token=milvus_token)
        rag.store.drop_kb(kb)
