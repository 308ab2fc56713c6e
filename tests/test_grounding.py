"""Grounding rules: article mentions, the sentence gate, the extractive clause and constrained citation markers."""

from __future__ import annotations

import pytest

from domainrag.chain.grounding import (Reference, SentenceGate, clauses, document_version, extractive_answer,
                                       lead_language, quotes_runner_up, relevant_clause, sentence_support, short_title,
                                       told_apart, unsupported_mentions)
from domainrag.llm.constraints import marker_prefix_ok

THEFT_ARTICLE = ("第二百六十四条 盗窃公私财物，数额较大的，或者多次盗窃、入户盗窃、携带凶器盗窃、扒窃的，处三年以下有期徒刑、"
                 "拘役或者管制，并处或者单处罚金；数额巨大或者有其他严重情节的，处三年以上十年以下有期徒刑，并处罚金；"
                 "数额特别巨大或者有其他特别严重情节的，处十年以上有期徒刑或者无期徒刑，并处罚金或者没收财产。")
ROBBERY_ARTICLE = ("第二百六十七条 抢夺公私财物，数额较大的，或者多次抢夺的，处三年以下有期徒刑、拘役或者管制，并处或者单处罚金。\n"
                   "携带凶器抢夺的，依照本法第二百六十三条的规定定罪处罚。")
PASSAGES = [("中华人民共和国刑法", "第二百六十四条", THEFT_ARTICLE), ("中华人民共和国刑法", "第二百六十七条", ROBBERY_ARTICLE)]


def test_titles_are_named_as_answers_name_them() -> None:
    assert short_title("中华人民共和国刑法") == "刑法"
    assert short_title("公司法(2018-10-26)") == "公司法"
    assert Reference(1, "刑法", "第二百六十四条").lead() == "根据《刑法》第二百六十四条的规定[1]，"
    assert Reference(2, "Guide").lead("en") == "According to Guide [2], "
    assert Reference(3, "medical_qa").lead() == "根据《medical_qa》[3]，"  # a passage that is no statute article


def test_a_second_source_is_quoted_only_when_the_search_cannot_tell_the_two_apart() -> None:
    assert Reference(2, "刑法", "第二百六十七条").also() == "另可参照《刑法》第二百六十七条的规定[2]："
    assert Reference(2, "Guide").also("en") == " See also Guide [2]: "
    both = extractive_answer("抢夺财物怎么处罚？", Reference(1, "刑法", "第二百六十四条"), THEFT_ARTICLE, max_chars=300,
                             also=(Reference(2, "刑法", "第二百六十七条"), ROBBERY_ARTICLE))
    assert both.startswith("根据《刑法》第二百六十四条的规定[1]，盗窃公私财物")
    assert "另可参照《刑法》第二百六十七条的规定[2]：抢夺公私财物" in both
    assert quotes_runner_up([0.15, 0.1], below=0.2, ratio=0.5)
    assert not quotes_runner_up([0.15, 0.05], below=0.2, ratio=0.5)  # the second far weaker
    assert not quotes_runner_up([0.9, 0.89], below=0.2, ratio=0.5)  # the first sure enough
    assert not quotes_runner_up([0.15, 0.1], below=0.0, ratio=0.5)  # off
    assert not quotes_runner_up([0.15], below=0.2, ratio=0.5)  # one passage


def test_two_versions_of_one_law_are_told_apart_by_their_dates() -> None:
    assert document_version("laws/民法商法/公司法(2018-10-26).md") == "2018-10-26"
    assert document_version("guides/onboarding（第二版）.txt") == "第二版"
    assert document_version("guides/onboarding_v2.md") == "onboarding_v2"
    new, old = Reference(1, "公司法", "第一百七十八条"), Reference(2, "公司法", "第一百四十六条")
    first, second = told_apart(new, "laws/公司法(2023-12-29).md", old, "laws/公司法(2018-10-26).md")
    assert first.lead() == "根据《公司法》（2023-12-29）第一百七十八条的规定[1]，"
    assert second.also() == "另可参照《公司法》（2018-10-26）第一百四十六条的规定[2]："
    assert Reference(2, "Guide", version="v2").also("en") == " See also Guide (v2) [2]: "
    # different laws, or two passages of one document, read apart already
    other = Reference(2, "刑法", "第二百六十三条")
    assert told_apart(new, "laws/公司法(2023-12-29).md", other, "laws/刑法(2020-12-26).md") == (new, other)
    assert told_apart(new, "laws/公司法(2023-12-29).md", old, "laws/公司法(2023-12-29).md") == (new, old)


