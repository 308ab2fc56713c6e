"""Answer metrics of the training card, on grounded prompts rendered exactly as the answer chain renders them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domainrag.instruct.records import Example, validation_path, write_jsonl
from domainrag.packs import load_pack
from domainrag.prompts import PromptTemplates, fit_passages, format_context
from domainrag.retrieve import Hit
from domainrag.tune.answer_metrics import answer_metrics, grounded_answer_metrics, prompt_passages

LAW = load_pack("law")
TEMPLATES = PromptTemplates.from_pack(LAW)
REFUSAL = TEMPLATES.no_context


def _hit(title: str, text: str) -> Hit:
    return Hit(rank=1, score=1.0, chunk_id=title + text[:6], text=text, source=f"{title}.md", title=title,
               section="", metadata={"article": text.split(" ", 1)[0]})


THEFT = _hit("中华人民共和国刑法", "第二百六十四条 盗窃公私财物，数额较大的，或者多次盗窃、入户盗窃的，处三年以下有期徒刑、拘役或者管制，并处或者单处罚金。")
ROBBERY = _hit("中华人民共和国刑法", "第二百六十三条 以暴力、胁迫或者其他方法抢劫公私财物的，处三年以上十年以下有期徒刑，并处罚金。")
COMPANY = _hit("中华人民共和国公司法", "第四十四条 有限责任公司设董事会，其成员为三人以上。\n董事会成员中可以有公司职工代表。")


def _example(hits: list[Hit], output: str, question: str = "盗窃公私财物数额较大的，应当如何处罚？") -> Example:
    passages = [(n, hit, hit.text) for n, hit in enumerate(hits, start=1)]
    prompt = TEMPLATES.user.format(context=format_context(passages, TEMPLATES.header), question=question)
    return Example(instruction=prompt, output=output, task="rag-scenario")


GOLD_SECOND = _example([ROBBERY, THEFT, COMPANY], "根据《刑法》第二百六十四条的规定[2]，盗窃公私财物，数额较大的，处三年以下有期徒刑、拘役或者管制。")
LEFT_OUT = _example([ROBBERY, COMPANY], REFUSAL)


def test_the_passages_of_a_rendered_prompt_are_read_back() -> None:
    passages = prompt_passages(GOLD_SECOND.prompt)
    assert [(p.number, p.title, p.article) for p in passages] == [
        (1, "刑法", "第二百六十三条"), (2, "刑法", "第二百六十四条"), (3, "公司法", "第四十四条")]
    assert passages[2].text.endswith("董事会成员中可以有公司职工代表。")  # a passage of two lines stays whole
    assert "问题" not in passages[2].text


def test_citing_the_gold_passage_counts_and_citing_a_look_alike_does_not() -> None:
    right = answer_metrics([GOLD_SECOND.output], [GOLD_SECOND], REFUSAL)
    assert right["cites_gold"] == 1.0 and right["cites_any"] == 1.0 and right["unsupported_mentions"] == 0.0
    assert right["rouge_l_words"] == pytest.approx(1.0)
    wrong = answer_metrics(["根据《刑法》第二百六十三条的规定[1]，以暴力抢劫公私财物的，处三年以上十年以下有期徒刑。"],
                           [GOLD_SECOND], REFUSAL)
    assert wrong["cites_gold"] == 0.0 and wrong["cites_any"] == 1.0 and wrong["rouge_l_words"] < 0.8
    uncited = answer_metrics(["盗窃的，依照刑法第二百六十九条处罚。"], [GOLD_SECOND], REFUSAL)
    assert uncited["cites_any"] == 0.0 and uncited["unsupported_mentions"] == 1.0
    invented = answer_metrics(["根据《刑法》第二百六十九条的规定[2]，应当处罚。"], [GOLD_SECOND], REFUSAL)
    assert invented["cites_gold"] == 1.0 and invented["unsupported_mentions"] == 1.0  # [2] is not 第二百六十九条
    beyond = answer_metrics(["见[7]。"], [GOLD_SECOND], REFUSAL)
    assert beyond["cites_any"] == 0.0  # [7] was never given


def test_refusals_are_scored_apart_from_answers() -> None:
    metrics = answer_metrics([REFUSAL, REFUSAL], [LEFT_OUT, GOLD_SECOND], REFUSAL)
    assert metrics["examples"] == 2 and metrics["answer_expected"] == 1
    assert metrics["refused_when_expected"] == 1.0 and metrics["refused"] == 1.0 and metrics["cites_gold"] == 0.0


def test_only_grounded_examples_are_answered() -> None:
    plain = Example(instruction="背诵《刑法》第二百六十四条。", output=THEFT.text, task="recite")
    seen: list[list[Example]] = []

    def write(examples: list[Example]) -> list[str]:
        seen.append(examples)
        return [example.output for example in examples]

    assert grounded_answer_metrics(write, [plain], REFUSAL, limit=10) is None and not seen
    metrics = grounded_answer_metrics(write, [plain, GOLD_SECOND, LEFT_OUT, GOLD_SECOND], REFUSAL, limit=2)
    assert seen == [[GOLD_SECOND, LEFT_OUT]] and metrics["examples"] == 2


def test_passages_are_cut_to_the_budget_with_short_ones_kept_whole() -> None:
    def count(text: str) -> int:
        return len(text)

    def cut(text: str, size: int) -> str:
        return text[:size]

    long = _hit("中华人民共和国民法典", "第一千零八十二条 " + "女方在怀孕期间、分娩后一年内，男方不得提出离婚。" * 12)
    passages = [(1, THEFT, THEFT.text), (2, long, long.text)]
    fitted = fit_passages(passages, 160, count, cut, TEMPLATES.header)
    assert fitted[0][2] == THEFT.text  # the short passage stays whole
    assert fitted[1][2].endswith("…") and fitted[1][2].startswith("第一千零八十二条")
    context = format_context(fitted, TEMPLATES.header)
    assert len(context) <= 160 + 4  # headers included; the "…" marks are not counted


@pytest.mark.slow
def test_the_training_card_reports_answers_of_base_and_adapter(tmp_path: Path) -> None:
    from domainrag.tune.train import TuneSettings, tune

    train = tmp_path / "grounded.jsonl"
    write_jsonl(train, [GOLD_SECOND, LEFT_OUT] * 4)
    write_jsonl(validation_path(train), [GOLD_SECOND, LEFT_OUT, GOLD_SECOND])
    settings = TuneSettings.from_pack(LAW, max_steps=2, batch_size=2, max_length=512, eval_examples=3, threads=1,
                                      save_steps=1, logging_steps=1, answer_examples=3, answer_max_new_tokens=12)
    out = tune(LAW, data=train, out=tmp_path / "adapter", settings=settings).adapter_dir
    card = json.loads((out / "training_card.json").read_text(encoding="utf-8"))
    for side in ("answers_base", "answers_adapter"):
        assert card[side]["examples"] == 3 and card[side]["answer_expected"] == 2
        assert 0.0 <= card[side]["cites_gold"] <= 1.0 and 0.0 <= card[side]["rouge_l_words"] <= 1.0
    assert "cites the gold passage, base → adapter" in (out / "training_card.md").read_text(encoding="utf-8")
