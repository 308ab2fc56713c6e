"""``domainrag milvus start | stop | status``: the local Milvus server on ``$DOMAINRAG_HOME/milvus.db``."""

from __future__ import annotations

import typer

from domainrag.cli.common import JsonOpt, err, fail, handle_errors, out, print_json

app = typer.Typer(help="Serve the local knowledge bases to several processes at once (ui, serve and ingest).",
                  no_args_is_help=True)


@app.command("start")
@handle_errors
def start(port: int = typer.Option(None, "--port", min=1, max=65535, envvar="DOMAINRAG_MILVUS_PORT",
                                   help="Port on 127.0.0.1 (default: a free one)."),
          as_json: bool = JsonOpt) -> None:
    """Start serving $DOMAINRAG_HOME/milvus.db on loopback; it keeps running after this command returns."""
    from domainrag import milvus_local

    server = milvus_local.start(port=port)
    if as_json:
        print_json({"running": True, "uri": server.uri, "pid": server.pid, "db_file": str(server.db_file)})
        return
    err.print(f"Milvus serves {server.db_file} at {server.uri} (pid {server.pid}); domainrag commands without --uri "
              "use it; `domainrag milvus stop` stops it")


@app.command("stop")
@handle_errors
def stop() -> None:
    """Stop the local server (its data stays in the .db file)."""
    from domainrag import milvus_local

    stopped = milvus_local.stop()
    if stopped is None:
        fail("the local Milvus server is not running; `domainrag milvus start` starts it", code=1)
    err.print(f"stopped the local Milvus server (pid {stopped.pid})")


@app.command("status")
@handle_errors
def status(as_json: bool = JsonOpt) -> None:
    """Whether the local server runs, and where. Exit code 0 when it runs, 1 when not."""
    from domainrag import milvus_local
    from domainrag.config import domainrag_home

    server = milvus_local.running()
    db_file = domainrag_home() / milvus_local.DB_FILE
    if as_json:
        print_json({"running": bool(server), "uri": server.uri if server else str(db_file),
                    "pid": server.pid if server else None, "db_file": str(db_file)})
    elif server:
        out.print(f"running at {server.uri} (pid {server.pid}), serving {server.db_file}")
    else:
        out.print(f"not running; commands open {db_file} directly (one process at a time)")
    raise typer.Exit(0 if server else 1)
