"""The local Milvus server: milvus-lite's engine serving ``$DOMAINRAG_HOME/milvus.db`` on loopback.

A Lite file has one owner process. Served this way, ``domainrag ui``, ``serve`` and ``ingest`` share one
knowledge base at the same time: ``default_uri()`` points at the server while it is up. ``start`` launches a
detached supervisor (``python -m domainrag.milvus_local DB PORT``) that holds the file's lock, runs the engine and
stops it on SIGTERM; its pid and port are kept in ``milvus.pid`` and ``milvus.port`` under ``DOMAINRAG_HOME``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from domainrag.config import domainrag_home
from domainrag.errors import ConfigError, StoreError

HOST = "127.0.0.1"
DB_FILE, PID_FILE, PORT_FILE, LOG_FILE = "milvus.db", "milvus.pid", "milvus.port", "milvus.log"
_SUPERVISOR = "domainrag.milvus_local"


@dataclass
class LocalServer:
    """A running local server."""

    pid: int
    port: int
    db_file: Path

    @property
    def uri(self) -> str:
        return f"http://{HOST}:{self.port}"


def running(home: Path | None = None) -> LocalServer | None:
    """The server of ``home`` (default ``DOMAINRAG_HOME``) when its process is alive and its port answers."""
    home = home or domainrag_home()
    pid, port = _read_int(home / PID_FILE), _read_int(home / PORT_FILE)
    if pid is None or port is None or not _is_supervisor(pid) or not port_answers(port):
        return None
    return LocalServer(pid, port, home / DB_FILE)


def start(home: Path | None = None, port: int | None = None, timeout_s: float = 60.0) -> LocalServer:
    """Start the server detached (it outlives this process); ``port`` None picks a free one."""
    home = home or domainrag_home()
    current = running(home)
    if current:
        raise ConfigError(f"the local Milvus server is already running at {current.uri} (pid {current.pid}); "
                          "`domainrag milvus stop` stops it")
    port = port or _free_port()
    if port_answers(port):
        raise ConfigError(f"port {port} on {HOST} is already in use; choose another --port")
    log_path = home / LOG_FILE
    with open(log_path, "ab") as log:
        log_start = log.tell()
        process = subprocess.Popen([sys.executable, "-m", _SUPERVISOR, str(home / DB_FILE), str(port)],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=home, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while not port_answers(port):
        if process.poll() is not None:
            reason = _log_tail(log_path, log_start) or f"exit code {process.returncode}"
            raise StoreError(f"the local Milvus server did not start: {reason}")
        if time.monotonic() > deadline:
            process.terminate()
            raise StoreError(f"the local Milvus server did not answer on port {port} within {timeout_s:.0f} s; "
                             f"see {log_path}")
        time.sleep(0.1)
    (home / PID_FILE).write_text(str(process.pid))
    (home / PORT_FILE).write_text(str(port))
    return LocalServer(process.pid, port, home / DB_FILE)


def stop(home: Path | None = None, timeout_s: float = 30.0) -> LocalServer | None:
    """Stop the server of ``home``; None when none was running. Its data stays in the .db file."""
    home = home or domainrag_home()
    pid, port = _read_int(home / PID_FILE), _read_int(home / PORT_FILE)
    stopped = None
    if pid is not None and _is_supervisor(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _is_supervisor(pid):
            if time.monotonic() > deadline:
                raise StoreError(f"the local Milvus server (pid {pid}) did not stop within {timeout_s:.0f} s; "
                                 f"end it with `kill {pid}`")
            time.sleep(0.1)
        stopped = LocalServer(pid, port or 0, home / DB_FILE)
    for name in (PID_FILE, PORT_FILE):
        (home / name).unlink(missing_ok=True)
    return stopped


def served_uri(uri: str) -> str:
    """``uri``, or the local server's URI when ``uri`` is the .db file that server holds (the file itself
    cannot be opened while it is served)."""
    from domainrag.config import is_server_uri

    if is_server_uri(uri):
        return uri
    home = domainrag_home()
    if Path(uri).expanduser().resolve() != (home / DB_FILE).resolve():
        return uri
    server = running(home)
    return server.uri if server else uri


def port_answers(port: int, host: str = HOST) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _is_supervisor(pid: int) -> bool:
    """Whether ``pid`` is alive and (where /proc tells) our supervisor, so a reused pid is never signalled."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.parent.exists():
        try:
            return _SUPERVISOR.encode() in cmdline.read_bytes()
        except OSError:
            return False
    return True


def _log_tail(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as log:
            log.seek(offset)
            lines = [line.strip() for line in log.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def supervise(db_file: str, port: int) -> int:
    """Run the engine on ``db_file`` until SIGTERM or SIGINT; holds the file's lock so no process opens it as
    a Lite file meanwhile."""
    from milvus_lite.server import Server

    server = Server(db_file, f"{HOST}:{port}")
    if not server.start():
        if server._p is None:  # milvus-lite's Server keeps its engine process here and has no public accessor
            print(f"{db_file} is open in another process (domainrag ui, serve or ingest on the Lite file?): stop it, "
                  "then `domainrag milvus start`, then start it again", file=sys.stderr, flush=True)
        else:
            print(f"milvus-lite could not serve {db_file} on port {port}", file=sys.stderr, flush=True)
        server.stop()
        return 1
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    engine = server._p
    while not done.is_set() and engine.poll() is None:
        done.wait(0.5)
    if engine.poll() is None:
        engine.terminate()  # the engine writes every change through; SIGTERM loses nothing
        try:
            engine.wait(20)
        except subprocess.TimeoutExpired:
            engine.kill()
    code = engine.returncode
    server.stop()
    return 0 if done.is_set() else (code or 1)


if __name__ == "__main__":
    sys.exit(supervise(sys.argv[1], int(sys.argv[2])))
