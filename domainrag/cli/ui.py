"""``domainrag ui``: start the Streamlit app (chat, knowledge base, evaluation)."""

from __future__ import annotations

import os
import socket
import sys

import typer
from rich.markup import escape

from domainrag.cli.common import TokenOpt, UriOpt, err, fail, handle_errors


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def streamlit_command(pack: str, port: int, host: str, open_browser: bool) -> list[str]:
    """The ``streamlit run`` command line for the installed app file, with the pack passed through.

    Streamlit's own upload limit is set to the app's, so the server refuses what the upload widget would.
    """
    from domainrag.ui import APP_FILE
    from domainrag.ui.upload_store import max_upload_mb

    return [sys.executable, "-m", "streamlit", "run", str(APP_FILE),
            "--server.port", str(port), "--server.address", host,
            "--server.headless", "false" if open_browser else "true",
            "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
            "--server.maxUploadSize", str(max_upload_mb()),
            "--client.toolbarMode", "minimal", "--", "--pack", pack]


@handle_errors
def ui(
    pack: str = typer.Option(None, "--pack", "-p", help="Pack to open first (name or folder); others stay selectable."),
    port: int = typer.Option(8501, "--port", min=1, max=65535, help="Port to serve on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 to share on your network)."),
    uri: str = UriOpt, token: str = TokenOpt,
    open_browser: bool = typer.Option(False, "--open", help="Open a browser tab once the server is up."),
    max_new_tokens: int = typer.Option(None, "--max-new-tokens", min=8, max=2048,
                                       help="Default answer length in the chat settings (default: the pack's)."),
) -> None:
    """Launch the web app: chat with cited answers, manage the knowledge base, run evaluations."""
    from domainrag.packs import available_packs, load_pack
    from domainrag.ui.ui_state import PACK_ENV

    pack = pack or ("law" if "law" in available_packs() else next(iter(available_packs()), ""))
    if not pack:
        fail("no domain packs installed; pass a pack folder with --pack ./my_pack")
    load_pack(pack)  # an unknown pack or a broken pack.toml fails here, as one line
    if not _port_free(host, port):
        fail(f"port {port} on {host} is already in use; pass another one with --port")
    env = dict(os.environ, **{PACK_ENV: pack})
    if uri:
        env["DOMAINRAG_MILVUS_URI"] = uri
    if token:
        env["DOMAINRAG_MILVUS_TOKEN"] = token  # the environment, not the command line, so `ps` does not show it
    if max_new_tokens:
        env["DOMAINRAG_UI_MAX_NEW_TOKENS"] = str(max_new_tokens)
    err.print(f"domainrag UI for pack [bold]{escape(pack)}[/] on http://{host}:{port}  (Ctrl-C to stop)", markup=True)
    command = streamlit_command(pack, port, host, open_browser)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, env)  # the server replaces this process, so signals reach it directly