def test_the_lead_speaks_the_questions_language() -> None:
    assert lead_language("盗窃罪怎么处罚？", "en") == "zh"
    assert lead_language("Janet's ducks lay 16 eggs per day. How much does she make?", "zh") == "en"
    assert lead_language("2+3=?", "zh") == "zh"  # nothing to tell by: the pack's language


def test_an_article_is_supported_only_by_a_source_that_holds_it() -> None:
    assert unsupported_mentions("根据《刑法》第二百六十四条，盗窃……", PASSAGES) == []
    assert unsupported_mentions("依照第264条处罚", PASSAGES) == []  # Arabic numerals name the same article
    assert unsupported_mentions("依照本法第二百六十三条的规定定罪处罚", PASSAGES) == []  # quoted from a source
    assert unsupported_mentions("《刑法》第二百六十九条规定……", PASSAGES) == ["《刑法》第二百六十九条"]
    assert unsupported_mentions("根据《公司法》第二百六十四条", PASSAGES)  # right number, wrong law
    assert unsupported_mentions("第十八条", PASSAGES) == ["第十八条"]


def test_the_gate_shows_supported_sentences_and_stops_at_the_first_that_is_not() -> None:
    gate = SentenceGate(PASSAGES)
    shown = "".join(gate.feed(piece) for piece in ["盗窃公私财物，数额较大的，处三年以下有期", "徒刑[1]。另外，", "被告人应当赔偿精神损失。",
                                                    "数额巨大的，处三年以上十年以下有期徒刑。"])
    shown += gate.finish()
    assert shown == "盗窃公私财物，数额较大的，处三年以下有期徒刑[1]。"
    assert gate.closed and gate.rejected == "另外，被告人应当赔偿精神损失。"
    mention = SentenceGate(PASSAGES)
    assert mention.feed("盗窃公私财物的，依照《刑法》第二百六十九条处罚。") == "" and mention.closed
    assert sentence_support("盗窃公私财物[1]", [THEFT_ARTICLE]) == 1.0  # markers are not text
    paragraph = SentenceGate(PASSAGES)  # one paragraph: what follows a line break is never shown
    assert paragraph.feed("\n盗窃公私财物，数额较大的，处三年以下有期徒刑。\n\n[2] 刑法\n第二百六十七条 抢夺公私财物") \
        == "盗窃公私财物，数额较大的，处三年以下有期徒刑。" and paragraph.closed and not paragraph.rejected
    hopeless = SentenceGate(PASSAGES)  # no need to wait for the end of a sentence that is already unsupported
    assert hopeless.feed("将政府许除掉本人义务冻雕由自己同时还按本人义务") == "" and hopeless.closed
    repeating = SentenceGate(PASSAGES)
    assert repeating.feed("“盗窃”，“盗窃”，“盗窃”，“盗窃”，“盗窃”。") == "" and repeating.closed


def test_the_relevant_clause_is_the_part_that_answers() -> None:
    assert clauses(ROBBERY_ARTICLE)[0].startswith("抢夺公私财物")  # the article label is dropped
    short = relevant_clause("抢夺财物怎么处罚？", ROBBERY_ARTICLE, max_chars=200)
    assert short == "".join(clauses(ROBBERY_ARTICLE))  # short enough: all of it
    cut = relevant_clause("携带凶器抢夺的怎么定罪？", ROBBERY_ARTICLE, max_chars=40)
    assert cut == "携带凶器抢夺的，依照本法第二百六十三条的规定定罪处罚。"


