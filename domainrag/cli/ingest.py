"""``domainrag ingest`` and ``domainrag search``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from domainrag.cli.common import (EXIT_ERROR, EmbeddingOpt, JsonOpt, KbOpt, PackOpt, TokenOpt, UriOpt, err,
                                  handle_errors, open_rag, out, print_json)


@handle_errors
def ingest(
    paths: list[Path] = typer.Argument(..., help="Files or folders (recursive)."),
    pack: str = PackOpt, kb: str = KbOpt, uri: str = UriOpt, token: str = TokenOpt, as_json: bool = JsonOpt,
    embedding_model: str = EmbeddingOpt,
    no_prune: bool = typer.Option(False, "--no-prune", help="Keep chunks of files that are gone from the folders."),
    max_file_mb: int = typer.Option(200, "--max-file-mb", help="Skip files larger than this."),
    batch_size: int = typer.Option(256, "--batch-size", min=1, help="Chunks embedded and written per batch."),
    file_timeout: float = typer.Option(60.0, "--file-timeout", min=0,
                                       help="Skip a file whose parsing takes longer than this many seconds (0: no limit)."),
    file_memory_mb: int = typer.Option(2048, "--file-memory-mb", min=0,
                                       help="Skip a file whose parsing needs more memory than this (0: no limit)."),
    follow_links: bool = typer.Option(False, "--follow-links",
                                      help="Ingest symbolic links that point outside the folders given."),
    workers: int = typer.Option(1, "--workers", min=1, max=64,
                                help="Processes that parse and embed the files side by side (needs a Milvus server)."),
) -> None:
    """Ingest documents into the knowledge base (incremental: unchanged files are skipped).

    Exit code: 0 when every file is ingested or unchanged, 1 when some files were skipped
    (the others are stored; reasons are in the summary), 2 when nothing could be done.
    """
    rag = open_rag(pack, uri, kb, embedding_model, token)
    options = dict(prune=not no_prune, max_file_bytes=max_file_mb * 2**20, batch_size=batch_size,
                   follow_links=follow_links, file_timeout_s=file_timeout, file_memory_bytes=file_memory_mb * 2**20)
    if workers > 1:
        from domainrag.ingestion.parallel import ingest_in_parallel

        err.print(f"ingesting with {workers} worker processes …")
        summary = ingest_in_parallel(rag, [str(p) for p in paths], workers, [
            "--batch-size", str(batch_size), "--max-file-mb", str(max_file_mb), "--file-timeout", str(file_timeout),
            "--file-memory-mb", str(file_memory_mb)], **options)
    else:
        summary = rag.ingest([str(p) for p in paths], progress=not as_json or err.is_terminal, **options)
    for skipped in summary.skipped:
        err.print(f"[yellow]skipped[/] {escape(skipped['source'])}: {escape(skipped['reason'])}", markup=True)
    for warning in summary.warnings:
        err.print(f"[yellow]warning[/] {escape(warning['source'])}: {escape(warning['warning'])}", markup=True)
    if as_json:
        print_json(summary.to_dict())
    else:
        table = Table(title=f"ingest → {summary.kb}", show_header=False)
        for label, value in [("files seen", summary.files_seen), ("ingested", summary.ingested),
                             ("unchanged", summary.unchanged), ("removed", summary.removed),
                             ("skipped", len(summary.skipped)), ("chunks added", summary.chunks_added),
                             ("chunks removed", summary.chunks_removed), ("chunks in kb", summary.chunks_total),
                             ("seconds", f"{summary.seconds:.1f}")]:
            table.add_row(label, str(value))
        out.print(table)
    if summary.files_seen == 0 and summary.skipped and summary.ingested == 0:
        raise typer.Exit(EXIT_ERROR)
    raise typer.Exit(summary.exit_code)


@handle_errors
def search(
    query: str = typer.Argument(..., help="The search query."),
    pack: str = PackOpt, kb: str = KbOpt, uri: str = UriOpt, token: str = TokenOpt, as_json: bool = JsonOpt,
    k: int = typer.Option(5, "--k", "-k", min=1, max=1000, help="Number of hits."),
    mode: str = typer.Option(None, "--mode", help="hybrid (default), dense or bm25."),
    embedding_model: str = EmbeddingOpt,
) -> None:
    """Search the knowledge base (hybrid dense + BM25 with RRF by default)."""
    rag = open_rag(pack, uri, kb, embedding_model, token)
    hits = rag.search(query, k=k, mode=mode)
    if as_json:
        print_json([{**{key: value for key, value in h.to_dict().items() if key != "metadata"},
                     **({"cited_by": h.metadata["cited_by"]} if h.metadata.get("cited_by") else {})} for h in hits])
        return
    if not hits:
        err.print("no hits")
    for hit in hits:
        location = " · ".join(p for p in (hit.title, hit.section) if p)
        cited = f"  cited by {hit.metadata['cited_by']}" if hit.metadata.get("cited_by") else ""
        out.print(f"[bold]{hit.rank}.[/] [cyan]{escape(location)}[/]  [dim]score {hit.score:.4f}{escape(cited)}  "
                  f"{escape(hit.source)}[/]", markup=True)
        out.print(f"   {hit.text[:300]}")
