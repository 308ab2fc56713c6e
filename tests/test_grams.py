"""Character n-gram BM25: the text it indexes, and what it finds that jieba's words miss (real Milvus Lite)."""

from __future__ import annotations

from pathlib import Path

from domainrag import DomainRAG
from domainrag.grams import char_grams, query_grams
from domainrag.store import Store


def test_char_grams_are_unigrams_and_bigrams_of_each_cjk_run() -> None:
    assert char_grams("盗窃公私财物，数额较大") == "盗 窃 公 私 财 物 盗窃 窃公 公私 私财 财物 数 额 较 大 数额 额较 较大"
    assert char_grams("依照GDPR第5条") == "依 照 依照 gdpr 第 5 条"
    assert char_grams("  ，。！  ") == ""


def test_char_grams_keep_latin_words_whole_and_lower_cased() -> None:
    assert char_grams("Milvus BM25 检索") == "milvus bm25 检 索 检索"


def test_query_grams_leave_out_question_words_and_repeats() -> None:
    assert query_grams("ETF是什么？") == "etf 是"  # not 什 / 么 / 是什 / 什么, which outweighed the rare etf
    grams = query_grams("盗窃数额较大的，应当如何处罚？为什么？").split(" ")
    assert {"盗窃", "数额", "处罚", "应当"} <= set(grams) and not {"如", "何", "如何", "当如", "何处", "什么"} & set(grams)
    assert len(grams) == len(set(grams))
    assert query_grams("多少钱") == "钱" and query_grams("什么？") == ""


def test_char_grams_fit_milvus_varchar_limit_on_a_term_boundary() -> None:
    grams = char_grams("法" * 40000, max_bytes=1000)
    assert len(grams.encode("utf-8")) <= 1000
    assert all(term in ("法", "法法") for term in grams.split(" "))


def test_chinese_kb_finds_a_fragment_across_jieba_word_boundaries(law_rag: DomainRAG) -> None:
    store, kb = law_rag.store, law_rag.kb
    assert store.has_grams(kb)
    fragment = "资企"  # inside 独资企业 (jieba: 独资 / 企业), so no jieba token matches it
    assert not any(fragment in hit.text for hit in store.search_bm25(kb, fragment, 5))
    hits = store.search_grams(kb, fragment, 5)
    assert len(hits) == 5 and all(fragment in hit.text for hit in hits)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    assert [hit.rank for hit in hits] == [1, 2, 3, 4, 5]  # each search leg ranks its own hits


def test_bm25_mode_fuses_words_and_grams(law_rag: DomainRAG) -> None:
    retriever = law_rag.retriever
    query = "个人独资企业的投资人对企业债务承担什么责任"
    fused = [h.chunk_id for h in retriever.search(query, k=10, mode="bm25")]
    words = [hit.chunk_id for hit in law_rag.store.search_bm25(law_rag.kb, query, 50)]
    grams = [hit.chunk_id for hit in law_rag.store.search_grams(law_rag.kb, query, 50)]
    assert fused and set(fused) <= set(words) | set(grams)
    top3 = law_rag.search(query, k=3, mode="bm25")
    assert top3[0].title == "中华人民共和国个人独资企业法"
    assert "第二条" in [h.metadata.get("article") for h in top3]  # 投资人以其个人财产对企业债务承担无限责任


def test_english_kb_has_no_gram_field(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "en.db"))
    store.ensure_kb("english", embedding_model="default", dim=4, language="en", pack="demo")
    assert not store.has_grams("english")
    store.upsert_chunks("english", [{"id": "a", "text": "deposit insurance", "search_text": "deposit insurance",
                                     "source": "a.md", "title": "A", "section": "", "metadata": {},
                                     "dense": [1.0, 0.0, 0.0, 0.0]}])
    store.flush("english")
    assert store.search_grams("english", "deposit", 5) == []
    [hit] = store.search_bm25("english", "deposit", 5)
    assert (hit.chunk_id, hit.text, hit.source, hit.title, hit.rank) == ("a", "deposit insurance", "a.md", "A", 1)
    assert hit.score > 0
