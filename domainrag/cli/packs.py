"""``domainrag packs list | show NAME``."""

from __future__ import annotations

import typer
from rich.table import Table

from domainrag.cli.common import JsonOpt, handle_errors, out, print_json

app = typer.Typer(help="Domain packs: built-in, pack folders and entry-point packs.", no_args_is_help=True)


def _summary(pack) -> dict:  # noqa: ANN001
    from domainrag.tune.card import read_card

    adapter = pack.adapter_dir
    card = read_card(adapter) if adapter else None
    corpus = [p for p in pack.corpus_dir.rglob("*") if p.is_file()] if pack.corpus_dir.exists() else []
    return {
        "name": pack.name, "path": str(pack.path), "description": pack.description, "language": pack.language,
        "disclaimer": pack.disclaimer, "embedding_model": pack.embedding_model, "base_model": pack.base_model,
        "adapter": str(adapter) if adapter else None,
        "adapter_method": card.get("method") if card else None,
        "adapter_validation_perplexity": ({"base": (card.get("validation_base") or {}).get("perplexity"),
                                           "adapter": (card.get("validation_adapter") or {}).get("perplexity")}
                                          if card else None),
        "corpus_files": len(corpus), "corpus_bytes": sum(p.stat().st_size for p in corpus),
        "builder": (pack.path / "builder.py").exists(),
        "retrieval": pack.retrieval.__dict__, "prompts": pack.prompts,
        "builder_settings": pack.section("builder"), "tune": pack.section("tune"),
    }


@app.command("list")
@handle_errors
def list_packs(as_json: bool = JsonOpt) -> None:
    """All packs this installation can load (built-in and entry points)."""
    from domainrag.packs import available_packs, load_pack

    packs = [_summary(load_pack(path)) for _, path in sorted(available_packs().items())]
    if as_json:
        print_json([{k: p[k] for k in ("name", "path", "description", "language", "adapter", "corpus_files")} for p in packs])
        return
    table = Table(title="domain packs")
    for column in ("name", "language", "corpus files", "adapter", "description"):
        table.add_column(column)
    for p in packs:
        table.add_row(p["name"], p["language"], str(p["corpus_files"]), p["adapter_method"] or ("yes" if p["adapter"] else "—"),
                      p["description"][:70])
    out.print(table)


@app.command("show")
@handle_errors
def show(name: str = typer.Argument(..., help="Pack name or folder path."), as_json: bool = JsonOpt) -> None:
    """Everything a pack configures: models, adapter (and its card), retrieval, prompts, builder, tuning."""
    from domainrag.packs import load_pack

    info = _summary(load_pack(name))
    if as_json:
        print_json(info)
        return
    table = Table(title=f"pack {info['name']}", show_header=False)
    for key in ("path", "description", "language", "disclaimer", "embedding_model", "base_model", "adapter",
                "adapter_method", "adapter_validation_perplexity", "corpus_files", "corpus_bytes", "retrieval",
                "builder_settings", "tune"):
        table.add_row(key, str(info[key]) if info[key] not in (None, "", {}) else "—")
    for key, value in info["prompts"].items():
        table.add_row(f"prompt: {key}", value)
    out.print(table)
