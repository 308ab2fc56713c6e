"""The learned reranker: its features, its reordering, its config errors, and the law pack's shipped model."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from domainrag.errors import ConfigError
from domainrag.hit import Hit
from domainrag.embed import StaticEmbedder
from domainrag.query import keywords, tfidf
from domainrag.rerank import (FEATURE_NAMES, LinearReranker, article_number, candidate_features, keyword_coverage,
                              load_embedding, passage_text)
from domainrag.retrieve import DENSE_HEAD

LAW_RERANKER = Path(__file__).resolve().parents[1] / "domains" / "law" / "reranker"
QUESTIONS = Path(__file__).resolve().parents[1] / "domains" / "law" / "eval" / "articles_lawbench_3-2.jsonl"


def row(cid: str, title: str, text: str, score: float, section: str = "", article: str = "", rank: int = 0) -> Hit:
    return Hit(rank=rank, score=score, chunk_id=cid, text=text, source=f"{title}.md", title=title, section=section,
               metadata={"article": article} if article else {})


@pytest.fixture(scope="module")
def law_embedding():
    return load_embedding(LAW_RERANKER / "embedding")


def test_features_describe_each_candidate():
    rows = [row("a", "中华人民共和国刑法", "第二百六十四条 盗窃公私财物……", 0.3, "第五章 侵犯财产罪", "第二百六十四条"),
            row("b", "刑法实施细则", "第二条 ……", 0.2, "第一章 总则", "第二条"),
            row("c", "中华人民共和国刑法", "第二百零一条 纳税人……", 0.1, "第三节 法律责任", "第二百零一条")]
    legs = {"words": [replace(rows[1], rank=1, score=8.0), replace(rows[0], rank=2, score=4.0)],
            "grams": [replace(rows[0], rank=1, score=20.0)]}
    features = candidate_features(rows, legs, np.array([0.2, 0.9, 0.5]), re.compile("(法|法典)$"))
    assert list(features["log_rank"]) == pytest.approx([0.0, math.log(2), math.log(3)])
    assert list(features["words_rr"]) == pytest.approx([1 / 12, 1 / 11, 1 / 310])  # c is absent from that search
    assert list(features["words_score"]) == pytest.approx([0.5, 1.0, 0.0])
    assert list(features["grams_score"]) == pytest.approx([1.0, 0.0, 0.0])
    assert list(features["preferred"]) == [1.0, 0.0, 1.0]
    assert list(features["general_section"]) == [0.0, 1.0, 0.0]
    assert list(features["liability_section"]) == [0.0, 0.0, 1.0]
    assert list(features["log_article"]) == pytest.approx([math.log1p(264), math.log1p(2), math.log1p(201)])
    assert list(features["doc_share"]) == pytest.approx([2 / 3, 1 / 3, 2 / 3])
    assert list(features["doc_score_share"]) == pytest.approx([(0.3 + 0.1) / 0.6, 0.2 / 0.6, (0.3 + 0.1) / 0.6])
    assert list(features["sim_gap"]) == pytest.approx([-0.7, 0.0, -0.4])
    assert list(features["sim_rr"]) == pytest.approx([1 / 8, 1 / 6, 1 / 7])
    assert list(features["log_length"]) == pytest.approx([math.log(len(passage_text(r))) for r in rows])
    assert sorted(features) == sorted(FEATURE_NAMES)
    assert list(features["dense_sim_gap"]) == [0.0, 0.0, 0.0] and list(features["dense_sim_rr"]) == [0.0, 0.0, 0.0]
    legs[DENSE_HEAD] = [replace(rows[2], score=0.8), replace(rows[0], score=0.6), replace(rows[1], score=0.3)]
    dense = candidate_features(rows, legs, np.array([0.2, 0.9, 0.5]), re.compile("(法|法典)$"))
    assert list(dense["dense_sim_gap"]) == pytest.approx([-0.2, -0.5, 0.0])
    assert list(dense["dense_sim_rr"]) == pytest.approx([1 / 7, 1 / 8, 1 / 6])
    assert article_number(row("x", "民法典", "", 0, article="第一千零七十九条")) == 1079
    assert article_number(row("y", "民法典", "", 0)) == 0
    assert list(dense["keyword_cover"]) == [0.0, 0.0, 0.0]  # no coverage given
    covered = candidate_features(rows, legs, np.array([0.2, 0.9, 0.5]), None, np.array([0.5, 0.25, 1.0]))
    assert list(covered["keyword_cover"]) == [0.5, 0.25, 1.0]
    assert list(covered["keyword_cover_gap"]) == [-0.5, -0.75, 0.0]


def test_keyword_coverage_weighs_the_question_words_a_passage_contains_by_idf():
    question = "场景：小李在超市盗窃财物被抓获，盗窃数额较大，应当如何处罚？"
    words = keywords(question)
    assert "盗窃" in words and "超市" in words
    idf = tfidf().idf_freq
    rows = [row("a", "刑法", "第二百六十四条 盗窃公私财物，数额较大的，处三年以下有期徒刑", 0.3),
            row("b", "消费者权益保护法", "第二十五条 经营者采用网络、电视、电话等方式销售商品", 0.2),
            row("c", "零售商促销行为管理办法", "超市等零售商开展促销活动", 0.1)]
    cover = keyword_coverage(question, rows)
    assert cover[1] == 0.0  # none of the question's words
    assert 0 < cover[2] < cover[0] < 1  # 超市 alone; 盗窃, 数额, 较大 … but not 超市
    total = sum(idf.get(w, tfidf().median_idf) for w in words)
    assert cover[2] == pytest.approx(idf.get("超市", tfidf().median_idf) / total)
    assert len(set(keyword_coverage("", rows))) == 1  # no words to judge by: no candidate is favoured
    assert len(keyword_coverage(question, [])) == 0


def test_rerank_orders_the_head_by_the_model_and_keeps_the_tail(law_embedding):
    rows = [row("a", "中华人民共和国公司法", "第一条 为了规范公司的组织和行为……", 0.5, article="第一条"),
            row("b", "中华人民共和国刑法", "第二百六十四条 盗窃公私财物，数额较大的，处三年以下有期徒刑", 0.4,
                article="第二百六十四条"),
            row("c", "中华人民共和国民法典", "第一千零七十九条 夫妻一方要求离婚的……", 0.3, article="第一千零七十九条"),
            row("d", "中华人民共和国刑法", "第一条 为了惩罚犯罪，保护人民……", 0.2, article="第一条")]
    rows = [replace(hit, rank=rank) for rank, hit in enumerate(rows, start=1)]  # in fused order
    by_similarity = LinearReranker(weights={"sim_gap": 1.0}, bias=0.0, depth=3, embedder=law_embedding)
    reranked = by_similarity.rerank("小偷盗窃了邻居的财物，数额较大，会被判几年有期徒刑？", rows, {})
    assert [r.chunk_id for r in reranked][0] == "b"
    assert all(0 < r.score < 1 for r in reranked[:3]) and reranked[0].score >= reranked[1].score
    assert sorted(r.chunk_id for r in reranked[:3]) == ["a", "b", "c"] and reranked[3] is rows[3]  # the tail as it was
    assert [r.rank for r in reranked] == [1, 2, 3, 4]
    assert [r.score for r in rows] == [0.5, 0.4, 0.3, 0.2]  # the fused hits are left unchanged
    by_fused_rank = LinearReranker(weights={"log_rank": -1.0}, bias=0.0, depth=3, embedder=law_embedding)
    assert [r.chunk_id for r in by_fused_rank.rerank("盗窃", rows, {})] == ["a", "b", "c", "d"]
    # the dense ranking of the candidates is searched for only when the weights use it
    assert by_fused_rank.rescore_depth == 0 and by_similarity.rescore_depth == 0
    assert replace(by_fused_rank, weights={"dense_sim_rr": 1.0}).rescore_depth == 3


def test_dense_head_ranks_every_candidate_by_its_stored_vector(law_rag):
    """The reranker's dense similarity covers each of the first candidates, not only those the dense search found:
    one search restricted to their ids, scored with the vectors stored at ingest."""
    retriever = law_rag.retriever
    question = "盗窃公私财物，数额较大的，应当如何处罚？"
    hits, legs = retriever.fused(question, retriever.candidates, rescore=12)
    head = hits[:12]
    assert len(head) == 12 and DENSE_HEAD not in retriever.fused(question, retriever.candidates)[1]
    ranking = legs[DENSE_HEAD]
    assert sorted(hit.chunk_id for hit in ranking) == sorted(hit.chunk_id for hit in head)
    assert [hit.score for hit in ranking] == sorted((hit.score for hit in ranking), reverse=True)
    assert {hit.chunk_id for hit in head} - {hit.chunk_id for hit in legs["dense"][:12]}  # some came from BM25 alone
    stored = {row["id"]: np.array(row["dense"]) for row in law_rag.store.client.get(
        law_rag.kb, ids=[hit.chunk_id for hit in head], output_fields=["dense"])}
    query = np.asarray(retriever.embedder.encode_query(question))
    assert [hit.score for hit in ranking] == pytest.approx([float(stored[hit.chunk_id] @ query) for hit in ranking],
                                                           abs=1e-4)


def test_static_embedding_loads_without_torch_and_matches_sentence_transformers(law_embedding):
    from sentence_transformers import SentenceTransformer

    assert isinstance(law_embedding, StaticEmbedder)  # model2vec: numpy and the tokenizer, no torch
    reranker = LinearReranker(weights={}, bias=0.0, depth=30, embedder=law_embedding)
    rows = [row("a", "中华人民共和国刑法", "第二百六十四条 盗窃公私财物，数额较大的，处三年以下有期徒刑", 0.4),
            row("b", "中华人民共和国民法典", "第一千零七十九条 夫妻一方要求离婚的……", 0.3)]
    question = "场景：小偷盗窃了邻居的财物，会被判几年？"
    reference = SentenceTransformer(str(LAW_RERANKER / "embedding"), device="cpu").float()
    vectors = reference.encode(["小偷盗窃了邻居的财物，会被判几年？", *map(passage_text, rows)],
                               normalize_embeddings=True, convert_to_numpy=True)
    assert reranker.similarities(question, rows) == pytest.approx(vectors[1:] @ vectors[0], abs=1e-4)
    # a passage's vector is kept by chunk id (a content hash) for the next question: the same id is not encoded again
    assert reranker.similarities(question, [replace(rows[0], text="另一段文字")]) == pytest.approx(
        [vectors[1] @ vectors[0]], abs=1e-4)
    assert reranker.similarities(question, rows[:1] + rows[:1]) == pytest.approx([vectors[1] @ vectors[0]] * 2, abs=1e-4)
    empty = law_embedding.encode(["", "盗窃"])
    assert empty.shape == (2, law_embedding.dim) and not np.isnan(empty).any()


def test_reranker_config_errors_name_the_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="reranker.json: reranker config missing"):
        LinearReranker.load(tmp_path)
    (tmp_path / "reranker.json").write_text('{"weights": {"log_rank": 1}}', encoding="utf-8")
    with pytest.raises(ConfigError, match="reranker.json: bad reranker config"):
        LinearReranker.load(tmp_path)
    misspelt = '{"weights": {"log_rnak": 1}, "bias": 0, "depth": 30}'
    (tmp_path / "reranker.json").write_text(misspelt, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"reranker.json: bad reranker config \(unknown features \['log_rnak'\]"):
        LinearReranker.load(tmp_path)
    (tmp_path / "reranker.json").write_text('{"weights": {}, "bias": 0, "depth": 30}', encoding="utf-8")
    with pytest.raises(ConfigError, match="embedding: no embedding model here"):
        LinearReranker.load(tmp_path)


def test_law_pack_ships_a_reranker_that_can_be_turned_off(law_rag, monkeypatch):
    config = json.loads((LAW_RERANKER / "reranker.json").read_text(encoding="utf-8"))
    assert config["depth"] > 5 and config["weights"]
    assert law_rag.retriever.reranker is not None and law_rag.retriever.reranker.depth == config["depth"]
    assert law_rag.retriever.reranker.rescore_depth == config["depth"]  # its weights use the dense ranking
    monkeypatch.setenv("DOMAINRAG_RERANKER", "off")
    from domainrag import DomainRAG

    plain = DomainRAG.from_pack("law", uri=law_rag.uri, kb=law_rag.kb)
    assert plain.retriever.reranker is None


@pytest.mark.slow
def test_law_reranker_finds_more_gold_articles_than_fusion_alone(domainrag_home, monkeypatch):
    """Half the pack's sample corpus (its commercial and social laws, which most of its LawBench 3-2 questions ask
    about; the whole corpus takes twice as long to embed on two cores) and the questions whose law it holds: more gold
    articles in the reranked top 5."""
    from domainrag import DomainRAG
    from domainrag.lawref import article_key, parse_article_ref, title_matches_law

    rag = DomainRAG.from_pack("law", uri=str(domainrag_home / "rerank.db"), kb="law_pack")
    rag.ingest([rag.pack.corpus_dir / "民法商法", rag.pack.corpus_dir / "社会法"])
    titles = sorted({r["title"] for r in rag.store.manifest(rag.kb).values()})
    items = [(q["question"], gold) for q in map(json.loads, QUESTIONS.read_text(encoding="utf-8").splitlines())
             if (gold := parse_article_ref(q["answer"], titles)) and any(title_matches_law(t, gold.law) for t in titles)]
    assert len(items) > 150
    assert rag.retriever.reranker is not None  # the retriever (and its reranker) load on first use
    monkeypatch.setenv("DOMAINRAG_RERANKER", "off")
    plain = DomainRAG.from_pack("law", uri=rag.uri, kb=rag.kb)
    assert plain.retriever.reranker is None

    def found(searcher: DomainRAG) -> int:
        return sum(any(title_matches_law(h.title, gold.law) and article_key(h.metadata.get("article", "")) == gold.article
                       for h in searcher.search(question, k=5)) for question, gold in items)

    assert found(rag) > found(plain)


def test_training_pairs_get_look_alike_negatives_from_the_same_law(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from train_law_reranker import lexical_neighbours, same_law_articles, with_negatives

    rows = [row("a", "中华人民共和国消费者权益保护法", "第二十四条 经营者提供的商品不符合质量要求的，消费者可以退货、更换或者修理。",
                0, article="第二十四条"),
            row("b", "中华人民共和国消费者权益保护法", "第二十五条 经营者采用网络方式销售商品，消费者有权自收到商品之日起七日内退货。",
                0, article="第二十五条"),
            row("c", "中华人民共和国消费者权益保护法", "第一条 为保护消费者的合法权益，维护社会经济秩序，制定本法。", 0, article="第一条"),
            row("d", "中华人民共和国消费者权益保护法", "第二十四条 经营者提供的商品不符合质量要求的，消费者可以退货。",
                0, article="第二十四条"),  # the same article in another version: never a negative for a
            row("e", "中华人民共和国产品质量法", "第四十条 售出的产品不符合质量要求的，销售者应当负责修理、更换、退货。", 0,
                article="第四十条")]
    others = same_law_articles(rows)
    assert others[0] == [1, 2] and others[4] == []
    assert lexical_neighbours(rows, others, limit=1)[0] == [1]  # the nearer wording comes first
    examples = with_negatives([("网购的商品有质量问题能退货吗", passage_text(rows[0]), 0),
                               ("产品质量问题", passage_text(rows[4]), 4)], rows)
    query, positive, look_alike, other = examples[0]
    assert (query, positive) == ("网购的商品有质量问题能退货吗", passage_text(rows[0]))
    assert look_alike in {passage_text(rows[1]), passage_text(rows[2])}  # same law, another article
    assert other in {passage_text(rows[1]), passage_text(rows[2])}
    assert examples[1] == ("产品质量问题", passage_text(rows[4]))  # its law has no other article: no negatives
