"""``domainrag serve`` on the wire, with a real uvicorn on loopback: a client that leaves stops its generation,
a bounded queue answers 429 with Retry-After instead of making everyone wait, a body-size limit, connections
that never finish their request head get closed and an oversized head is refused."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from domainrag import DomainRAG
from domainrag.server_limits import ServeSettings, uvicorn_config
from loopback import serve_app
from test_server import USER, SlowGenerator, fake_app


@contextmanager
def serving(law_rag: DomainRAG, generator: SlowGenerator, **settings: Any) -> Iterator[str]:
    """The app with ``generator`` behind a real uvicorn with the server's connection settings."""
    options = ServeSettings(**settings)
    with serve_app(fake_app(law_rag, generator, **settings),
                   make_config=lambda app, host, port: uvicorn_config(app, host, port, options)) as url:
        yield url


def test_a_client_that_leaves_stops_its_generation(law_rag: DomainRAG) -> None:
    generator = SlowGenerator(delay=0.05)  # 2000 tokens would take 100 s
    with serving(law_rag, generator, max_tokens_limit=5000, max_queue=0) as url:
        # Warm first (embedder, Milvus, jieba): the client below must leave while the model writes, not before.
        warm = httpx.post(f"{url}/v1/chat/completions", json={"messages": USER, "max_tokens": 4}, timeout=120)
        assert warm.status_code == 200 and generator.finished.is_set()
        generator.finished.clear()
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/v1/chat/completions", json={"messages": USER, "max_tokens": 2000}, timeout=1.5)
        assert generator.closed.wait(10) and not generator.finished.is_set()
        started = time.monotonic()
        reply = httpx.post(f"{url}/v1/chat/completions", json={"messages": USER, "max_tokens": 4}, timeout=30)
        assert reply.status_code == 200 and time.monotonic() - started < 10

        generator.closed.clear()
        with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=30,
                          json={"messages": USER, "max_tokens": 2000, "stream": True}) as response:
            lines = response.iter_lines()
            assert next(lines).startswith("data: ")  # streaming has begun; now leave
        assert generator.closed.wait(10)


def test_over_the_queue_is_429_with_retry_after(law_rag: DomainRAG) -> None:
    generator = SlowGenerator(delay=0.05)
    with serving(law_rag, generator, max_concurrent=1, max_queue=1, queue_timeout_s=1.0) as url:
        def ask(tokens: int) -> httpx.Response:
            return httpx.post(f"{url}/v1/chat/completions", json={"messages": USER, "max_tokens": tokens}, timeout=30)

        busy = threading.Thread(target=ask, args=(100,))  # holds the one slot for ~5 s
        busy.start()
        time.sleep(1.0)
        waiter: list[httpx.Response] = []
        waiting = threading.Thread(target=lambda: waiter.append(ask(2)))  # takes the one waiting place
        waiting.start()
        time.sleep(0.3)
        over = ask(2)
        waiting.join()
        busy.join()
    assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1
    assert over.json()["error"]["code"] == "rate_limit_exceeded"
    assert waiter[0].status_code == 429 and "1 s" in waiter[0].json()["error"]["message"]  # its wait timed out


def test_request_bodies_over_the_limit_get_413(law_rag: DomainRAG) -> None:
    with serving(law_rag, SlowGenerator(), max_body_kb=4) as url:
        padding = "x" * 8000
        declared = httpx.post(f"{url}/v1/chat/completions", json={"messages": USER, "pad": padding}, timeout=10)
        chunked = httpx.post(f"{url}/v1/chat/completions", timeout=10,
                             content=iter([b'{"messages": [], "pad": "', padding.encode(), b'"}']))
        small = httpx.post(f"{url}/v1/chat/completions", json={"messages": USER, "max_tokens": 2}, timeout=10)
    for response in (declared, chunked):
        assert response.status_code == 413 and "--max-body-kb" in response.json()["error"]["message"]
    assert small.status_code == 200


def test_connections_that_never_finish_their_head_are_closed(law_rag: DomainRAG) -> None:
    with serving(law_rag, SlowGenerator(), header_timeout_s=1.0) as url:
        port = int(url.rsplit(":", 1)[1])
        slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
        for sock in slow:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            sock.settimeout(5)
        started = time.monotonic()
        assert all(sock.recv(1024) == b"" for sock in slow)  # closed by the server
        assert time.monotonic() - started < 4
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200
        with socket.create_connection(("127.0.0.1", port)) as sock:  # a head growing past max_header_kb
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"x" * 40_000)
            sock.settimeout(5)
            assert sock.recv(1024).startswith(b"HTTP/1.1 400")
        for sock in slow:
            sock.close()
