"""``domainrag kb list | stats | delete``."""

from __future__ import annotations

import typer
from rich.table import Table

from domainrag.cli.common import JsonOpt, TokenOpt, UriOpt, err, fail, handle_errors, out, print_json

app = typer.Typer(help="Manage knowledge bases.", no_args_is_help=True)


def _store(uri: str | None, token: str | None):
    from domainrag.config import env_override, resolve_uri
    from domainrag.store import Store

    return Store(resolve_uri(uri), token or env_override("MILVUS_TOKEN", None))


@app.command("list")
@handle_errors
def list_kbs(uri: str = UriOpt, token: str = TokenOpt, as_json: bool = JsonOpt) -> None:
    """List knowledge bases with their chunk and file counts."""
    store = _store(uri, token)
    rows = []
    for name in store.list_kbs():
        info = store.kb_info(name)
        rows.append({"kb": name, "pack": info.pack, "chunks": store.count(name),
                     "files": len(store.manifest(name)), "embedding_model": info.embedding_model})
    if as_json:
        print_json(rows)
        return
    if not rows:
        err.print(f"no knowledge bases at {store.uri}")
        return
    table = Table("kb", "pack", "files", "chunks", "embedding model")
    for r in rows:
        table.add_row(r["kb"], r["pack"], str(r["files"]), str(r["chunks"]), r["embedding_model"])
    out.print(table)


@app.command("stats")
@handle_errors
def stats(kb: str = typer.Argument(..., help="Knowledge base name."), uri: str = UriOpt, token: str = TokenOpt,
          as_json: bool = JsonOpt) -> None:
    """Files, chunks, version and model of one knowledge base."""
    store = _store(uri, token)
    if not store.has_kb(kb):
        fail(f"no knowledge base {kb!r} at {store.uri}; see `domainrag kb list`")
    info = store.kb_info(kb)
    manifest = store.manifest(kb)
    data = {"kb": kb, "pack": info.pack, "uri": store.uri, "files": len(manifest), "chunks": store.count(kb),
            "version": store.kb_version(kb), "embedding_model": info.embedding_model, "dim": info.dim,
            "language": info.language,
            "documents": sorted(({"source": s, "title": r["title"], "chunks": r["chunks"]} for s, r in manifest.items()),
                                key=lambda d: d["source"])}
    if as_json:
        print_json(data)
        return
    for key in ("kb", "pack", "uri", "files", "chunks", "version", "embedding_model", "dim", "language"):
        out.print(f"{key:16} {data[key]}")


@app.command("delete")
@handle_errors
def delete(kb: str = typer.Argument(..., help="Knowledge base name."), uri: str = UriOpt, token: str = TokenOpt,
           yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    """Delete a knowledge base and everything stored in it."""
    store = _store(uri, token)
    if not store.has_kb(kb):
        fail(f"no knowledge base {kb!r} at {store.uri}; see `domainrag kb list`")
    if not yes and not typer.confirm(f"delete knowledge base {kb!r} ({store.count(kb)} chunks)?", err=True):
        raise typer.Exit(1)
    store.drop_kb(kb)
    err.print(f"deleted {kb}")
