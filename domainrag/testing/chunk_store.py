"""The storage contract's test suite: every ``ChunkStore`` backend runs it with one fixture.

Subclass ``ChunkStoreContract`` in a pytest module and provide a ``store`` fixture (class or session scope)::

    class TestMyBackend(ChunkStoreContract):
        @pytest.fixture(scope="class")
        def store(self):
            return MyStore(...)

Each test works in knowledge bases with fresh random names and drops them afterwards, so the suite can run
against a shared server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from domainrag.chunk_store import CHUNK_FIELDS, ChunkStore
from domainrag.errors import ConfigError

DIM = 8
MODEL = "contract-model"


def chunk_row(chunk_id: str, text: str = "text", source: str = "doc.md", dim: int = DIM, **fields: Any) -> dict[str, Any]:
    """A complete chunk row as the ingest pipeline writes it; ``fields`` override the defaults."""
    seed = sum(map(ord, chunk_id))
    row = {"id": chunk_id, "text": text, "search_text": text, "source": source, "title": "Title",
           "section": "Section 1", "metadata": {"n": seed}, "dense": [float((seed + i) % 7 + 1) for i in range(dim)]}
    return {**row, **fields}


class ChunkStoreContract:
    """What every knowledge-base backend must do. Needs a ``store`` fixture yielding a ``ChunkStore``."""

    @pytest.fixture(scope="class")
    def shared_kb(self, store: ChunkStore) -> Iterator[str]:
        """One knowledge base for the class (Chinese, so backends with language-specific fields create them)."""
        name = f"contract_{uuid.uuid4().hex[:12]}"
        store.ensure_kb(name, MODEL, DIM, "zh", "contract")
        yield name
        store.drop_kb(name)

    @pytest.fixture
    def kb(self, store: ChunkStore, shared_kb: str) -> str:
        """The class's knowledge base, emptied (creating one per test would cost seconds on Milvus)."""
        store.delete_chunks(shared_kb, [row["id"] for row in store.iter_chunks(shared_kb, ["id"])])
        for source in store.manifest(shared_kb):
            store.forget_file(shared_kb, source)
        store.flush(shared_kb)
        return shared_kb

    def test_satisfies_the_protocol(self, store: ChunkStore) -> None:
        assert isinstance(store, ChunkStore)

    def test_a_new_kb_is_listed_and_described(self, store: ChunkStore, kb: str) -> None:
        assert store.has_kb(kb) and kb in store.list_kbs()
        info = store.kb_info(kb)
        assert (info.name, info.embedding_model, info.dim, info.language, info.pack) == (kb, MODEL, DIM, "zh", "contract")
        assert store.count(kb) == 0 and store.manifest(kb) == {} and list(store.iter_chunks(kb)) == []
        fresh = f"contract_{uuid.uuid4().hex[:12]}"
        try:
            assert store.ensure_kb(fresh, MODEL, DIM, "en", "contract").language == "en" and store.count(fresh) == 0
            assert fresh in store.list_kbs()
        finally:
            store.drop_kb(fresh)

    def test_ensure_kb_is_idempotent_and_refuses_another_model(self, store: ChunkStore, kb: str) -> None:
        store.upsert_chunks(kb, [chunk_row("a")])
        store.flush(kb)
        assert store.ensure_kb(kb, MODEL, DIM, "zh", "contract").dim == DIM
        assert store.count(kb) == 1
        with pytest.raises(ConfigError, match="embedding model"):
            store.ensure_kb(kb, "another-model", DIM * 2, "zh", "contract")

    def test_a_kb_remembers_the_version_of_its_model(self, store: ChunkStore) -> None:
        versioned = f"contract_{uuid.uuid4().hex[:12]}"
        try:
            assert store.ensure_kb(versioned, MODEL, DIM, "zh", "contract", embedding_version="v1").embedding_version == "v1"
            assert store.kb_info(versioned).embedding_version == "v1"
            assert store.ensure_kb(versioned, MODEL, DIM, "zh", "contract", embedding_version="v1").dim == DIM
            assert store.ensure_kb(versioned, MODEL, DIM, "zh", "contract").dim == DIM  # a version not known passes
            with pytest.raises(ConfigError, match="earlier version of embedding model"):
                store.ensure_kb(versioned, MODEL, DIM, "zh", "contract", embedding_version="v2")
        finally:
            store.drop_kb(versioned)

    def test_invalid_kb_names_are_refused(self, store: ChunkStore) -> None:
        for name in ("has space", "double__underscore", "1starts_with_digit", ""):
            with pytest.raises(ConfigError, match="invalid knowledge-base name"):
                store.ensure_kb(name, MODEL, DIM, "en", "contract")

    def test_chunks_round_trip(self, store: ChunkStore, kb: str) -> None:
        rows = [chunk_row("a", "第一条 为了规范农民专业合作社的组织和行为", "法/合作社法.md", metadata={"article": "第一条"}),
                chunk_row("b", 'quotes "and" \\ backslashes', "it's \"odd\".md")]
        store.upsert_chunks(kb, rows)
        store.flush(kb)
        stored = {row["id"]: row for row in store.iter_chunks(kb)}
        assert set(stored) == {"a", "b"} and store.count(kb) == 2
        for row in rows:
            assert {f: stored[row["id"]][f] for f in CHUNK_FIELDS} == {f: row[f] for f in CHUNK_FIELDS}

    def test_upsert_replaces_by_id(self, store: ChunkStore, kb: str) -> None:
        store.upsert_chunks(kb, [chunk_row("a", "old"), chunk_row("b")])
        store.upsert_chunks(kb, [chunk_row("a", "new")])
        store.flush(kb)
        assert store.count(kb) == 2
        assert {r["id"]: r["text"] for r in store.iter_chunks(kb, ["id", "text"])} == {"a": "new", "b": "text"}

    def test_iteration_crosses_batches_and_delete_removes_many(self, store: ChunkStore, kb: str) -> None:
        ids = [f"c{i:04d}" for i in range(1205)]
        store.upsert_chunks(kb, [chunk_row(i, source=f"s{int(i[1:]) % 3}.md") for i in ids])
        store.flush(kb)
        seen = [row["id"] for row in store.iter_chunks(kb, ["id"], batch_size=100)]
        assert sorted(seen) == ids
        store.delete_chunks(kb, ids[:1100])
        store.flush(kb)
        assert store.count(kb) == 105
        assert sorted(r["id"] for r in store.iter_chunks(kb, ["id"])) == ids[1100:]

    def test_ids_by_source(self, store: ChunkStore, kb: str) -> None:
        store.upsert_chunks(kb, [chunk_row("a", source='法律/"引号".md'), chunk_row("b", source='法律/"引号".md'),
                                 chunk_row("c", source="other.md")])
        store.flush(kb)
        assert store.chunk_ids_for_source(kb, '法律/"引号".md') == {"a", "b"}
        assert store.chunk_ids_for_source(kb, "missing.md") == set()

    def test_manifest_and_version(self, store: ChunkStore, kb: str) -> None:
        empty = store.kb_version(kb)
        store.record_file(kb, "a.md", "hash-a", "A", 3)
        store.record_file(kb, "b.md", "hash-b", "B", 1)
        with_two = store.kb_version(kb)
        entry = store.manifest(kb)["a.md"]
        assert (entry["file_hash"], entry["title"], entry["chunks"]) == ("hash-a", "A", 3) and entry["ingested_at"] > 0
        store.record_file(kb, "a.md", "hash-a2", "A", 4)
        changed = store.kb_version(kb)
        store.forget_file(kb, "a.md")
        store.forget_file(kb, "b.md")
        assert set(store.manifest(kb)) == set()
        assert len({empty, with_two, changed}) == 3 and store.kb_version(kb) == empty

    def test_knowledge_bases_are_isolated_and_drop_removes_everything(self, store: ChunkStore, kb: str) -> None:
        other = f"contract_{uuid.uuid4().hex[:12]}"
        store.ensure_kb(other, MODEL, DIM, "en", "contract")
        try:
            store.upsert_chunks(other, [chunk_row("x")])
            store.record_file(other, "x.md", "h", "X", 1)
            store.flush(other)
            assert store.count(kb) == 0 and store.manifest(kb) == {} and store.count(other) == 1
        finally:
            assert store.drop_kb(other) is True
        assert store.drop_kb(other) is False
        assert not store.has_kb(other) and other not in store.list_kbs() and store.has_kb(kb)