def test_a_question_and_answer_record_is_quoted_from_its_answer() -> None:
    record = ("问：白带增多发黄怎么个情况？最近几天内裤上有偏黄的粘液痕迹，白带增多泛黄怎么回事？\n"
              "答：白带增多泛黄应该是患阴道炎了，而且是细菌性阴道炎的可能性大。具体用药谨遵医嘱。")
    # the question restates the user's words best, but quoting it back answers nothing
    assert relevant_clause("白带增多发黄是怎么回事？", record, max_chars=200) == (
        "白带增多泛黄应该是患阴道炎了，而且是细菌性阴道炎的可能性大。具体用药谨遵医嘱。")
    dialogue = "问：糖尿病可以吃火龙果吗？\n答：火龙果是低能量的水果，可以适量吃。\n问：苹果呢？答：苹果也可以少量吃。"
    assert clauses(dialogue) == ["火龙果是低能量的水果，可以适量吃。", "苹果也可以少量吃。"]
    row = "序号: 30；类型: 基金；端到端query: 鹏扬淳选最近3个月表现怎么样；参考答案: 最近3个月上涨1.2%。"  # a CSV record
    assert clauses(row) == ["最近3个月上涨1.2%。"]
    english = "Question: How many clips did Natalia sell?\nAnswer: She sold 72 clips."
    assert relevant_clause("How many clips did Natalia sell?", english) == "She sold 72 clips."
    # labels that are not a question's or an answer's stay text: a statute's list, a passage without an answer
    assert clauses("第二十条 有下列情形之一的：（一）解除合同的；") == ["有下列情形之一的：（一）解除合同的；"]
    assert clauses("问：糖尿病可以吃火龙果吗？") == ["问：糖尿病可以吃火龙果吗？"]
    exam = "下列哪项判断是正确的?A:商务部必须证明政府提供了现金;B:可以作出承诺"  # an option, not an answer
    assert "".join(clauses(exam)) == exam


def test_english_passages_split_into_sentences_and_keep_their_spaces() -> None:
    passage = ("Natalia sold clips to 48 of her friends in April. In May she sold half as many clips, at $0.5 each. "
               "Her brother collects stamps and keeps them in 3 albums of 120 pages")
    assert clauses(passage) == ["Natalia sold clips to 48 of her friends in April.",
                                "In May she sold half as many clips, at $0.5 each.",  # a decimal point is no end
                                "Her brother collects stamps and keeps them in 3 albums of 120 pages"]
    assert relevant_clause("How many clips did Natalia sell in April and May?", passage, max_chars=110) == (
        "Natalia sold clips to 48 of her friends in April. In May she sold half as many clips, at $0.5 each.")
    assert relevant_clause("clips", passage, max_chars=400) == passage  # short enough: all of it, spaces kept


@pytest.mark.parametrize("body, ok", [("", True), ("1", True), ("1]", True), ("2", True), ("1, 2]", True),
                                      ("1、", True), ("3", False), ("9]", False), ("1, 3", False), ("]", False),
                                      ("1,]", False), ("x", False), ("1]]", False)])
def test_marker_prefixes(body: str, ok: bool) -> None:
    assert marker_prefix_ok(body, {1, 2}, "]") is ok


@pytest.mark.slow
def test_a_local_model_cannot_write_a_marker_for_a_passage_it_was_not_given() -> None:
    from domainrag.chain.citations import MARKER
    from domainrag.llm.base import Guidance
    from domainrag.llm.local import LocalGenerator

    generator = LocalGenerator()
    messages = [{"role": "user", "content": "Sources: [7] Apples are red. [8] Pears are green. "
                                            "Which source says pears are green? Cite it as [n]."}]
    opened = "Pears are green ["  # the reply already opened a marker: the model must write a number

    def numbers(text: str) -> set[int]:
        return {int(n) for body in MARKER.findall(opened + text) for n in body.replace("，", ",").split(",")}

    free = generator.generate(messages, adapter="none", max_new_tokens=12, guidance=Guidance(reply_prefix=opened))
    assert numbers(free) - {1, 2}  # unconstrained, it names a passage it was not given
    constrained = generator.generate(messages, adapter="none", max_new_tokens=12,
                                     guidance=Guidance(reply_prefix=opened, citations=frozenset({1, 2})))
    assert numbers(constrained) and numbers(constrained) <= {1, 2}
