"""The storage contract suite on each Milvus (a Lite file, a server on loopback, DOMAINRAG_TEST_MILVUS_URI), and
knowledge-base creation that leaves nothing behind when the server refuses it."""

from __future__ import annotations

import uuid

import pytest

from domainrag.errors import StoreError
from domainrag.store import FILES_SUFFIX, Store
from domainrag.testing.chunk_store import DIM, MODEL, ChunkStoreContract


class TestMilvusStore(ChunkStoreContract):
    @pytest.fixture(scope="class")
    def store(self, milvus_uri: str, milvus_token: str | None) -> Store:
        return Store(milvus_uri, milvus_token)


class RefusedIndexStore(Store):
    """Asks for an index the milvus-lite engine refuses (HNSW), as the server path once did."""

    def dense_index(self) -> tuple[str, dict]:
        return "HNSW", {"M": 16, "efConstruction": 200}


def test_a_refused_creation_leaves_no_half_made_kb(milvus_server_uri: str) -> None:
    store = RefusedIndexStore(milvus_server_uri)
    kb = f"refused_{uuid.uuid4().hex[:8]}"
    with pytest.raises(StoreError, match=f"cannot create knowledge base '{kb}'.*HNSW.*nothing was kept"):
        store.ensure_kb(kb, MODEL, DIM, "zh", "contract")
    assert not store.client.has_collection(kb) and not store.client.has_collection(kb + FILES_SUFFIX)
    fine = Store(milvus_server_uri)
    assert fine.ensure_kb(kb, MODEL, DIM, "zh", "contract").dim == DIM and fine.count(kb) == 0
    assert fine.dense_index()[0] == "AUTOINDEX"
    fine.drop_kb(kb)


def test_an_incomplete_kb_is_named_with_the_fix(tmp_path) -> None:
    store = Store(str(tmp_path / "half.db"))
    store.ensure_kb("half", MODEL, DIM, "en", "contract")
    store.client.drop_collection("half" + FILES_SUFFIX)
    with pytest.raises(StoreError, match="incomplete.*domainrag kb delete half"):
        store.ensure_kb("half", MODEL, DIM, "en", "contract")
    assert store.drop_kb("half") and not store.has_kb("half")
