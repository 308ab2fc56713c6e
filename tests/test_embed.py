"""The embedder: one-query fast path and the compute dtype (real all-MiniLM-L6-v2)."""

from __future__ import annotations

import numpy as np
import pytest

from domainrag.embed import Embedder, get_embedder
from domainrag.errors import ModelError

QUESTIONS = ["盗窃公私财物数额较大的，怎么处罚？", "How long do depositors have to file a claim?"]


def test_encode_query_gives_the_vector_encode_gives() -> None:
    embedder = get_embedder(None)
    for question in QUESTIONS:
        single = embedder.encode_query(question)
        batch = embedder.encode([question])[0]
        assert single.dtype == np.float32 and single.shape == (embedder.dim,)
        assert abs(float(np.linalg.norm(single)) - 1.0) < 1e-3
        assert float(single @ batch) > 0.999


def test_embedding_dtype_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from domainrag.embed import resolve_embedding_name

    monkeypatch.setenv("DOMAINRAG_EMBEDDING_DTYPE", "float32")
    full = Embedder(resolve_embedding_name(None))
    assert next(full.model.parameters()).dtype == torch.float32
    monkeypatch.setenv("DOMAINRAG_EMBEDDING_DTYPE", "bfloat16")
    half = Embedder(resolve_embedding_name(None))
    assert next(half.model.parameters()).dtype == torch.bfloat16
    assert half.encode(QUESTIONS).dtype == np.float32
    assert float(half.encode_query(QUESTIONS[1]) @ full.encode_query(QUESTIONS[1])) > 0.99
    monkeypatch.setenv("DOMAINRAG_EMBEDDING_DTYPE", "fp8")
    with pytest.raises(ModelError, match="unknown DOMAINRAG_EMBEDDING_DTYPE 'fp8'"):
        Embedder(resolve_embedding_name(None))
