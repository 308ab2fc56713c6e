"""Ingest with several processes against a Milvus server: the files are split over ``workers`` processes (each a
``domainrag ingest`` of its share, without pruning), then one pass over the original paths in this process prunes
files gone from the folders and reports the knowledge base as a whole. Milvus Lite lets one process own its file, so
this needs a server (``domainrag milvus start`` or ``--uri http://…``).

Each file's chunks and manifest entry are written by the one worker that parsed it, so nothing is stored twice, and
the final pass finds every file unchanged (it only reads hashes) unless a worker skipped it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from domainrag.config import is_server_uri
from domainrag.errors import ConfigError
from domainrag.ingestion.pipeline import IngestSummary
from domainrag.ingestion.scan import scan


def split_by_size(files: list[Path], parts: int) -> list[list[Path]]:
    """``files`` in ``parts`` groups of about equal total size (largest first, each to the lightest group)."""
    groups: list[list[Path]] = [[] for _ in range(parts)]
    sizes = [0] * parts
    for path in sorted(files, key=lambda p: p.stat().st_size, reverse=True):
        lightest = sizes.index(min(sizes))
        groups[lightest].append(path)
        sizes[lightest] += path.stat().st_size
    return [sorted(group) for group in groups if group]


def _worker_command(rag: Any, files: list[Path], worker_args: list[str]) -> list[str]:
    return [sys.executable, "-m", "domainrag.cli.main", "ingest", *map(str, files), "--pack", str(rag.pack.path),
            "--kb", rag.kb, "--uri", rag.uri, "--no-prune", "--json", "--embedding-model", rag.embedding_model_name,
            *worker_args]


def merge_summaries(kb: str, parts: list[dict[str, Any]]) -> IngestSummary:
    """One summary from the workers' ``--json`` summaries (counts added, skipped files listed once)."""
    merged = IngestSummary(kb=kb)
    for part in parts:
        for item in fields(IngestSummary):
            if item.name in ("kb", "chunks_total", "seconds"):
                continue
            value = part.get(item.name)
            current = getattr(merged, item.name)
            setattr(merged, item.name, current + value if value is not None else current)
    return merged


def ingest_in_parallel(rag: Any, paths: list[str], workers: int, worker_args: list[str] | None = None,
                       **ingest_options: Any) -> IngestSummary:
    """Ingest ``paths`` with ``workers`` processes; returns one summary for the whole run.

    ``worker_args``: extra ``domainrag ingest`` options for the workers (limits, batch size); ``ingest_options``:
    the same for the final pass, as ``DomainRAG.ingest`` keywords (``prune``, ``follow_links``, …)."""
    if not is_server_uri(rag.uri):
        raise ConfigError(f"--workers needs a Milvus server, not the file {rag.uri}: run `domainrag milvus start` "
                          "(or pass --uri http://host:19530), or drop --workers")
    started = time.perf_counter()
    found = scan(paths, ingest_options.get("follow_links", False))
    rag.ensure_kb()  # made once, here, so that the workers never race to create it
    env = {**os.environ, **({"DOMAINRAG_MILVUS_TOKEN": rag.token} if rag.token else {})}
    runs = []
    with tempfile.TemporaryDirectory(prefix="domainrag-workers-") as folder:
        for index, group in enumerate(split_by_size(found.files, workers)):
            log = Path(folder) / f"worker-{index}.log"
            with log.open("w") as stderr:
                process = subprocess.Popen(_worker_command(rag, group, worker_args or []), env=env,
                                           stdout=subprocess.PIPE, stderr=stderr, text=True)
            runs.append((process, log))
        parts = []
        for process, log in runs:
            output, _ = process.communicate()
            try:
                parts.append(json.loads(output))
            except json.JSONDecodeError:
                last = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or ["no output"]
                raise ConfigError(f"an ingest worker failed (exit {process.returncode}): {last[0][:200]}") from None
    merged = merge_summaries(rag.kb, parts)
    final = rag.ingest(paths, **ingest_options)  # every file is unchanged by now: this prunes and counts
    merged.files_seen = final.files_seen
    merged.removed, merged.chunks_removed = final.removed, final.chunks_removed
    merged.skipped = final.skipped + [s for s in merged.skipped if s not in final.skipped and
                                      s["source"] not in {f["source"] for f in final.skipped}]
    merged.ingested += final.ingested  # files a worker could not finish and the final pass did
    merged.chunks_added += final.chunks_added
    merged.chunks_total = final.chunks_total
    merged.seconds = round(time.perf_counter() - started, 3)
    return merged
