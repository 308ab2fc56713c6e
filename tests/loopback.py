"""An ASGI app served by uvicorn on a free 127.0.0.1 port in a background thread, for tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(app: Any, start_timeout: float = 30.0,
              make_config: Callable[[Any, str, int], Any] | None = None) -> Iterator[str]:
    """Yields ``http://127.0.0.1:PORT`` once the server accepts requests; stops it on exit.
    ``make_config(app, host, port)`` builds the ``uvicorn.Config`` (default: uvicorn's own settings)."""
    import uvicorn

    port = free_port()
    if make_config is None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    else:
        config = make_config(app, "127.0.0.1", port)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + start_timeout
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "test server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def milvus_server(db_file: str, start_timeout: float = 30.0) -> Iterator[str]:
    """milvus-lite's engine serving ``db_file`` over gRPC on a free 127.0.0.1 port, like a Milvus server; yields
    ``http://127.0.0.1:PORT`` once it answers and stops it on exit."""
    from milvus_lite.server import Server

    port = free_port()
    server = Server(db_file, f"127.0.0.1:{port}")
    assert server.start(), f"milvus-lite could not serve {db_file}"
    try:
        deadline = time.time() + start_timeout
        while not _answers(port):
            assert time.time() < deadline, "the Milvus test server did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
