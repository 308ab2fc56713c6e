"""The cache in the answer path: hits by standalone question, namespaces that follow the KB version, the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domainrag import Answer, DomainRAG
from domainrag.answer import Citation
from domainrag.llm.base import Generator

QUESTION = "盗窃罪数额较大的，处几年以下有期徒刑？"
PARAPHRASE = "盗窃罪数额较大的，会处几年以下的有期徒刑？"


@pytest.fixture(scope="module")
def cached_rag(law_rag: DomainRAG) -> DomainRAG:
    """The shared small law KB with the real local model, short answers."""
    return DomainRAG.from_pack(law_rag.pack, uri=law_rag.uri, kb=law_rag.kb).with_llm(max_new_tokens=8)


@pytest.mark.slow
def test_a_paraphrase_and_a_followup_are_answered_from_the_cache(cached_rag: DomainRAG) -> None:
    first = cached_rag.ask(QUESTION)
    assert first.cache_hit is False and first.similarity is None and first.answer

    again = cached_rag.ask(PARAPHRASE)
    assert again.cache_hit is True and again.answer == first.answer
    assert cached_rag.answer_cache.settings.threshold <= again.similarity <= 1.0
    assert [c.chunk_id for c in again.citations] == [c.chunk_id for c in first.citations]
    assert [s.chunk_id for s in again.sources] == [s.chunk_id for s in first.sources]
    assert again.timings["retrieve_ms"] == 0 and again.timings["generate_ms"] == 0  # neither ran
    data = again.to_dict()
    assert data["cache_hit"] is True and data["similarity"] == again.similarity

    # a follow-up is looked up by its standalone rewrite: "它" is resolved to 盗窃罪 from the history
    followup = cached_rag.ask("它数额较大的，处几年以下有期徒刑？", history=[("盗窃罪怎么处罚？", "……")])
    assert followup.standalone_question == QUESTION and followup.cache_hit is True

    bypass = cached_rag.ask(QUESTION, use_cache=False)  # --no-cache: generated again
    assert bypass.cache_hit is False and bypass.answer == first.answer  # greedy decoding: same text


def test_a_changed_knowledge_base_never_serves_old_answers(law_rag: DomainRAG, tmp_path: Path) -> None:
    """An AnswerCache built from its parts (no DomainRAG): entries follow the KB version it is given."""
    from domainrag.cache import AnswerCache

    rag = DomainRAG.from_pack(law_rag.pack, uri=law_rag.uri, kb="cache_versions")
    note = tmp_path / "测试条例.md"
    note.write_text("# 测试条例\n\n第一条 本条例规定缓存测试的期限为三十日。\n", encoding="utf-8")
    rag.ingest(note)
    try:
        store = rag.store
        cache = AnswerCache(rag.pack, kb="cache_versions", embedder=rag.embedder, uri=rag.uri,
                            kb_version=lambda: store.kb_version("cache_versions"), embedding_model="test-embedding")
        namespace = cache.namespace()
        assert (namespace.pack, namespace.kb, namespace.store_uri, namespace.embedding) == (
            "law", "cache_versions", rag.uri, "test-embedding")
        assert namespace.kb_version == store.kb_version("cache_versions")
        answer = Answer(answer="期限为三十日。[1]", model="m",
                        citations=[Citation(1, "c1", str(note), "测试条例", "第一条", "本条例规定缓存测试的期限为三十日。")])
        assert cache.store("测试条例规定的期限是多少天？", answer)
        data, similarity = cache.lookup("测试条例规定的期限是多少天呢？")
        assert data["answer"] == answer.answer and data["citations"][0]["chunk_id"] == "c1" and similarity > 0.9
        old_folder = cache.cache().folder

        note.write_text("# 测试条例\n\n第一条 本条例规定缓存测试的期限为六十日。\n", encoding="utf-8")
        rag.ingest(note)  # the document was replaced: new KB version
        assert cache.lookup("测试条例规定的期限是多少天？") is None
        assert not old_folder.exists()  # the old version's entries are gone from disk too
    finally:
        rag.store.drop_kb("cache_versions")


def test_an_answer_cache_without_its_knowledge_base_keeps_nothing(law_rag: DomainRAG) -> None:
    from domainrag.cache import AnswerCache

    loads: list[str] = []

    def embedder() -> object:  # loading a model for a KB that is not there would only delay the answer
        loads.append("embedder")
        return law_rag.embedder

    cache = AnswerCache(law_rag.pack, kb="never_ingested", kb_version=lambda: None, embedder=embedder,
                        uri=law_rag.uri)
    assert cache.version() is None and cache.namespace() is None and cache.cache() is None
    assert cache.store(QUESTION, Answer(answer="期限为三十日。", model="m")) is False
    assert cache.lookup(QUESTION) is None
    assert loads == []


class IngestingGenerator(Generator):
    """Stands in for the LLM; while it writes, an ingest of another file into the KB finishes."""

    model_name = "ingesting"

    def __init__(self, rag: DomainRAG, paths: list[Path]) -> None:
        self.rag, self.paths, self.calls = rag, paths, 0

    def stream(self, messages, adapter=None, max_new_tokens=None, guidance=None) -> Iterator[str]:
        self.calls += 1
        self.rag.ingest(self.paths)
        yield "期限为三十日。[1]"


def test_an_answer_is_cached_under_the_version_read_before_it_was_generated(law_rag: DomainRAG, tmp_path: Path) -> None:
    question = "缓存测试的期限是多少日？"
    first, second = tmp_path / "甲条例.md", tmp_path / "乙条例.md"
    first.write_text("# 甲条例\n\n第一条 缓存测试的期限为三十日。\n", encoding="utf-8")
    second.write_text("# 乙条例\n\n第一条 乙条例规定的申报期限为六十日。\n", encoding="utf-8")
    rag = DomainRAG.from_pack(law_rag.pack, uri=law_rag.uri, kb="cache_race")
    rag.ingest(first)
    try:
        cache = rag.answer_cache
        read = cache.version()
        rag.ingest([first, second])  # another file: a new version
        assert cache.version() != read
        assert cache.store(question, Answer(answer="期限为三十日。[1]", model="m"), kb_version=read) is False
        assert cache.lookup(question) is None and cache.lookup(question, kb_version=cache.version()) is None

        third = tmp_path / "丙条例.md"  # the same race in the answer chain: the ingest ends during generation
        third.write_text("# 丙条例\n\n第一条 丙条例规定的公示期限为十日。\n", encoding="utf-8")
        generator = IngestingGenerator(rag, [first, second, third])
        chained = DomainRAG.from_pack(rag.pack, uri=rag.uri, kb=rag.kb).with_llm(generator=generator,
                                                                                 answer_mode="grounded")
        chained.answer_cache = cache
        answer = chained.ask(question)
        assert generator.calls == 1 and answer.sources and not answer.cache_hit
        again = chained.ask(question)  # the first answer was not filed under the version the ingest made
        assert generator.calls == 2 and not again.cache_hit
    finally:
        rag.store.drop_kb("cache_race")


def test_cache_stats_and_clear(cached_rag: DomainRAG) -> None:
    from domainrag.cli.main import app

    cache = cached_rag.answer_cache
    assert cache.store("刑法第二百六十四条规定了什么？", Answer(answer="盗窃罪。[1]", model="m"), variant="stats")
    assert cache.lookup("刑法第264条规定了什么？", variant="stats") and cache.lookup("刑法第264条规定了什么", variant="stats")
    runner = CliRunner()
    where = ["--pack", "law", "--kb", cached_rag.kb, "--uri", cached_rag.uri]
    result = runner.invoke(app, ["cache", "stats", *where, "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["entries"] >= 1 and stats["hits"] >= 2
    assert all(ns["current"] for ns in stats["namespaces"])

    with_token = runner.invoke(app, ["cache", "stats", *where, "--token", "root:Milvus", "--json"])  # a server's
    assert with_token.exit_code == 0 and json.loads(with_token.stdout)["entries"] == stats["entries"], with_token.output

    result = runner.invoke(app, ["cache", "clear", *where, "--yes"])
    assert result.exit_code == 0, result.output
    assert json.loads(runner.invoke(app, ["cache", "stats", *where, "--json"]).stdout)["namespaces"] == []
    assert runner.invoke(app, ["cache", "clear", "--stale"]).exit_code != 0  # needs --pack: one error line
