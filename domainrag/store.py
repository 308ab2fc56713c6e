"""Milvus I/O: one chunk collection plus one file manifest per knowledge base, Lite or server by URI.

``Store`` satisfies the storage contract (``domainrag.chunk_store.ChunkStore``); its ``search_*`` methods are
the Milvus search the retriever uses.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from domainrag.chunk_store import CHUNK_FIELDS, KBInfo, check_embedding_version
from domainrag.config import is_server_uri, validate_kb_name
from domainrag.errors import ConfigError, StoreError
from domainrag.grams import char_grams, query_grams
from domainrag.hit import Hit

__all__ = ["CHUNK_FIELDS", "KBInfo", "Store", "connect"]
FILES_SUFFIX = "__files"
INFO_PROPERTY = "domainrag.kb_info"
_MAX_TEXT = 65535
# Stop words for the BM25 analyzer: function words that carry no retrieval signal in Chinese or English.
STOP_WORDS = sorted(set(
    "的 了 和 与 及 或 是 在 对 由 为 以 其 之 于 而 并 等 上 下 中 者 所 被 将 把 从 向 这 那 有 也 就 都 又 "
    "a an the of to in on for and or is are was were be by with as at from that this it".split()
))
JIEBA_ANALYZER = {"tokenizer": "jieba", "filter": [{"type": "stop", "stop_words": STOP_WORDS}]}
# The n-gram field's text is written by domainrag.grams (already split and lower-cased).
GRAMS_ANALYZER = {"tokenizer": "whitespace"}
GRAMS_FIELD, GRAMS_TEXT_FIELD = "grams", "gram_text"
STANDARD_ANALYZER = {"tokenizer": "standard", "filter": ["lowercase", {"type": "stop", "stop_words": STOP_WORDS}]}

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def connect(uri: str, token: str | None = None) -> Any:
    """One MilvusClient per URI per process (Milvus Lite allows one owner of a .db file)."""
    from pymilvus import MilvusClient

    # Milvus Lite has no AllocTimestamp; query_iterator warns on every call and falls back correctly.
    for name in ("pymilvus.orm.iterator", "pymilvus.client.iterator.query_iterator"):
        logging.getLogger(name).setLevel(logging.ERROR)

    key = f"{uri}|{token or ''}"
    with _clients_lock:
        if key not in _clients:
            if not is_server_uri(uri):
                Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
            try:
                _clients[key] = MilvusClient(uri=uri, token=token or "")
            except Exception as exc:
                hint = ("start it (`domainrag milvus start`, or docker compose up -d) or check the URI"
                        if is_server_uri(uri) else
                        "check the path is writable; a file another process has open (domainrag ui, serve or ingest) "
                        "is shared by running `domainrag milvus start` first; a file written by another "
                        "milvus-lite version (e.g. 3.x) cannot be opened: ingest into a new file")
                raise StoreError(f"cannot open Milvus at {uri} ({type(exc).__name__}: {str(exc)[:120]}); {hint}") from None
        return _clients[key]


def is_connected(uri: str) -> bool:
    """Whether this process holds a client of ``uri`` (any token)."""
    with _clients_lock:
        return any(key.split("|")[0] == uri for key in _clients)


def disconnect(uri: str) -> None:
    """Close this process's clients of ``uri`` (any token); the next ``connect`` opens a new one."""
    with _clients_lock:
        for key in [key for key in _clients if key.split("|")[0] == uri]:
            _clients.pop(key).close()


