"""`domainrag ui` argument handling: bad pack and busy port fail as one line; the pack reaches the app."""

from __future__ import annotations

import socket
import subprocess
import sys

from domainrag.cli.ui import streamlit_command
from domainrag.ui import APP_FILE


def _ui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "domainrag.cli.main", "ui", *args], capture_output=True,
                          text=True, timeout=120)


def test_unknown_pack_is_one_line_error() -> None:
    result = _ui("--pack", "no_such_pack")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") <= 1 and "unknown pack 'no_such_pack'" in result.stderr
    assert "Traceback" not in result.stderr


def test_busy_port_is_one_line_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _ui("--pack", "law", "--port", str(port))
    assert result.returncode == 2 and f"port {port} on 127.0.0.1 is already in use" in result.stderr


def test_streamlit_command_runs_the_installed_app_with_the_pack() -> None:
    command = streamlit_command("law", 8600, "127.0.0.1", open_browser=False)
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4] == str(APP_FILE) and APP_FILE.is_file()
    assert command[command.index("--server.port") + 1] == "8600"
    assert command[command.index("--server.headless") + 1] == "true"
    assert command[-3:] == ["--", "--pack", "law"]


def test_streamlit_refuses_uploads_over_the_app_limit(monkeypatch) -> None:
    monkeypatch.delenv("DOMAINRAG_UI_MAX_UPLOAD_MB", raising=False)
    assert _option(streamlit_command("law", 8600, "127.0.0.1", False), "--server.maxUploadSize") == "25"
    monkeypatch.setenv("DOMAINRAG_UI_MAX_UPLOAD_MB", "300")
    assert _option(streamlit_command("law", 8600, "127.0.0.1", False), "--server.maxUploadSize") == "300"


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]
