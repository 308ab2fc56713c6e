"""The ingest pipeline: scan → load → split → embed → upsert, incremental and crash-safe.

Crash safety: a new or changed file is first entered in the manifest as pending (file hash "", 0 chunks), so
a crash never leaves chunks that a re-run would not look at (the file gone: pruned; changed back to the
content ingested before: re-split, the other version's chunks deleted); its real entry is written only after
all its chunks are stored and its stale chunks deleted. Chunk ids are content
hashes, so a re-run after a crash re-embeds only what is missing and ends with exactly the chunks of a clean
run. ``faults.hit`` marks the steps where crash tests kill the process (a no-op unless DOMAINRAG_FAULT is set).
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from domainrag.chunk_store import ChunkStore
from domainrag.ingestion import faults
from domainrag.ingestion.documents import Chunk
from domainrag.ingestion.loaders import MAX_FILE_BYTES
from domainrag.ingestion.scan import file_hash, scan, under_roots
from domainrag.ingestion.worker import DEFAULT_MEMORY_BYTES, DEFAULT_TIMEOUT_S, FileParser, Parsed, ParseRequest

PENDING_HASH = ""  # the manifest's file hash of a file whose chunks are being written
WRITE_PART = 512  # the most chunks embedded and written at a time, also of one file
DELETE_BATCH = 100  # chunk ids per delete request


class EmbedderLike(Protocol):
    def encode(self, texts: list[str], batch_size: int = 64) -> Any: ...


@dataclass
class IngestSummary:
    """What one ingest run did."""

    kb: str
    files_seen: int = 0
    ingested: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_total: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def exit_code(self) -> int:
        """0: every file ingested or unchanged; 1: some files skipped (the rest are stored)."""
        return 1 if self.skipped else 0


@dataclass
class _PendingFile:
    source: str
    file_hash: str
    title: str
    keep_ids: set[str]
    stale_ids: list[str]


@dataclass
class _WriteBatch:
    """Rows to write; the files entered as pending before them (``started``) and recorded after them (``completed``):
    a file's chunks may span several batches."""

    rows: list[dict[str, Any]]
    started: list[_PendingFile]
    completed: list[_PendingFile]


@dataclass
class IngestOptions:
    chunk_size: int = 600
    chunk_overlap: int = 80
    splitter: str = "auto"
    batch_size: int = 256
    prune: bool = True
    max_file_bytes: int = MAX_FILE_BYTES
    progress: bool = True
    flush_interval_s: float = 30.0  # seal written data this often, so a crash loses at most this much work
    file_timeout_s: float = DEFAULT_TIMEOUT_S  # per-file parse time limit (0: none)
    file_memory_bytes: int = DEFAULT_MEMORY_BYTES  # per-file parse memory limit (0: none)
    follow_links: bool = False  # follow symbolic links that leave the folders being ingested


