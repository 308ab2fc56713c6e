"""Every eval metric against a value computed by hand (no models, no Milvus)."""

from __future__ import annotations

import math

import pytest

from domainrag.answer import Citation
from domainrag.evaluate import metrics
from domainrag.evaluate.extract import extract_choices, extract_number
from domainrag.evaluate.gold import Gold
from domainrag.lawref import ArticleRef, article_key, parse_article_ref, parse_article_refs
from domainrag.numerals import article_number, chinese_numeral
from domainrag.evaluate.runner import score_answer
from domainrag.evaluate.sets import parse_item
from domainrag.retrieve import Hit


def hit(chunk_id: str = "c", title: str = "", text: str = "", article: str | None = None, **meta) -> Hit:
    metadata = {"article": article, **meta} if article else dict(meta)
    return Hit(rank=1, score=1.0, chunk_id=chunk_id, text=text, source="s.md", title=title, section="", metadata=metadata)


# ---- retrieval ------------------------------------------------------------------------------------------------
def test_recall_mrr_ndcg_hand_computed() -> None:
    # gold items a, b, c; hits: miss, a, miss, b, (nothing else)
    scores = metrics.retrieval_metrics([[], ["a"], [], ["b"]], ["a", "b", "c"], k=10)
    assert scores["recall@1"] == 0
    assert scores["recall@3"] == pytest.approx(1 / 3)
    assert scores["recall@5"] == pytest.approx(2 / 3)
    assert scores["recall@10"] == pytest.approx(2 / 3)
    assert scores["mrr"] == pytest.approx(1 / 2)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert scores["ndcg"] == pytest.approx(dcg / ideal)


def test_a_gold_item_found_twice_counts_once() -> None:
    scores = metrics.retrieval_metrics([["a"], ["a"], ["b"]], ["a", "b"], k=3)
    assert scores["recall@1"] == pytest.approx(0.5) and scores["recall@3"] == 1.0 and scores["mrr"] == 1.0
    assert scores["ndcg"] == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))


def test_hits_beyond_k_and_empty_results_score_zero() -> None:
    assert metrics.retrieval_metrics([[], [], ["a"]], ["a"], k=2) == {"recall@1": 0.0, "recall@2": 0.0, "mrr": 0.0, "ndcg": 0.0}
    assert metrics.retrieval_metrics([], ["a"], k=5)["recall@5"] == 0.0
    assert metrics.first_gold_rank([[], ["x"], ["y"]]) == 2 and metrics.first_gold_rank([[]]) is None
    with pytest.raises(ValueError):
        metrics.retrieval_metrics([["a"]], [], k=1)


def test_cutoffs() -> None:
    assert metrics.cutoffs_for(10) == [1, 3, 5, 10]
    assert metrics.cutoffs_for(7) == [1, 3, 5, 7]
    assert metrics.cutoffs_for(1) == [1]


# ---- gold matching and statute references --------------------------------------------------------------------
@pytest.mark.parametrize("text,value", [("十", 10), ("十五", 15), ("二十", 20), ("一百零八", 108), ("一千二百六十", 1260),
                                        ("两百", 200), ("56", 56), ("５６", 56), ("一万零一", 10001), ("二〇二〇", 2020),
                                        ("三亿五千万", 350_000_000)])
def test_chinese_numerals(text: str, value: int) -> None:
    assert chinese_numeral(text) == value


@pytest.mark.parametrize("text", ["", "第五", "五条", "5.5"])
def test_what_is_not_a_numeral_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        chinese_numeral(text)


@pytest.mark.parametrize("label,parsed", [("第一百三十三条之一", (133, 1)), ("第56条", (56, None)),
                                          ("第 十二 条的规定", (12, None)), ("第五章", None), ("二百", None)])
def test_article_labels_parse_to_number_and_suffix(label: str, parsed) -> None:
    assert article_number(label) == parsed


def test_article_keys() -> None:
    assert article_key("第五十六条") == article_key("第56条") == article_key("56") == "56"
    assert article_key("第一百三十三条之一") == "133-1"
    assert article_key("第X条") is None and article_key("总则") is None


