"""Structure-aware splitting of statutes, Markdown and plain prose."""

from __future__ import annotations

from pathlib import Path

from domainrag.ingestion import Document, load_file, split_document
from domainrag.ingestion.splitters import split_text

from conftest import LAW_CORPUS


def test_real_statute_one_chunk_per_article_with_outline() -> None:
    doc = load_file(LAW_CORPUS / "刑法" / "刑法.md")
    chunks = split_document(doc, limit=600)
    by_article = {c.metadata.get("article"): c for c in chunks if c.metadata.get("part") is None}
    theft = by_article["第二百六十四条"]
    assert theft.title == "中华人民共和国刑法"
    assert theft.section == "第二编 分则 / 第五章 侵犯财产罪"
    assert theft.text.startswith("第二百六十四条 盗窃公私财物")
    assert theft.search_text.startswith("中华人民共和国刑法 第二编 分则 / 第五章 侵犯财产罪\n")
    # every article of the law appears, in order, and no chunk exceeds the limit
    articles = [c.metadata["article"] for c in chunks if "article" in c.metadata and c.metadata.get("part", 0) == 0]
    assert articles[:3] == ["第一条", "第二条", "第三条"]
    assert len(set(articles)) == len(articles) > 450
    assert max(len(c.text) for c in chunks) <= 600 + len("第一百二十条之一（续9） ")


def test_long_article_is_split_at_sentence_ends_and_keeps_its_label() -> None:
    sentences = "".join(f"第{i}句内容说明某项义务。" for i in range(60))
    doc = Document(source="x.md", title="示例法", text="# 示例法\n第一条 短。\n第二条 " + sentences + "\n第三条 短。")
    chunks = split_document(doc, limit=200, overlap=0)
    second = [c for c in chunks if c.metadata.get("article") == "第二条"]
    assert len(second) > 1
    assert all(len(c.text) <= 200 + 12 for c in second)
    assert second[1].text.startswith("第二条（续1） ")
    assert all(c.text.rstrip().endswith("。") for c in second)


def test_markdown_sections_follow_heading_path() -> None:
    text = "# Handbook\n\n## Loans\n\nA loan must be repaid.\n\n### Interest\n\nInterest accrues daily.\n\n## Deposits\n\nDeposits are insured."
    chunks = split_document(Document(source="h.md", title="Handbook", text=text), limit=500)
    assert [(c.section, c.text) for c in chunks] == [
        ("Loans", "A loan must be repaid."),
        ("Loans / Interest", "Interest accrues daily."),
        ("Deposits", "Deposits are insured."),
    ]


def test_split_text_respects_limit_and_chinese_sentence_ends() -> None:
    text = "甲方应当按时付款。乙方应当按时交货！双方是否可以解除合同？可以。" * 5
    pieces = split_text(text, limit=40)
    assert all(len(p) <= 40 for p in pieces)
    assert "".join(pieces) == text
    assert all(p[-1] in "。！？" for p in pieces)


def test_chunk_ids_are_content_hashes(tmp_path: Path) -> None:
    doc = Document(source="a.md", title="T", text="# T\n第一条 甲。\n第二条 乙。\n第三条 丙。")
    first, again = split_document(doc), split_document(doc)
    assert [c.id for c in first] == [c.id for c in again]
    moved = Document(source="b.md", title="T", text=doc.text)
    assert {c.id for c in split_document(moved)}.isdisjoint({c.id for c in first})
