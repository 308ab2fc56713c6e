"""What ``domainrag serve`` allows on the wire: its settings, a request body limit, a bounded generation queue,
generation in a worker thread that stops when the client leaves, and uvicorn's connection timeouts."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException

from domainrag.server_request import RequestError, error_body


@dataclass(frozen=True)
class ServeSettings:
    """The operator's limits. ``api_key`` None leaves the API open (loopback only, unless --insecure)."""

    api_key: str | None = None
    max_tokens_limit: int = 512
    max_body_kb: int = 1024
    max_concurrent: int = 1
    max_queue: int = 8
    queue_timeout_s: float = 30.0
    header_timeout_s: float = 10.0
    keep_alive_s: int = 5
    max_header_kb: int = 16
    debug: bool = False


# ---- request body ----------------------------------------------------------------------------
class BodyTooLarge(HTTPException):
    """Raised while reading a body past the limit (an HTTPException, so FastAPI's body parsing re-raises it)."""

    def __init__(self, limit_kb: int) -> None:
        super().__init__(413, f"request body over {limit_kb} KB; send less (the operator sets --max-body-kb)")


class BodyLimit:
    """ASGI middleware: 413 when Content-Length is over the limit, or when the body read so far is."""

    def __init__(self, app: Any, max_kb: int) -> None:
        self.app, self.max_kb, self.max_bytes = app, max_kb, max_kb * 1024

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            return await self._reject(scope, receive, send)
        received = 0

        async def limited() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_kb)
            return message

        started = False

        async def watched_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await self._reject(scope, receive, send)

    async def _reject(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        from fastapi.responses import JSONResponse

        error = BodyTooLarge(self.max_kb)
        await JSONResponse(error_body(error.detail, 413, code="body_too_large"), status_code=413,
                           headers={"Connection": "close"})(scope, receive, send)


# ---- generation queue ----------------------------------------------------------------------------
class GenerationQueue:
    """At most ``concurrent`` answers run at once and ``waiting`` more wait, each for at most ``wait_s``;
    beyond that a request gets 429 with Retry-After. Use from the event loop only."""

    def __init__(self, concurrent: int, waiting: int, wait_s: float) -> None:
        self.concurrent, self.waiting, self.wait_s = max(1, concurrent), max(0, waiting), wait_s
        self._slots: asyncio.Semaphore | None = None
        self._admitted = 0  # running + waiting
        self._avg_s = 5.0  # moving average of an answer's duration, for Retry-After

    def _busy(self, why: str) -> RequestError:
        retry = max(1, min(60, math.ceil(self._avg_s * self._admitted / self.concurrent)))
        return RequestError(429, f"server busy ({why}); retry after {retry} s", code="rate_limit_exceeded",
                            headers={"Retry-After": str(retry)})

    async def acquire(self) -> float:
        """Wait for a slot; returns the time it was granted (give it back to ``release``)."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrent)
        if self._admitted >= self.concurrent + self.waiting:
            raise self._busy(f"{self.concurrent} answering, {self.waiting} waiting")
        self._admitted += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.wait_s)
        except asyncio.TimeoutError:
            self._admitted -= 1
            raise self._busy(f"no free slot within {self.wait_s:.0f} s") from None
        except BaseException:
            self._admitted -= 1
            raise
        return time.monotonic()

    def release(self, granted: float) -> None:
        assert self._slots is not None
        self._avg_s = 0.8 * self._avg_s + 0.2 * (time.monotonic() - granted)
        self._admitted -= 1
        self._slots.release()


_ITEM, _DONE, _ERROR = "item", "done", "error"


class ThreadedIterator:
    """Runs a blocking iterator in its own thread and hands its items to the event loop. Setting ``stop``
    (or leaving ``items()`` early) makes the thread close the iterator after its next item, which is what
    cancels generation; ``on_exit`` runs on the loop once the thread is done."""

    def __init__(self, produce: Callable[[], Iterator[Any]], on_exit: Callable[[], None],
                 stop: threading.Event | None = None) -> None:
        self.stop = stop or threading.Event()
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._produce, self._on_exit = produce, on_exit
        threading.Thread(target=self._run, name="domainrag-answer", daemon=True).start()

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop closed (server shutdown): nobody is listening
            pass

    def _run(self) -> None:
        outcome: tuple[str, Any] = (_DONE, None)
        try:
            iterator = self._produce()
            try:
                for item in iterator:
                    if self.stop.is_set():
                        break
                    self._post(self._queue.put_nowait, (_ITEM, item))
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
        except Exception as exc:  # re-raised on the loop, in items()
            outcome = (_ERROR, exc)
        self._post(self._queue.put_nowait, outcome)
        self._post(self._on_exit)

    async def items(self) -> AsyncIterator[Any]:
        """The iterator's items; its exception is raised here."""
        try:
            while True:
                kind, value = await self._queue.get()
                if kind == _DONE:
                    return
                if kind == _ERROR:
                    raise value
                yield value
        finally:
            self.stop.set()

    async def stop_on_disconnect(self, request: Any, every_s: float = 0.25) -> None:
        """Set ``stop`` once the client has gone (run as a task while the answer is produced)."""
        while not self.stop.is_set():
            if await request.is_disconnected():
                self.stop.set()
                return
            await asyncio.sleep(every_s)


# ---- connections -----------------------------------------------------------------------------------
def guarded_h11(header_timeout_s: float) -> type:
    """uvicorn's h11 protocol that closes a connection whose request head is not complete within
    ``header_timeout_s`` (slowloris: uvicorn itself only times out idle keep-alive connections)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(header_timeout_s, self._head_timeout)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timeout(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # a request head arrived
                self._disarm()

        def on_response_complete(self) -> None:
            if not self.transport.is_closing():
                self._arm()  # before the next request's head (a pipelined one disarms it at once)
            super().on_response_complete()

    return GuardedH11Protocol


def uvicorn_config(app: Any, host: str, port: int, settings: ServeSettings, log_level: str = "warning") -> Any:
    """uvicorn settings with the connection limits: keep-alive and head timeouts, a request-head size cap."""
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, log_level=log_level, http=guarded_h11(settings.header_timeout_s),
                          timeout_keep_alive=settings.keep_alive_s,
                          h11_max_incomplete_event_size=settings.max_header_kb * 1024,
                          timeout_graceful_shutdown=5)