@pytest.mark.parametrize("answer,law,article", [
    ("根据《农民专业合作社法》第五十六条，三个以上的……", "农民专业合作社法", "56"),
    ("根据社会法类中的妇女权益保障法第3条规定", "妇女权益保障法", "3"),
    ("中华人民共和国农村土地承包法第十条", "农村土地承包法", "10"),
    ("根据《民法商法类中的个人独资企业法》的第十五条规定", "个人独资企业法", "15"),
    ("根据我国的《消费者权益保护法》的第五条规定", "消费者权益保护法", "5"),
    ("根据《社会法》中的慈善法的第九十一条", "慈善法", "91"),
    ("根据涉外民事关系法律适用法的第二十六条", "涉外民事关系法律适用法", "26"),
    ("根据民法典类中的婚姻家庭编的第一千零四十一条", "民法典", "1041"),
    ("这属于劳动法的第七十二条规定", "劳动法", "72"),
])
def test_law_reference_variants(answer: str, law: str, article: str) -> None:
    assert parse_article_ref(answer) == ArticleRef(law, article)


def test_following_and_this_law_references_inherit_the_law() -> None:
    assert parse_article_refs("《公司法》第十条和第十一条") == [ArticleRef("公司法", "10"), ArticleRef("公司法", "11")]
    assert parse_article_refs("根据证券法第198条，证券公司违反本法第88条的规定") == [
        ArticleRef("证券法", "198"), ArticleRef("证券法", "88")]
    assert parse_article_refs("出租人适用民法商法中第47条的规定") == []
    assert parse_article_refs("按照相关规定处理") == []


def test_gold_matching_by_article_span_chunk_and_doc() -> None:
    gold = Gold(chunk_ids=["c9"], articles=[ArticleRef("农民专业合作社法", "56")], spans=["可以出资 设立"], doc_ids=["d1"])
    assert gold.keys() == ["chunk:c9", "article:农民专业合作社法:56", "span:0", "doc:d1"]
    right = hit(title="中华人民共和国农民专业合作社法", article="第五十六条", text="三个以上……可以出资设立联合社")
    assert gold.matches(right) == ["article:农民专业合作社法:56", "span:0"]
    assert gold.matches(hit(title="中华人民共和国公司法", article="第五十六条")) == []
    assert gold.matches(hit(title="中华人民共和国农民专业合作社法", article="第五十七条")) == []
    assert gold.matches(hit(chunk_id="c9")) == ["chunk:c9"]
    assert gold.matches(hit(doc_id="d1")) == ["doc:d1"]
    # a citation has no metadata: the article comes from the text's leading "第N条"
    citation = Citation(1, "x", "s.md", "中华人民共和国农民专业合作社法", "", "第五十六条　三个以上的农民专业合作社……")
    assert gold.matches(citation) == ["article:农民专业合作社法:56"]


# ---- answer extraction -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [("[正确答案]B<eoa>", ["B"]), ("正确答案：D。", ["D"]), ("故选：C。", ["C"]),
                                           ("B", ["B"]), ("The answer is (B).", ["B"]), ("答案：BD", ["B", "D"]),
                                           ("选项A和C看似都对，但答案为C", ["C"]), ("这个问题很难", []),
                                           ("A项错误，C项不正确，B项正确。", ["B"]), ("B. 可以作出承诺", ["B"])])
def test_option_extraction(text: str, expected: list[str]) -> None:
    assert extract_choices(text) == expected


def test_choice_accuracy() -> None:
    assert metrics.choice_correct("正确答案：CA", ["AC"]) == (True, ["A", "C"])
    assert metrics.choice_correct("正确答案：A", ["AC"]) == (False, ["A"])
    assert metrics.choice_correct("我不确定", ["A"]) == (False, [])
    assert metrics.choice_correct("1. B 2. D", ["B", "D"]) == (True, ["B", "D"])  # multi-blank: order matters
    assert metrics.choice_correct("1. D 2. B", ["B", "D"])[0] is False


@pytest.mark.parametrize("text,value", [("9 * 2 = 18 dollars.\n#### 18", 18.0), ("答案是1,234.5元", 1234.5),
                                        ("共12.57万亿元", 12.57e12), ("\\boxed{3/4}", 0.75), ("结果为 -5", -5.0),
                                        ("first 3, then 4, so 7", 7.0), ("没有数字", None)])
def test_number_extraction(text: str, value: float | None) -> None:
    assert extract_number(text) == (pytest.approx(value) if value is not None else None)


