"""Where cache entries live: one folder per pack × knowledge base (× store) × KB version × answer profile.

    $DOMAINRAG_HOME/cache/<pack>/<kb>@<store>/<kb_version>/<profile>/{sqlite.db, faiss.index, namespace.json}

The profile is a hash of what else shapes an answer (embedding model; generator model, adapter, k,
max_new_tokens), so an answer is only served to a request that would have produced it. A new KB version is a
new folder, so answers built from replaced documents can never be found; the folders of older versions are
removed when the new one is created. Listing and clearing read the folders directly.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from domainrag.config import domainrag_home, uri_slug

META_FILE = "namespace.json"
_open: dict[Path, Any] = {}  # folder → SemanticCache, one per namespace per process
_open_lock = threading.Lock()


def cache_root() -> Path:
    """``$DOMAINRAG_HOME/cache``."""
    return domainrag_home() / "cache"


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name)[:80] or "_"


@dataclass(frozen=True)
class Namespace:
    """The key of a set of cache entries."""

    pack: str
    kb: str
    kb_version: str
    store_uri: str
    embedding: str = "default"
    variant: str = ""

    @property
    def group(self) -> Path:
        """The folder of every version of this pack's KB in this store (relative to the cache root)."""
        return Path(_safe(self.pack)) / f"{_safe(self.kb)}@{uri_slug(self.store_uri)}"

    def folder(self, root: Path | None = None) -> Path:
        profile = hashlib.sha1(f"{self.embedding}|{self.variant}".encode()).hexdigest()[:12]
        return (root or cache_root()) / self.group / _safe(self.kb_version) / profile

    def collection(self) -> str:
        """Milvus collection name for this namespace's vectors."""
        key = "|".join((self.pack, self.kb, self.kb_version, self.store_uri, self.embedding, self.variant))
        return "domainrag_cache_" + hashlib.sha1(key.encode()).hexdigest()[:16]


@dataclass
class NamespaceInfo:
    """A namespace folder as ``domainrag cache stats`` shows it."""

    pack: str
    kb: str
    kb_version: str
    store_uri: str
    embedding: str
    variant: str
    vector: str
    folder: str
    entries: int
    hits: int
    mean_hit_similarity: float | None
    last_hit: str | None
    bytes: int
    current: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_meta(namespace: Namespace, folder: Path, vector: str, collection: str | None) -> None:
    meta = {**asdict(namespace), "vector": vector, "collection": collection, "created": time.time()}
    if not (folder / META_FILE).exists():
        (folder / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")


def open_semantic_cache(namespace: Namespace, embedder: Any, settings: Any, milvus: Any = None) -> Any:
    """The process-wide ``SemanticCache`` of ``namespace``; creating it removes older versions' folders."""
    from domainrag.cache.semantic import SemanticCache

    folder = namespace.folder()
    with _open_lock:
        cache = _open.get(folder)
        if cache is not None and (folder / "sqlite.db").exists():
            return cache
        if cache is not None:  # cleared by another process (domainrag cache clear): start afresh
            _open.pop(folder).close()
        fresh = not folder.exists()
        folder.mkdir(parents=True, exist_ok=True)
        cache = SemanticCache(folder, embedder, settings, milvus)
        write_meta(namespace, folder, "milvus" if milvus else "faiss", milvus.collection if milvus else None)
        _open[folder] = cache
    if fresh:  # a new KB version: the older versions' answers can never be served again
        _remove([f for f in _folders(cache_root() / namespace.group) if f.parent != folder.parent])
    return cache


def _folders(base: Path) -> list[Path]:
    if not base.exists():
        return []
    return sorted(p.parent for p in base.rglob(META_FILE))


def _read_meta(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _sqlite_stats(folder: Path) -> tuple[int, int, float | None, str | None]:
    path = folder / "sqlite.db"
    if not path.exists():
        return 0, 0, None, None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
            entries = db.execute("SELECT count(*) FROM gptcache_question WHERE deleted = 0").fetchone()[0]
            hits, mean, last = db.execute("SELECT count(*), avg(similarity), max(cache_time) FROM gptcache_report").fetchone()
    except sqlite3.Error:
        return 0, 0, None, None
    return int(entries), int(hits), (round(float(mean), 4) if mean is not None else None), last


def list_namespaces(pack: str | None = None, kb: str | None = None, root: Path | None = None) -> list[NamespaceInfo]:
    """Every namespace folder under the cache root (optionally of one pack / knowledge base)."""
    infos = []
    for folder in _folders(root or cache_root()):
        meta = _read_meta(folder)
        if (pack and meta.get("pack") != pack) or (kb and meta.get("kb") != kb):
            continue
        entries, hits, mean, last = _sqlite_stats(folder)
        size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        infos.append(NamespaceInfo(
            pack=meta.get("pack", "?"), kb=meta.get("kb", "?"), kb_version=meta.get("kb_version", "?"),
            store_uri=meta.get("store_uri", "?"), embedding=meta.get("embedding", "?"), variant=meta.get("variant", ""),
            vector=meta.get("vector", "?"), folder=str(folder), entries=entries, hits=hits,
            mean_hit_similarity=mean, last_hit=last, bytes=size))
    return infos


def clear_namespaces(infos: list[NamespaceInfo], token: str | None = None) -> int:
    """Delete these namespaces (folders, and Milvus collections where used); returns how many."""
    return _remove([Path(info.folder) for info in infos], token=token)


def _remove(folders: list[Path], token: str | None = None) -> int:
    removed = 0
    for folder in folders:
        meta = _read_meta(folder)
        with _open_lock:
            cache = _open.pop(folder, None)
        if cache is not None:
            cache.close()
        if meta.get("vector") == "milvus" and meta.get("collection"):
            _drop_collection(meta["store_uri"], token, meta["collection"])
        shutil.rmtree(folder, ignore_errors=True)
        if folder.parent.exists() and not any(folder.parent.iterdir()):
            shutil.rmtree(folder.parent, ignore_errors=True)  # the version folder, once its last profile is gone
        removed += 1
    return removed


def _drop_collection(uri: str, token: str | None, collection: str) -> None:
    from domainrag.store import connect

    try:
        client = connect(uri, token)
        if client.has_collection(collection):
            client.drop_collection(collection)
    except Exception as exc:  # a server that is down must not stop a local clear
        import logging

        logging.getLogger("domainrag").warning("warning: could not drop cache collection %s at %s (%s)",
                                               collection, uri, exc)
