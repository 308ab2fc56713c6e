"""Knowledge-base operations behind the UI buttons: ingest with progress, re-ingest, delete."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from domainrag.ingestion.scan import scan
from domainrag.ingestion.worker import FileParser, ParseRequest
from domainrag.rag import DomainRAG

from domainrag.ui.upload_store import is_upload

Progress = Callable[[float, str], None]
_COUNTS = ("files_seen", "ingested", "unchanged", "removed", "chunks_added", "chunks_removed")


def ingest_with_progress(rag: DomainRAG, paths: Sequence[str | Path], on_progress: Progress | None = None,
                         steps: int = 20) -> dict[str, Any]:
    """Ingest files (or folders) in up to ``steps`` batches, reporting progress; returns the merged summary."""
    files = [str(p) for p in scan(list(paths)).files] or [str(p) for p in paths]
    size = max(1, -(-len(files) // steps))
    batches = [files[i:i + size] for i in range(0, len(files), size)]
    total: dict[str, Any] = {key: 0 for key in _COUNTS}
    total |= {"skipped": [], "warnings": [], "chunks_total": 0, "seconds": 0.0}
    for number, batch in enumerate(batches, start=1):
        if on_progress:
            on_progress((number - 1) / len(batches), f"Ingesting {Path(batch[0]).name} ({number}/{len(batches)})…")
        summary = rag.ingest(batch, progress=False, prune=False).to_dict()
        for key in _COUNTS:
            total[key] += summary[key]
        total["skipped"] += summary["skipped"]
        total["warnings"] += summary["warnings"]
        total["chunks_total"] = summary["chunks_total"]
        total["seconds"] = round(total["seconds"] + summary["seconds"], 3)
    if on_progress:
        on_progress(1.0, "Done")
    return total


def reingest(rag: DomainRAG, sources: Sequence[str], on_progress: Progress | None = None) -> dict[str, Any]:
    """Re-read documents from disk and rebuild their chunks, even when the file is unchanged.

    A document whose file is gone or no longer loads is left as it is (reported as skipped), so nothing
    stored is lost.
    """
    ready, skipped = [], []
    with FileParser() as parser:  # the ingest's parser process and per-file limits, not the web app's process
        for source, parsed in zip(sources, parser.parse_all([ParseRequest(source) for source in sources])):
            if parsed.chunks is not None:
                ready.append(source)
                continue
            gone = not Path(source).exists()
            reason = "file no longer exists; restore it or delete the document" if gone else parsed.reason
            skipped.append({"source": source, "reason": reason})
    for source in ready:  # forgetting the manifest entry makes the pipeline re-split and re-embed the file
        rag.store.forget_file(rag.kb, source)
    summary = ingest_with_progress(rag, ready, on_progress) if ready else {"ingested": 0, "skipped": [], "warnings": []}
    summary["skipped"] = skipped + summary["skipped"]
    return summary


def delete_document(rag: DomainRAG, source: str) -> int:
    """Delete a document from the KB; an uploaded file is removed from the upload folder too."""
    removed = rag.delete_document(source)
    if is_upload(source, rag.kb):
        Path(source).unlink(missing_ok=True)
    return removed

