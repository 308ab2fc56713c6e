"""``domainrag ask --server URL``: the question answered by a running ``domainrag serve``.

A fresh ``ask`` process starts Milvus Lite, loads the knowledge base's collection, the embedding model and jieba
before it can answer, even from the cache. A server holds all of that, so a client that only sends the question
answers in well under a second. The client speaks the server's OpenAI-compatible API (``/v1/chat/completions``,
streamed as server-sent events) with the standard library alone, and rebuilds the ``Answer`` from the reply:
the text, its citations and the ``domainrag`` details the server adds (mode, disclaimer, model).
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from domainrag.answer import Answer, AnswerStream, Citation
from domainrag.errors import ConfigError, ServerError

CONNECT_TIMEOUT_S = 600.0  # a local model may take minutes on a busy server; the server bounds the wait itself


def chat_url(server: str) -> str:
    """``http://host:port`` (or ``…/v1``) → the chat completions URL."""
    base = server.strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ConfigError(f"--server {server!r}: give the server's URL, e.g. http://127.0.0.1:8000")
    return f"{base[:-3] if base.endswith('/v1') else base}/v1/chat/completions"


def request_body(pack: str, question: str, history: list[Any], *, stream: bool, use_cache: bool,
                 k: int | None, adapter: str | None, max_new_tokens: int | None) -> dict[str, Any]:
    """The chat request: the pack as the model, earlier turns then the question as messages."""
    messages: list[dict[str, str]] = []
    for turn in history:
        if isinstance(turn, dict):
            messages.append({"role": str(turn.get("role", "user")), "content": str(turn.get("content", ""))})
        else:  # a (question, answer) pair
            asked, answered = turn
            messages += [{"role": "user", "content": str(asked)}, {"role": "assistant", "content": str(answered)}]
    messages.append({"role": "user", "content": question})
    body: dict[str, Any] = {"model": pack, "messages": messages, "stream": stream, "use_cache": use_cache}
    for key, value in (("k", k), ("adapter", adapter), ("max_tokens", max_new_tokens)):
        if value is not None:
            body[key] = value
    return body


def _error_message(raw: bytes) -> str:
    try:
        return str(json.loads(raw)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return raw.decode("utf-8", "replace").strip()[:300] or "no details"


def _open(url: str, body: dict[str, Any], api_key: str | None) -> Any:
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream, application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(url, data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                                     headers=headers, method="POST")
    server = url.rsplit("/v1/", 1)[0]
    try:
        return urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        message = _error_message(exc.read())
        if exc.code == 401:
            message += " (set --api-key or DOMAINRAG_API_KEY to the server's key)"
        raise ServerError(f"the domainrag server at {server} answered {exc.code}: {message}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigError(f"no domainrag server answers at {server} ({reason}): start one with "
                          f"`domainrag serve --pack {body['model']}`, or leave out --server") from None


def _answer(text: str, reply: dict[str, Any], question: str, started: float, first: float | None) -> Answer:
    """The ``Answer`` from the reply's text, ``citations`` and ``domainrag`` details; timings are the client's
    unless the server shares its own (``serve --debug``)."""
    details = dict(reply.get("domainrag") or {})
    total = (time.perf_counter() - started) * 1000
    timings = details.get("timings") or {"first_token_ms": first if first is not None else total, "total_ms": total}
    return Answer.from_dict({**details, "answer": text, "citations": reply.get("citations") or [], "timings": timings},
                            question=question, sources=[Citation(**c) for c in reply.get("citations") or []])


@contextmanager
def _reading(server: str) -> Iterator[None]:
    """A reply cut off or not in the server's shape becomes one ``ServerError``."""
    try:
        yield
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise ServerError(f"the answer from {server} broke off or was not a chat completion "
                          f"({type(exc).__name__}: {exc})") from None


def ask_server(server: str, pack: str, question: str, history: list[Any] | None = None, *,
               api_key: str | None = None, stream: bool = True, use_cache: bool = True, k: int | None = None,
               adapter: str | None = None, max_new_tokens: int | None = None) -> AnswerStream:
    """Ask the domainrag server at ``server`` for ``pack``'s answer; iterate for the text as it arrives, then
    ``.answer``. Raises ``ConfigError`` when no server answers, ``ServerError`` when it refuses."""
    url = chat_url(server)
    body = request_body(pack, question, history or [], stream=stream, use_cache=use_cache, k=k, adapter=adapter,
                        max_new_tokens=max_new_tokens)
    started = time.perf_counter()
    response = _open(url, body, api_key)
    result: list[Answer] = []

    def whole() -> Iterator[str]:
        with response, _reading(server):
            reply = json.loads(response.read())
            text = reply["choices"][0]["message"]["content"] or ""
        result.append(_answer(text, reply, question, started, None))
        yield text

    def events() -> Iterator[str]:
        parts: list[str] = []
        first: float | None = None
        final: dict[str, Any] = {}
        with response, _reading(server):
            for raw in response:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                event = json.loads(data)
                if "error" in event:
                    raise ServerError(f"the domainrag server at {server} broke off the answer: "
                                      f"{event['error'].get('message', 'no details')}")
                delta = event["choices"][0].get("delta", {}).get("content") or ""
                if delta:
                    first = (time.perf_counter() - started) * 1000 if first is None else first
                    parts.append(delta)
                    yield delta
                if event["choices"][0].get("finish_reason"):
                    final = event
        if not final:
            raise ServerError(f"the answer from {server} broke off or was not a chat completion (no final event)")
        result.append(_answer("".join(parts), final, question, started, first))

    return AnswerStream(events() if stream else whole(), lambda: result[-1])
