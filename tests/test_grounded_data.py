"""Grounded instruction data (build-data --task rag): questions from the corpus, passages from the real retriever."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from domainrag.errors import ConfigError
from domainrag.instruct.build import build_dataset
from domainrag.instruct.grounded import Seed, seeds_for
from domainrag.instruct.records import read_jsonl
from domainrag.instruct.sources import Article


def test_questions_come_from_the_article_itself() -> None:
    article = Article(law="刑法", title="中华人民共和国刑法", label="第二百六十七条", chapter="",
                      text="抢夺公私财物，数额较大的，或者多次抢夺的，处三年以下有期徒刑。\n携带凶器抢夺的，依照本法第二百六十三条的规定定罪处罚。",
                      source="刑法.md")
    seeds = list(seeds_for(article))
    assert Seed("抢夺公私财物，数额较大的，依法应当如何处理？", "scenario", "中华人民共和国刑法", "第二百六十七条") in seeds
    duty = Article(law="x", title="公司法", label="第十条", chapter="", text="公司应当建立财务制度。", source="公司法.md")
    assert [s.kind for s in seeds_for(duty)] == ["duty"]


def _build(law_rag, small_law_corpus: Path, tmp_path: Path, **builder) -> list:
    pack = law_rag.pack
    pack = dataclasses.replace(pack, raw={**pack.raw, "builder": {**pack.section("builder"), **builder}})
    result = build_dataset(pack, source=small_law_corpus, out=tmp_path / "rag.jsonl", task="rag", rag=law_rag)
    assert result.train > 0 and all(task.startswith("rag-") for task in result.by_task)
    return list(read_jsonl(result.train_path)) + list(read_jsonl(result.validation_path))


def test_grounded_examples_cite_the_gold_passage_among_real_search_results(law_rag, small_law_corpus: Path,
                                                                           tmp_path: Path) -> None:
    examples = _build(law_rag, small_law_corpus, tmp_path, rag_max=60, rag_refusal_share=0.0)
    positions = set()
    for example in examples:
        lead = re.match(r"根据《(.+?)》(第.+?)的规定\[(\d)\]，", example.output)
        assert lead, example.output
        law, label, n = lead.groups()
        block = re.search(rf"\[{n}\] ([^\n]*)\n([^\n]*)", example.instruction)
        assert block and law in block.group(1) and block.group(2).startswith(label)  # [n] is the gold article
        clause = example.output[lead.end():]
        assert clause[:10] in example.instruction  # the answer restates the passage's own words
        assert example.instruction.count("\n[") >= 2  # distractors from the retriever sit beside it
        positions.add(n)
    assert len(positions) >= 2  # the gold passage is not always first


def test_some_examples_leave_the_gold_out_and_refuse(law_rag, small_law_corpus: Path, tmp_path: Path) -> None:
    examples = _build(law_rag, small_law_corpus, tmp_path, rag_max=20, rag_refusal_share=1.0)
    refusal = law_rag.answer_chain.templates.no_context
    assert examples and all(e.output == refusal for e in examples)


def test_the_rag_task_needs_a_knowledge_base(law_rag, small_law_corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="knowledge base"):
        build_dataset(law_rag.pack, source=small_law_corpus, out=tmp_path / "x.jsonl", task="rag")
    with pytest.raises(ConfigError, match="--task"):
        build_dataset(law_rag.pack, source=small_law_corpus, out=tmp_path / "x.jsonl", task="nope")


def test_passages_are_cut_to_the_models_budget_and_the_answer_quotes_what_is_shown(law_rag, small_law_corpus: Path,
                                                                                  tmp_path: Path) -> None:
    from domainrag.llm import build_generator
    from domainrag.tune.answer_metrics import prompt_passages

    budget = 320  # below the pack's 400, above where five headers and the 32-token floor per passage fill it
    generator = build_generator(law_rag.pack, max_context_tokens=budget)  # the pack model's tokenizer
    pack = dataclasses.replace(law_rag.pack, raw={**law_rag.pack.raw, "builder": {
        **law_rag.pack.section("builder"), "rag_max": 30, "rag_refusal_share": 0.0}})
    result = build_dataset(pack, source=small_law_corpus, out=tmp_path / "cut.jsonl", task="rag", rag=law_rag,
                           generator=generator)
    examples = list(read_jsonl(result.train_path)) + list(read_jsonl(result.validation_path))
    assert examples
    cut = 0
    for example in examples:
        passages = prompt_passages(example.instruction)
        shown = sum(generator.count_tokens(f"[{p.number}] {p.title}\n\n") + generator.count_tokens(p.text.rstrip("…"))
                    for p in passages)
        assert shown <= budget + 2 * len(passages), example.instruction  # counts of the pieces add up within a little
        cut += sum(p.text.endswith("…") for p in passages)
        lead = re.match(r"根据《.+?》第.+?的规定\[(\d)\]，", example.output)
        gold = next(p for p in passages if p.number == int(lead.group(1)))
        clause = re.sub(r"\s", "", example.output[lead.end():])
        assert clause in re.sub(r"\s", "", gold.text)  # the target restates only what the prompt shows
    assert cut > 0  # the budget did cut passages