class IngestPipeline:
    """Runs one ingest into one knowledge base of a Store."""

    def __init__(self, store: ChunkStore, kb: str, embedder: EmbedderLike, options: IngestOptions | None = None) -> None:
        self.store = store
        self.kb = kb
        self.embedder = embedder
        self.options = options or IngestOptions()

    def run(self, paths: list[str | Path]) -> IngestSummary:
        started = time.perf_counter()
        summary = IngestSummary(kb=self.kb)
        found = scan(paths, self.options.follow_links)
        for raw in found.missing:
            summary.skipped.append({"source": raw, "reason": "path not found"})
        for path in found.unsupported:
            summary.skipped.append({"source": str(path), "reason": f"unsupported file type {path.suffix or '(none)'}"})
        for path, reason in found.refused:
            summary.skipped.append({"source": str(path), "reason": reason})
        summary.files_seen = len(found.files) + len(found.unsupported) + len(found.refused)

        manifest = self.store.manifest(self.kb)
        todo: list[tuple[Path, str]] = []
        for path in found.files:
            try:
                digest = file_hash(path)
            except OSError as exc:
                summary.skipped.append({"source": str(path), "reason": f"cannot read ({exc.strerror or exc})"})
                continue
            entry = manifest.get(str(path))
            if entry and entry["file_hash"] == digest:
                summary.unchanged += 1
            else:
                todo.append((path, digest))

        if todo:
            self._process(todo, summary)
        if self.options.prune and found.roots:
            self._prune(manifest, found, summary)
        faults.hit("flush")
        self.store.flush(self.kb)
        summary.chunks_total = self.store.count(self.kb)
        summary.seconds = round(time.perf_counter() - started, 3)
        return summary

    # ------------------------------------------------------------------
    def _prune(self, manifest: dict[str, Any], found: Any, summary: IngestSummary) -> None:
        present = {str(p) for p in found.files}
        for source in manifest:
            if source not in present and under_roots(source, found.roots):
                ids = sorted(self.store.chunk_ids_for_source(self.kb, source))
                delete_chunks(self.store, self.kb, ids)
                self.store.forget_file(self.kb, source)  # last: a crash before it leaves the entry to prune again
                summary.removed += 1
                summary.chunks_removed += len(ids)

    def _existing_ids(self) -> dict[str, set[str]]:
        """source → stored chunk ids, read once (covers files left half-done by a crash)."""
        by_source: dict[str, set[str]] = defaultdict(set)
        for row in self.store.iter_chunks(self.kb, ["id", "source"]):
            by_source[row["source"]].add(row["id"])
        return by_source

    def _process(self, todo: list[tuple[Path, str]], summary: IngestSummary) -> None:
        from tqdm import tqdm

        existing = self._existing_ids()
        writer = _Writer(self.store, self.kb, summary, self.options.flush_interval_s)
        writer.start()
        pending_chunks: list[Chunk] = []
        pending_files: list[_PendingFile] = []
        bar = tqdm(total=len(todo), desc=f"ingest {self.kb}", unit="file", file=sys.stderr,
                   disable=not self.options.progress, dynamic_ncols=True)
        options = self.options
        requests = [ParseRequest(str(path), options.max_file_bytes, options.chunk_size, options.chunk_overlap,
                                 options.splitter) for path, _ in todo]
        parser = FileParser(options.file_timeout_s, options.file_memory_bytes)

        def show() -> None:
            bar.set_postfix(chunks=summary.chunks_added + writer.queued_rows)

        try:
            for (path, digest), parsed in zip(todo, parser.parse_all(requests)):
                chunks = self._accept(path, parsed, summary)
                bar.update(1)
                if chunks is None:
                    continue
                stored = existing.get(str(path), set())
                new_ids = {c.id for c in chunks}
                pending_chunks.extend(c for c in chunks if c.id not in stored)
                pending_files.append(_PendingFile(str(path), digest, chunks[0].title if chunks else path.stem,
                                                  new_ids, sorted(stored - new_ids)))
                if len(pending_chunks) >= options.batch_size:
                    self._embed_and_send(pending_chunks, pending_files, writer, show)
                    pending_chunks, pending_files = [], []
            self._embed_and_send(pending_chunks, pending_files, writer, show)
        finally:
            parser.close()
            bar.close()
            writer.finish()

    @staticmethod
    def _accept(path: Path, parsed: Parsed, summary: IngestSummary) -> list[Chunk] | None:
        """The file's chunks, or None after recording why it is skipped."""
        for warning in parsed.warnings:
            summary.warnings.append({"source": str(path), "warning": warning})
        if parsed.chunks is None:
            summary.skipped.append({"source": str(path), "reason": parsed.reason})
        return parsed.chunks

    def _embed_and_send(self, chunks: list[Chunk], files: list[_PendingFile], writer: "_Writer",
                        sent: Callable[[], None]) -> None:
        """Embed ``chunks`` and queue them for writing, ``WRITE_PART`` (or ``batch_size``, when larger) at a time: one
        large file (a JSONL of thousands of records) shows progress and is stored as it goes. ``files`` are entered as
        pending before the first part and recorded after the last, once all their chunks are written. ``sent`` is
        called after each part."""
        if not chunks and not files:
            return
        size = max(self.options.batch_size, WRITE_PART)
        for start in range(0, max(len(chunks), 1), size):
            part = chunks[start:start + size]
            vectors = self.embedder.encode([c.search_text for c in part], batch_size=64) if part else []
            rows = [
                {"id": c.id, "text": c.text, "search_text": c.search_text, "source": c.source, "title": c.title[:1000],
                 "section": c.section[:4000], "metadata": c.metadata, "dense": vectors[i].tolist()}
                for i, c in enumerate(part)
            ]
            first, last = start == 0, start + size >= len(chunks)
            writer.put(_WriteBatch(rows, files if first else [], files if last else []))
            sent()


class _Writer:
    """Writes batches to Milvus on a background thread while the next batch is embedded."""

    def __init__(self, store: Any, kb: str, summary: IngestSummary, flush_interval_s: float) -> None:
        self.store = store
        self.flush_interval_s = flush_interval_s
        self.last_flush = time.monotonic()
        self.kb = kb
        self.summary = summary
        self.queue: queue.Queue[_WriteBatch | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.queued_rows = 0
        self.thread = threading.Thread(target=self._loop, name="domainrag-writer", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def put(self, batch: _WriteBatch) -> None:
        if self.error:
            raise self.error
        self.queued_rows += len(batch.rows)
        self.queue.put(batch)

    def finish(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error:
            raise self.error

    def _loop(self) -> None:
        while True:
            batch = self.queue.get()
            if batch is None:
                return
            if self.error:
                continue
            try:
                self._write(batch)
            except BaseException as exc:  # surfaced to the caller by put()/finish()
                self.error = exc

    def _write(self, batch: _WriteBatch) -> None:
        """Pending manifest entries, the chunks, stale deletes, then the files' real manifest entries."""
        for done in batch.started:
            self.store.record_file(self.kb, done.source, PENDING_HASH, done.title, 0)
        self.store.upsert_chunks(self.kb, batch.rows)
        faults.hit("after_upsert")
        self.summary.chunks_added += len(batch.rows)
        self.queued_rows -= len(batch.rows)
        for done in batch.completed:
            delete_chunks(self.store, self.kb, done.stale_ids)
            self.summary.chunks_removed += len(done.stale_ids)
            self.store.record_file(self.kb, done.source, done.file_hash, done.title, len(done.keep_ids))
            faults.hit("after_record")
            self.summary.ingested += 1
        if time.monotonic() - self.last_flush > self.flush_interval_s:
            faults.hit("flush")
            self.store.flush(self.kb)
            self.last_flush = time.monotonic()


def delete_chunks(store: Any, kb: str, ids: list[str]) -> None:
    """Delete chunks in batches of ``DELETE_BATCH`` ids (a crash between two leaves the rest to a re-run)."""
    for start in range(0, len(ids), DELETE_BATCH):
        if start:
            faults.hit("mid_delete")
        store.delete_chunks(kb, ids[start:start + DELETE_BATCH])
