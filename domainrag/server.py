"""An OpenAI-compatible HTTP API over the answer chain (FastAPI).

``GET /v1/models`` lists the packs; ``POST /v1/chat/completions`` answers the last user message with RAG (the
earlier messages are the conversation history), streamed as server-sent events when ``stream`` is true.
The sources come back in an extra top-level ``citations`` field (on the last chunk when streaming) and the
answer's details in ``domainrag``. Extra request fields: ``k``, ``adapter`` (a pack name or "none"), ``use_cache``.
``GET /health`` is open; everything else needs ``Authorization: Bearer KEY`` when a key is set.
"""

from __future__ import annotations

import asyncio
import threading
import hmac
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from domainrag.errors import DomainRAGError
from domainrag.server_limits import BodyLimit, GenerationQueue, ServeSettings, ThreadedIterator
from domainrag.server_request import ChatMessage, ChatRequest, RequestError, error_response, install_error_handlers

ERROR_STATUS = {"QuestionError": 400, "ConfigError": 400, "ModelError": 503, "StoreError": 503}
NO_ADAPTER = ("none", "off", "")
# what an answer reveals about other clients' questions (a cache hit means someone asked before): operator only
OPERATOR_ONLY = ("cache_hit", "similarity", "timings", "standalone_question")


def split_messages(messages: list[ChatMessage]) -> tuple[str, list[dict[str, str]]]:
    """(last user message, earlier user/assistant turns). System messages are ignored: the pack sets the prompt."""
    turns = [{"role": m.role, "content": m.text()} for m in messages if m.role in ("user", "assistant")]
    last_user = max((i for i, m in enumerate(turns) if m["role"] == "user"), default=None)
    if last_user is None:
        raise RequestError(400, "no user message: send messages=[{\"role\": \"user\", \"content\": \"...\"}]",
                           param="messages")
    return turns[last_user]["content"], turns[:last_user]


class PackRegistry:
    """One ``DomainRAG`` per pack: the served one, and others (their default KB) on first request."""

    def __init__(self, rag: Any) -> None:
        import threading

        from domainrag.packs import available_packs

        self.default = rag
        self.rags: dict[str, Any] = {rag.pack.name: rag}
        self.names = sorted({rag.pack.name, *available_packs()})
        self._lock = threading.Lock()

    def get(self, name: str | None) -> Any:
        if not name or name == self.default.pack.name:
            return self.default
        with self._lock:
            if name not in self.rags:
                if name not in self.names:
                    raise RequestError(404, f"unknown model {name!r}: GET /v1/models lists the packs",
                                       param="model", code="model_not_found")
                from domainrag.rag import DomainRAG

                self.rags[name] = DomainRAG.from_pack(name, uri=self.default.uri).with_llm(
                    **self._llm_options(), answer_mode=self.default.answer_mode)
            return self.rags[name]

    def _llm_options(self) -> dict[str, Any]:
        """The served pack's LLM options; an endpoint's upstream model stays the one the operator fixed."""
        from domainrag.llm.endpoint import EndpointGenerator

        options = self.default.llm_options
        if isinstance(self.default.generator, EndpointGenerator):
            options["model"] = self.default.generator.model_name
        return options

    def adapter(self, target: Any, name: str | None) -> str | None:
        """The request's adapter (a pack name or "none") as the generator takes it: None (the pack's own),
        "none", the pack's adapter folder for a local model, or the pack name for an endpoint."""
        if name is None:
            return None
        if name.strip().lower() in NO_ADAPTER:
            return "none"
        if name not in self.names:
            raise RequestError(400, f"unknown adapter {name!r}: name a pack ({', '.join(self.names)}) or \"none\"",
                               param="adapter", code="invalid_value")
        if not hasattr(target.generator, "resolve_adapter"):  # endpoints (vLLM --lora-modules) serve it by name
            return name
        from domainrag.packs import load_pack

        folder = (target.pack if name == target.pack.name else load_pack(name)).adapter_dir
        if folder is None:
            raise RequestError(400, f"pack {name!r} has no adapter: use \"adapter\": \"none\"", param="adapter",
                               code="invalid_value")
        return str(folder)

    def public_message(self, exc: DomainRAGError) -> str:
        """The error's message with server paths (store files, pack folders, home) replaced by labels."""
        message = str(exc)
        for rag in list(self.rags.values()):
            message = message.replace(str(rag.uri), "this server").replace(str(rag.pack.path), rag.pack.name)
        return message.replace(os.path.expanduser("~"), "~")


def _max_new_tokens(requested: int | None, target: Any, limit: int) -> int:
    """The request's token budget (default: the pack's), never above the operator's limit."""
    from domainrag.llm.base import GenerationSettings

    settings = getattr(target.generator, "settings", None) or GenerationSettings.from_pack(target.pack)
    return min(requested or settings.max_new_tokens, limit)