class Store:
    """Chunks and manifest for knowledge bases in one Milvus instance."""

    def __init__(self, uri: str, token: str | None = None) -> None:
        self.uri = uri
        self.client = connect(uri, token)
        self._loaded: set[str] = set()
        self._grams: dict[str, bool] = {}

    # ---- knowledge bases -------------------------------------------------
    def list_kbs(self) -> list[str]:
        return sorted(n for n in self.client.list_collections() if "__" not in n and self.client.has_collection(n + FILES_SUFFIX))

    def has_kb(self, kb: str) -> bool:
        return self.client.has_collection(validate_kb_name(kb))

    def load(self, kb: str) -> None:
        """Load the KB's collections into memory (needed once per process before search or query)."""
        for name in (kb, kb + FILES_SUFFIX):
            if name not in self._loaded and self.client.has_collection(name):
                state = str(self.client.get_load_state(name).get("state", ""))
                if "Loaded" not in state:
                    self.client.load_collection(name)
                self._loaded.add(name)

    def has_grams(self, kb: str) -> bool:
        """Whether the KB has the character n-gram BM25 field (Chinese KBs created since it was added)."""
        if kb not in self._grams:
            fields = self.client.describe_collection(kb).get("fields", [])
            self._grams[kb] = any(f.get("name") == GRAMS_FIELD for f in fields)
        return self._grams[kb]

    def kb_info(self, kb: str) -> KBInfo:
        described = self.client.describe_collection(kb)
        # Milvus Lite 2.5 drops collection properties and a server keeps both: the info is written to both.
        description = (described.get("properties") or {}).get(INFO_PROPERTY) or described.get("description", "")
        try:
            data = json.loads(description)
        except (json.JSONDecodeError, TypeError):
            raise StoreError(f"collection {kb!r} was not created by domainrag; choose another --kb") from None
        return KBInfo(name=kb, **data)

    def ensure_kb(self, kb: str, embedding_model: str, dim: int, language: str, pack: str,
                  embedding_version: str = "") -> KBInfo:
        """Create the KB's collections if missing, all or nothing; refuse a KB built with another embedding model,
        or with another version of it (``embedding_version``, when both are known)."""
        validate_kb_name(kb)
        if self.client.has_collection(kb):
            if not self.client.has_collection(kb + FILES_SUFFIX):
                raise StoreError(f"knowledge base {kb!r} at {self.uri} is incomplete (its creation failed part-way); "
                                 f"remove it with `domainrag kb delete {kb}` and ingest again")
            self.load(kb)
            info = self.kb_info(kb)
            if info.dim != dim or info.embedding_model != embedding_model:
                raise ConfigError(
                    f"knowledge base {kb!r} was built with embedding model {info.embedding_model!r} ({info.dim}-d), "
                    f"not {embedding_model!r}; use another --kb or `domainrag kb delete {kb}` first"
                )
            check_embedding_version(info, embedding_version)
            return info
        info = KBInfo(kb, embedding_model, dim, language, pack, embedding_version)
        try:
            self._create_chunks(kb, info)
            self._create_files(kb)
            self.load(kb)
        except Exception as exc:
            self._drop_half_made(kb)
            raise StoreError(f"cannot create knowledge base {kb!r} at {self.uri} "
                             f"({type(exc).__name__}: {getattr(exc, 'message', None) or str(exc)[:200]}); nothing was "
                             "kept; check the Milvus server's version (2.5 or later, for BM25) and its logs") from exc
        return info

    def _drop_half_made(self, kb: str) -> None:
        """Remove what a failed ``ensure_kb`` created, so no KB without indexes or manifest is left behind."""
        self._grams.pop(kb, None)
        for name in (kb, kb + FILES_SUFFIX):
            self._loaded.discard(name)
            try:
                if self.client.has_collection(name):
                    self.client.drop_collection(name)
            except Exception:  # the original error is the one to report
                logging.getLogger(__name__).warning("could not drop the half-made collection %s", name)

    def dense_index(self) -> tuple[str, dict[str, Any]]:
        """The dense vector index: FLAT on a Lite file (exact, fastest at this size); AUTOINDEX on a server, which
        picks what it supports (HNSW on Milvus standalone or cluster, FLAT on the milvus-lite engine)."""
        return ("AUTOINDEX", {}) if is_server_uri(self.uri) else ("FLAT", {})

    def _create_chunks(self, kb: str, info: KBInfo) -> None:
        from pymilvus import DataType, Function, FunctionType

        chinese = info.language.startswith("zh")
        analyzer = JIEBA_ANALYZER if chinese else STANDARD_ANALYZER
        description = json.dumps({k: v for k, v in info.__dict__.items() if k != "name"}, ensure_ascii=False)
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False, description=description)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("text", DataType.VARCHAR, max_length=_MAX_TEXT)
        schema.add_field("search_text", DataType.VARCHAR, max_length=_MAX_TEXT, enable_analyzer=True, analyzer_params=analyzer)
        schema.add_field("source", DataType.VARCHAR, max_length=4096)
        schema.add_field("title", DataType.VARCHAR, max_length=1024)
        schema.add_field("section", DataType.VARCHAR, max_length=4096)
        schema.add_field("metadata", DataType.JSON)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=info.dim)
        schema.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25_fn", function_type=FunctionType.BM25,
                                     input_field_names=["search_text"], output_field_names=["bm25"]))
        if chinese:  # a second BM25 over character n-grams (domainrag/grams.py)
            schema.add_field(GRAMS_TEXT_FIELD, DataType.VARCHAR, max_length=_MAX_TEXT, enable_analyzer=True,
                             analyzer_params=GRAMS_ANALYZER)
            schema.add_field(GRAMS_FIELD, DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name="grams_fn", function_type=FunctionType.BM25,
                                         input_field_names=[GRAMS_TEXT_FIELD], output_field_names=[GRAMS_FIELD]))
        index = self.client.prepare_index_params()
        dense_type, dense_params = self.dense_index()
        index.add_index("dense", index_type=dense_type, metric_type="IP", params=dense_params)
        for sparse in ("bm25", GRAMS_FIELD) if chinese else ("bm25",):
            index.add_index(sparse, index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                            params={"bm25_k1": 1.2, "bm25_b": 0.75})
        index.add_index("source", index_type="INVERTED")
        index.add_index("title", index_type="INVERTED")
        self.client.create_collection(kb, schema=schema, index_params=index, consistency_level="Strong",
                                      properties={INFO_PROPERTY: description})
        self._grams[kb] = chinese

    def _create_files(self, kb: str) -> None:
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("source", DataType.VARCHAR, is_primary=True, max_length=4096)
        schema.add_field("file_hash", DataType.VARCHAR, max_length=64)
        schema.add_field("title", DataType.VARCHAR, max_length=1024)
        schema.add_field("chunks", DataType.INT64)
        schema.add_field("ingested_at", DataType.DOUBLE)
        schema.add_field("_v", DataType.FLOAT_VECTOR, dim=2)  # Milvus requires a vector field
        index = self.client.prepare_index_params()
        index.add_index("_v", index_type="FLAT", metric_type="L2")
        self.client.create_collection(kb + FILES_SUFFIX, schema=schema, index_params=index, consistency_level="Strong")

    def drop_kb(self, kb: str) -> bool:
        if not self.has_kb(kb):
            return False
        self.client.drop_collection(kb)
        self._grams.pop(kb, None)
        self._loaded.discard(kb)
        self._loaded.discard(kb + FILES_SUFFIX)
        if self.client.has_collection(kb + FILES_SUFFIX):
            self.client.drop_collection(kb + FILES_SUFFIX)
        return True

    # ---- manifest --------------------------------------------------------
    def manifest(self, kb: str) -> dict[str, dict[str, Any]]:
        """source → {file_hash, title, chunks, ingested_at} for every fully ingested file."""
        self.load(kb)
        rows = self._query_all(kb + FILES_SUFFIX, "", ["source", "file_hash", "title", "chunks", "ingested_at"])
        return {row["source"]: row for row in rows}

    def record_file(self, kb: str, source: str, file_hash: str, title: str, chunks: int) -> None:
        self.client.upsert(kb + FILES_SUFFIX, [{
            "source": source, "file_hash": file_hash, "title": title[:1000], "chunks": chunks,
            "ingested_at": time.time(), "_v": [0.0, 0.0],
        }])

    def forget_file(self, kb: str, source: str) -> None:
        self.client.delete(kb + FILES_SUFFIX, ids=[source])

    def kb_version(self, kb: str) -> str:
        """Changes whenever the set of ingested files or their contents change."""
        import hashlib

        entries = sorted((s, r["file_hash"]) for s, r in self.manifest(kb).items())
        return hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:16]

    # ---- chunks ------------------------------------------------------------
    def chunk_ids_for_source(self, kb: str, source: str) -> set[str]:
        self.load(kb)
        rows = self._query_all(kb, f"source == {json.dumps(source, ensure_ascii=False)}", ["id"])
        return {row["id"] for row in rows}

    def upsert_chunks(self, kb: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.has_grams(kb):
            rows = [{**row, GRAMS_TEXT_FIELD: char_grams(row["search_text"])} for row in rows]
        self.client.upsert(kb, rows)

    def delete_chunks(self, kb: str, ids: list[str]) -> None:
        for start in range(0, len(ids), 1000):
            self.client.delete(kb, ids=ids[start:start + 1000])

    def flush(self, kb: str) -> None:
        """Seal fresh data so searches hit the index instead of scanning unindexed rows."""
        for name in (kb, kb + FILES_SUFFIX):
            if self.client.has_collection(name):
                self.client.flush(name)

    def count(self, kb: str) -> int:
        self.load(kb)
        rows = self.client.query(kb, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def iter_chunks(self, kb: str, fields: list[str] | None = None, batch_size: int = 4096) -> Iterator[dict[str, Any]]:
        """Every chunk of a KB with ``fields`` (default ``CHUNK_FIELDS``), read in batches."""
        self.load(kb)
        return self._iter_query(kb, "", fields or CHUNK_FIELDS, batch_size)

    def chunks(self, kb: str) -> list[dict[str, Any]]:
        """Every chunk of a KB (its ``CHUNK_FIELDS``), for offline work such as training a reranker."""
        return list(self.iter_chunks(kb))

    def _query_all(self, collection: str, expr: str, fields: list[str]) -> list[dict[str, Any]]:
        return list(self._iter_query(collection, expr, fields))

    def _iter_query(self, collection: str, expr: str, fields: list[str], batch_size: int = 4096) -> Iterator[dict[str, Any]]:
        iterator = self.client.query_iterator(collection, batch_size=batch_size, filter=expr, output_fields=fields)
        try:
            while True:
                batch = iterator.next()
                if not batch:
                    break
                yield from batch
        finally:
            iterator.close()

    # ---- search -------------------------------------------------------------
    def search_dense(self, kb: str, vector: list[float], limit: int, expr: str = "") -> list[Hit]:
        self.load(kb)
        result = self.client.search(kb, data=[vector], anns_field="dense", limit=limit, filter=expr,
                                    output_fields=CHUNK_FIELDS, search_params={"metric_type": "IP"})
        return _flatten(result)

    def filter_hits(self, kb: str, expr: str, limit: int) -> list[Hit]:
        """The chunks matching the filter ``expr`` (at most ``limit``), as hits with score 0 in store order."""
        self.load(kb)
        rows = self.client.query(kb, filter=expr, output_fields=CHUNK_FIELDS, limit=limit)
        return [Hit.from_row(row, rank) for rank, row in enumerate(rows, start=1)]

    def search_bm25(self, kb: str, query: str, limit: int, expr: str = "") -> list[Hit]:
        """Built-in BM25 over the analysed ``search_text`` (jieba words for Chinese KBs)."""
        return self._search_sparse(kb, "bm25", query, limit, expr)

    def search_grams(self, kb: str, query: str, limit: int, expr: str = "") -> list[Hit]:
        """BM25 over character n-grams; [] for a KB without that field."""
        if not self.has_grams(kb):
            return []
        return self._search_sparse(kb, GRAMS_FIELD, query_grams(query), limit, expr)

    def _search_sparse(self, kb: str, field: str, text: str, limit: int, expr: str) -> list[Hit]:
        self.load(kb)
        if not text.strip():
            return []
        result = self.client.search(kb, data=[text], anns_field=field, limit=limit, filter=expr,
                                    output_fields=CHUNK_FIELDS, search_params={"metric_type": "BM25"})
        return _flatten(result)  # BM25 distances are scores: positive, higher is better


def _flatten(result: Any) -> list[Hit]:
    """The one query's results as ``Hit``s ranked 1, 2, ... with the engine's score (the distance field)."""
    hits = []
    for rank, found in enumerate(result[0] if result else [], start=1):
        entity = dict(found.get("entity", {}))
        entity["id"] = found.get("id", entity.get("id"))
        entity["score"] = float(found.get("distance", 0.0))
        hits.append(Hit.from_row(entity, rank))
    return hits