def test_numeric_tolerance() -> None:
    assert metrics.numbers_match(18.0, 18, "18") and not metrics.numbers_match(18.4, 18, "18", rel_tol=0)
    assert metrics.numbers_match(71.275, 71.28, "71.28元", rel_tol=0)   # rounds to the gold's 2 decimals
    assert not metrics.numbers_match(71.274, 71.28, "71.28元", rel_tol=0)
    assert metrics.numbers_match(100.009, 100, "100", rel_tol=1e-4)        # within 0.01 %
    assert not metrics.numbers_match(None, 1, "1")


# ---- free text ------------------------------------------------------------------------------------------------
def test_rouge_l_and_char_f1_hand_computed() -> None:
    # LCS("今天天气很好", "天气不错很好") = "天气很好" (4): P = R = 4/6
    assert metrics.rouge_l("今天天气很好", "天气不错很好") == pytest.approx(2 / 3)
    assert metrics.char_f1("今天天气很好", "天气不错很好") == pytest.approx(2 / 3)
    # same characters, different order: bag F1 is 1, LCS is "天气" (2 of 4)
    assert metrics.char_f1("好很天气", "天气很好") == pytest.approx(1.0)
    assert metrics.rouge_l("好很天气", "天气很好") == pytest.approx(0.5)
    assert metrics.rouge_l("，。", "天气") == 0.0 and metrics.char_f1("", "天气") == 0.0


def test_faithfulness_counts_supported_sentences() -> None:
    cited = ["公司可以设立分公司，设立分公司应当登记"]
    assert metrics.faithfulness("公司可以设立分公司[1]。月亮是方的。", cited) == (0.5, 1, 2)
    # "公司应当登记结婚": bigrams 公司 司应 应当 当登 登记 记结 结婚; the first 5 occur in the source
    # (punctuation is dropped, so "分公司，设立…公司应当" yields 司应): 5/7
    assert metrics.sentence_support("公司应当登记结婚", cited) == pytest.approx(5 / 7)
    assert metrics.faithfulness("公司应当登记结婚。", cited) == (1.0, 1, 1)
    assert metrics.faithfulness("公司应当登记结婚。", cited, threshold=0.75) == (0.0, 0, 1)
    assert metrics.faithfulness("公司可以设立分公司。仅供参考，不构成法律意见。", cited,
                                ignore=["仅供参考，不构成法律意见。"]) == (1.0, 1, 1)
    assert metrics.faithfulness("公司可以设立分公司。", []) == (0.0, 0, 1)
    assert metrics.faithfulness("好。", cited) == (None, 0, 0)


def test_citation_precision() -> None:
    assert metrics.citation_precision([["a"], [], ["b"]]) == pytest.approx(2 / 3)
    assert metrics.citation_precision([]) is None


def test_score_answer_on_precomputed_answers() -> None:
    law = parse_item({"question": "联合社？", "answer": "根据《农民专业合作社法》第五十六条，可以设立联合社。"}, 1, "q1")
    right = Citation(1, "c1", "s", "中华人民共和国农民专业合作社法", "", "第五十六条 三个以上的农民专业合作社可以出资设立联合社。")
    wrong = Citation(2, "c2", "s", "中华人民共和国刑法", "", "第二条 中华人民共和国刑法的任务，是用刑罚同一切犯罪行为作斗争")
    scored = score_answer(law, "三个以上的农民专业合作社可以出资设立联合社[1]。刑法的任务是用刑罚同犯罪作斗争[2]。", [right, wrong])
    assert scored["citation_precision"] == 0.5 and scored["citations"] == 2
    assert scored["faithfulness"] == 1.0 and scored["sentences"] == 2
    assert scored["rouge_l"] == pytest.approx(metrics.rouge_l(scored["text"], law.answer))
    record = Citation(1, "c3", "s", "medical_qa", "#1", "问：肛门病变可能是什么疾病的症状?\n答：食管克罗恩病")
    quoted = score_answer(law, "根据《medical_qa》[1]，食管克罗恩病", [record])  # a short quote led by its source's name
    assert quoted["faithfulness"] == 1.0
    mcq = parse_item({"question": "选哪个?A:甲;B:乙", "answer": "正确答案：B。"}, 2, "q2")
    assert score_answer(mcq, "[正确答案]B<eoa>", [])["correct"] is True
    number = parse_item({"question": "多少？", "answer": "71.28元"}, 3, "q3")
    result = score_answer(number, "50 × 1.4255 = 71.275 元", [])
    assert result["correct"] is True and result["predicted"] == pytest.approx(71.275)
    assert "citation_precision" not in result  # no retrieval gold, nothing to check citations against