def _extras(answer: Any, adapter: str | None, debug: bool) -> dict[str, Any]:
    """``citations`` and ``domainrag`` (every ``Answer.to_dict()`` field but the answer text; the adapter as
    a pack name; what reveals other clients' questions only with ``debug``)."""
    data = answer.to_dict()
    details = {key: value for key, value in data.items() if key not in ("answer", "citations")}
    details.update(adapter=adapter if data.get("adapter") else None, no_context=answer.no_context,
                   standalone_question=answer.standalone_question)
    if not debug:
        details = {key: value for key, value in details.items() if key not in OPERATOR_ONLY}
    return {"citations": data["citations"], "domainrag": details}


class ApiKey:
    """ASGI middleware: every path but ``/health`` needs ``Authorization: Bearer KEY`` (401 otherwise)."""

    def __init__(self, app: Any, key: str) -> None:
        self.app, self.key = app, key.encode()

    def _allowed(self, scope: dict[str, Any]) -> bool:
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] == "/health" or self._allowed(scope):
            return await self.app(scope, receive, send)
        await error_response(401, "missing or wrong API key: send the header Authorization: Bearer KEY",
                             code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)


def create_app(rag: Any, settings: ServeSettings | None = None) -> Any:
    """The FastAPI app serving ``rag``'s pack (and the other installed packs by model name)."""
    settings = settings or ServeSettings()
    registry = PackRegistry(rag)
    queue = GenerationQueue(settings.max_concurrent, settings.max_queue, settings.queue_timeout_s)
    app = FastAPI(title="domainrag", description="OpenAI-compatible RAG answers with citations")
    install_error_handlers(app)

    app.add_middleware(BodyLimit, max_kb=settings.max_body_kb)
    if settings.api_key:
        app.add_middleware(ApiKey, key=settings.api_key)  # outermost: no body is read for a stranger

    @app.exception_handler(DomainRAGError)
    async def on_domain_error(request: Request, exc: DomainRAGError) -> Any:
        status = ERROR_STATUS.get(type(exc).__name__, 500)
        return error_response(status, registry.public_message(exc))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "pack": rag.pack.name}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        from domainrag.packs import load_pack

        data = []
        for name in registry.names:
            try:
                description = load_pack(name).description if name != rag.pack.name else rag.pack.description
            except DomainRAGError:
                continue
            data.append({"id": name, "object": "model", "created": 0, "owned_by": "domainrag", "description": description})
        return {"object": "list", "data": data}

    def prepare(body: ChatRequest) -> tuple[Any, dict[str, Any], str | None]:
        """(the pack's DomainRAG, its stream() arguments, the adapter's pack name). May load a pack or ask an
        endpoint for its model, so it runs in a worker thread."""
        target = registry.get(body.model)
        question, history = split_messages(body.messages)
        adapter = registry.adapter(target, body.adapter)
        options = {"question": question, "history": history, "use_cache": body.use_cache is not False, "k": body.k,
                   "adapter": adapter,
                   "max_new_tokens": _max_new_tokens(body.requested_tokens, target, settings.max_tokens_limit)}
        label = target.pack.name if adapter is None else None if adapter == "none" else body.adapter
        return target, options, label

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatRequest, request: Request) -> Any:
        target, options, label = await run_in_threadpool(prepare, body)
        completion_id, created, model = f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), target.pack.name

        stop = threading.Event()  # set when the client leaves; the chain stops generating at its next token

        def produce() -> Iterator[Any]:
            """The answer's text deltas, then the final ``Answer`` (runs in the worker thread)."""
            stream = target.stream(**options, cancel=stop)
            yield from stream
            yield stream.answer

        granted = await queue.acquire()
        worker = ThreadedIterator(produce, lambda: queue.release(granted), stop)
        watcher = asyncio.get_running_loop().create_task(worker.stop_on_disconnect(request))
        items = worker.items()
        try:
            first = await anext(items, None)  # retrieval / model errors become an HTTP status, not a broken stream
        except BaseException:
            watcher.cancel()
            raise
        if not body.stream:
            try:
                parts = [first] + [item async for item in items]
            finally:
                watcher.cancel()
            answer = parts[-1]
            if isinstance(answer, str) or answer is None:  # the client left: nobody to answer
                return error_response(499, "client closed the request")
            return {"id": completion_id, "object": "chat.completion", "created": created, "model": model,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": answer.answer}}],
                    **_extras(answer, label, settings.debug)}

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

        async def events() -> AsyncIterator[str]:
            try:
                yield chunk({"role": "assistant", "content": ""})
                item = first
                while isinstance(item, str):
                    yield chunk({"content": item})
                    item = await anext(items, None)
                if item is not None:
                    yield chunk({}, "stop", **_extras(item, label, settings.debug))
                yield "data: [DONE]\n\n"
            except DomainRAGError as exc:
                error = {"error": {"message": registry.public_message(exc), "type": "server_error"}}
                yield f"data: {json.dumps(error, ensure_ascii=False)}\n\ndata: [DONE]\n\n"
            finally:
                watcher.cancel()
                worker.stop.set()

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    return app


