"""``domainrag cache stats | clear``: inspect and empty the semantic answer cache."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from domainrag.cli.common import JsonOpt, KbOpt, TokenOpt, UriOpt, err, fail, handle_errors, open_rag, out, print_json

app = typer.Typer(help="Inspect and clear the semantic answer cache (GPTCache).", no_args_is_help=True)
CachePackOpt = typer.Option(None, "--pack", "-p", help="Only this pack (name or folder); also marks the current KB version.")


def _selected(pack: str | None, kb: str | None, uri: str | None, token: str | None) -> tuple[list[Any], Any]:
    """Namespaces of the pack/kb (all when no pack), and the pack's DomainRAG when a pack was named."""
    from domainrag.cache.namespaces import list_namespaces

    if pack is None:
        if kb:
            fail("--kb needs --pack (e.g. domainrag cache stats --pack law --kb law)")
        return list_namespaces(), None
    rag = open_rag(pack, uri, kb, token=token)
    infos = [i for i in list_namespaces(pack=rag.pack.name, kb=rag.kb) if i.store_uri == rag.uri]
    current = rag.kb_version() if rag.store.has_kb(rag.kb) else None
    for info in infos:
        info.current = info.kb_version == current
    return infos, rag


@app.command("stats")
@handle_errors
def stats(pack: str = CachePackOpt, kb: str = KbOpt, uri: str = UriOpt, token: str = TokenOpt,
          as_json: bool = JsonOpt) -> None:
    """Entries, hits and size of each cache namespace (pack × knowledge base × KB version)."""
    from domainrag.cache.namespaces import cache_root

    infos, _ = _selected(pack, kb, uri, token)
    if as_json:
        print_json({"root": str(cache_root()), "namespaces": [i.to_dict() for i in infos],
                    "entries": sum(i.entries for i in infos), "hits": sum(i.hits for i in infos)})
        return
    if not infos:
        err.print(f"the answer cache is empty ({cache_root()})")
        return
    table = Table("pack", "kb", "version", "state", "entries", "hits", "sim", "KiB", "answers by")
    for i in infos:
        state = "?" if i.current is None else ("current" if i.current else "stale")
        mean = "-" if i.mean_hit_similarity is None else f"{i.mean_hit_similarity:.3f}"
        table.add_row(i.pack, i.kb, i.kb_version[:8], state, str(i.entries), str(i.hits), mean,
                      f"{i.bytes / 1024:.0f}", i.variant.split("|")[0] or "-")
    out.print(table)


@app.command("clear")
@handle_errors
def clear(pack: str = CachePackOpt, kb: str = KbOpt, uri: str = UriOpt, token: str = TokenOpt,
          stale: bool = typer.Option(False, "--stale", help="Only namespaces of older KB versions (needs --pack)."),
          yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    """Delete cached answers (all, one pack's, or only stale versions)."""
    from domainrag.cache.namespaces import clear_namespaces

    if stale and pack is None:
        fail("--stale needs --pack, to know the current knowledge-base version")
    infos, rag = _selected(pack, kb, uri, token)
    if stale:
        infos = [i for i in infos if i.current is False]
    if not infos:
        err.print("nothing to clear")
        return
    entries = sum(i.entries for i in infos)
    if not yes and not typer.confirm(f"delete {len(infos)} cache namespace(s) with {entries} entries?", err=True):
        raise typer.Exit(1)
    removed = clear_namespaces(infos, token=token or getattr(rag, "token", None))
    err.print(f"cleared {removed} namespace(s), {entries} entries")
