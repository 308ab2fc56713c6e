"""GPTCache vector stores made safe for several processes: faiss on disk, or a Milvus collection.

GPTCache's ``Faiss`` keeps the index in memory and writes the whole file on flush, so two processes sharing
a cache folder would overwrite each other's entries. ``SharedFaiss`` writes every change at once, under a
file lock, after reloading what other processes wrote, and replaces the file atomically; a search reloads
the file when another process changed it. ``UriMilvus`` is GPTCache's Milvus store connected by URI and
token (a server ``http://host:19530``, or a Milvus Lite file), so app processes on one Milvus share it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from domainrag.cache.shim import prepare_gptcache
from domainrag.config import uri_slug
from domainrag.file_state import file_state

prepare_gptcache()

import faiss  # noqa: E402  (after the shim: GPTCache's import_faiss must not try to pip-install)
from gptcache.manager.vector_data.base import VectorData  # noqa: E402
from gptcache.manager.vector_data.faiss import Faiss  # noqa: E402

LOCK_TIMEOUT_S = 60
faiss.omp_set_num_threads(1)  # cache indexes are small: threads only add latency on a busy machine


def keep_close(results: Any, min_similarity: float) -> list[tuple[float, int]]:
    """Drop search results that cannot reach ``min_similarity``, before their rows are fetched.

    Vectors are unit length (GPTCache normalises them), so squared L2 distance d gives cosine 1 - d/2. The
    evaluation later recomputes the exact similarity; this only saves reading rows that cannot match.
    """
    floor = 2.0 * (1.0 - min_similarity) + 1e-3
    return [(d, i) for d, i in (results or []) if i >= 0 and d <= floor]


class SharedFaiss(Faiss):
    """GPTCache's faiss store (``IDMap,Flat``, L2 on normalised vectors), consistent across processes."""

    def __init__(self, index_file_path: str, dimension: int | Callable[[], int], top_k: int,
                 min_similarity: float = 0.0) -> None:
        """``dimension`` may be a callable: it is called only when there is no index file to read it from (so a
        cache that exists opens without loading the embedding model)."""
        exists = os.path.isfile(index_file_path)
        dim = dimension if isinstance(dimension, int) else (1 if exists else dimension())
        super().__init__(index_file_path, dim, top_k)
        self.min_similarity = min_similarity
        self._path = index_file_path
        self._stamp = file_state(index_file_path)
        self._file_lock = FileLock(index_file_path + ".lock", timeout=LOCK_TIMEOUT_S)
        self._mutex = threading.RLock()

    def _refresh(self) -> None:
        stamp = file_state(self._path)
        if stamp is not None and stamp != self._stamp:
            self._index = faiss.read_index(self._path)
            self._stamp = stamp

    def _write(self) -> None:
        tmp = f"{self._path}.{os.getpid()}.{threading.get_ident()}.tmp"
        faiss.write_index(self._index, tmp)
        os.replace(tmp, self._path)  # readers see the old file or the new one, never half of one
        self._stamp = file_state(self._path)

    def mul_add(self, datas: list[VectorData]) -> None:
        with self._mutex, self._file_lock:
            self._refresh()
            super().mul_add(datas)
            self._write()

    def delete(self, ids: list[int]) -> None:
        with self._mutex, self._file_lock:
            self._refresh()
            super().delete(ids)
            self._write()

    def search(self, data: np.ndarray, top_k: int = -1) -> Any:
        with self._mutex:
            self._refresh()
            return keep_close(super().search(data, top_k), self.min_similarity)

    def count(self) -> int:
        with self._mutex:
            self._refresh()
            return int(self._index.ntotal)

    def flush(self) -> None:
        """Every change is already on disk; writing the in-memory copy here could drop other processes' entries."""

    def close(self) -> None:
        self.flush()


def make_uri_milvus(uri: str, token: str | None, collection: str, dimension: int, top_k: int,
                    min_similarity: float = 0.0) -> Any:
    """GPTCache's ``Milvus`` store on the collection ``collection`` of the Milvus at ``uri``."""
    from gptcache.manager.vector_data.milvus import Milvus
    from pymilvus import connections

    class UriMilvus(Milvus):
        def _connect(self, host: str, port: str, user: str, password: str, secure: bool) -> None:
            self.alias = f"domainrag-cache-{uri_slug(uri)}"
            if not connections.has_connection(self.alias):
                if not uri.startswith(("http://", "https://", "tcp://", "grpc://")):
                    Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
                connections.connect(alias=self.alias, uri=uri, token=token or "")

        def search(self, data: np.ndarray, top_k: int = -1) -> Any:
            return keep_close(super().search(data, top_k), min_similarity)

        def close(self) -> None:
            """Milvus keeps what was inserted; GPTCache's flush at interpreter exit would hang on Milvus Lite,
            whose gRPC workers are already stopped by then."""

    # HNSW on a server; Milvus Lite refuses HNSW and GPTCache then falls back to AUTOINDEX by itself.
    index = {"metric_type": "L2", "index_type": "HNSW", "params": {"M": 16, "efConstruction": 64}}
    return UriMilvus(collection_name=collection, dimension=dimension, top_k=top_k, index_params=index)
