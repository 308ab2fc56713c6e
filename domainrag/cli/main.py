"""Entry point: ``domainrag <command>``. Each command lives in its own module."""

from __future__ import annotations

import typer

from domainrag.cli import ask as ask_cmd
from domainrag.cli import build_data as build_data_cmd
from domainrag.cli import cache as cache_cmd
from domainrag.cli import eval as eval_cmd
from domainrag.cli import ingest as ingest_cmd
from domainrag.cli import kb as kb_cmd
from domainrag.cli import milvus as milvus_cmd
from domainrag.cli import packs as packs_cmd
from domainrag.cli import serve as serve_cmd
from domainrag.cli import tune as tune_cmd
from domainrag.cli import ui as ui_cmd

app = typer.Typer(name="domainrag", help="Domain-specific RAG assistants on Milvus.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
app.command("ingest")(ingest_cmd.ingest)
app.command("search")(ingest_cmd.search)
app.command("ask")(ask_cmd.ask)
app.command("serve")(serve_cmd.serve)
app.add_typer(kb_cmd.app, name="kb")
app.add_typer(milvus_cmd.app, name="milvus")
app.add_typer(cache_cmd.app, name="cache")
app.command("ui")(ui_cmd.ui)
app.command("eval")(eval_cmd.eval_command)
app.command("build-data")(build_data_cmd.build_data)
app.command("tune")(tune_cmd.tune)
app.add_typer(packs_cmd.app, name="packs")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
