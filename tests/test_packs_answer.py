"""Every pack ingests a piece of its own corpus into a real Milvus Lite KB and answers one question
with its shipped adapter on the default local model (one short generation per pack); a pack with a similarity floor
(law, medical) or a keyword floor (law, finance) refuses a question off its subject."""

from __future__ import annotations

from pathlib import Path

import pytest

from domainrag import DomainRAG

DOMAINS = Path(__file__).resolve().parents[1] / "domains"
CASES = {
    "law": ("民法商法/个人独资企业法(1999-08-30).md", "个人独资企业的投资人对企业债务承担什么责任？"),
    "finance": ("laws/商业银行法(2015-08-29).md", "设立全国性商业银行的注册资本最低限额是多少？"),
    "medical": ("medicalgpt/medical_qa.jsonl", "高血压患者饮食要注意什么？"),
    "education": ("laws/义务教育法(2018-12-29).md", "适龄儿童应当在几周岁入学接受义务教育？"),
    "math": ("gsm8k/gsm8k_train_sample.jsonl", "计算：12 + 35 × 2"),
}
OFF_SUBJECT = "怎么做红烧鱼？"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_pack_ingests_and_answers_with_its_adapter(name: str, domainrag_home: Path) -> None:
    relative, question = CASES[name]
    rag = DomainRAG.from_pack(name, uri=str(domainrag_home / "packs.db"), kb=f"pack_{name}")
    summary = rag.ingest(DOMAINS / name / "corpus" / relative)
    assert summary.ingested == 1 and not summary.skipped and summary.chunks_total > 0
    answer = rag.ask(question, use_cache=False, max_new_tokens=24)
    assert answer.answer.strip() and answer.mode != "refused" and answer.citations
    assert answer.adapter and Path(answer.adapter) == rag.pack.adapter_dir, "the pack's shipped adapter must be active"
    if rag.pack.disclaimer:
        assert answer.disclaimer == rag.pack.disclaimer and rag.pack.disclaimer not in answer.answer
    plain = rag.ask(question, use_cache=False, max_new_tokens=4, adapter="none")
    assert not plain.adapter
    floors = rag.pack.retrieval
    if floors.similarity_floor > 0 or floors.score_threshold > 0:  # law, medical, finance: off the subject, nothing
        off_subject = rag.ask(OFF_SUBJECT, use_cache=False, max_new_tokens=4)
        assert off_subject.mode == "refused" and not off_subject.citations
