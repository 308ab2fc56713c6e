"""An OpenAI-compatible HTTP API over the answer chain (FastAPI).

``GET /v1/models`` lists the packs; ``POST /v1/chat/completions`` answers the last user message with RAG (the
earlier messages are the conversation history), streamed as server-sent events when ``stream`` is true.
The sources come back in an extra top-level ``citations`` field (on the last chunk when streaming) and the
cache/timing details in ``domainrag``. Extra request fields: ``k``, ``adapter``, ``use_cache``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from domainrag.errors import ConfigError, DomainRAGError

ERROR_STATUS = {"QuestionError": 400, "ConfigError": 400, "ModelError": 503, "StoreError": 503}


def _text(content: Any) -> str:
    """Message content as text: a string, or OpenAI content parts ``[{"type": "text", "text": ...}]``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def split_messages(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    """(last user message, earlier user/assistant turns). System messages are ignored: the pack sets the prompt."""
    turns = [{"role": m.get("role", "user"), "content": _text(m.get("content"))} for m in messages
             if m.get("role") in ("user", "assistant")]
    last_user = max((i for i, m in enumerate(turns) if m["role"] == "user"), default=None)
    if last_user is None:
        raise ConfigError("no user message: send messages=[{\"role\": \"user\", \"content\": \"...\"}]")
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
                    raise LookupError(name)
                from domainrag.rag import DomainRAG

                self.rags[name] = DomainRAG.from_pack(name, uri=self.default.uri).with_llm(**self.default._llm_options)
            return self.rags[name]


def _error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None) -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind, "code": code}})


def _domain_error(exc: DomainRAGError) -> Any:
    status = ERROR_STATUS.get(type(exc).__name__, 500)
    return _error(status, str(exc), "invalid_request_error" if status < 500 else "server_error")


def _extras(answer: Any) -> dict[str, Any]:
    data = answer.to_dict()
    return {"citations": data["citations"],
            "domainrag": {"cache_hit": data["cache_hit"], "similarity": data["similarity"], "model": data["model"],
                          "adapter": data["adapter"], "timings": data["timings"], "mode": data["mode"],
                          "disclaimer": data["disclaimer"],
                          "standalone_question": answer.standalone_question, "no_context": answer.no_context}}


def create_app(rag: Any) -> Any:
    """The FastAPI app serving ``rag``'s pack (and the other installed packs by model name)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import StreamingResponse

    registry = PackRegistry(rag)
    app = FastAPI(title="domainrag", description="OpenAI-compatible RAG answers with citations")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "pack": rag.pack.name, "kb": rag.kb}

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

    @app.post("/v1/chat/completions")
    def chat_completions(body: dict[str, Any]) -> Any:
        try:
            target = registry.get(body.get("model"))
        except LookupError:
            return _error(404, f"unknown model {body.get('model')!r}: GET /v1/models lists the packs", code="model_not_found")
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            return _error(400, "messages must be a list of {role, content} objects")
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        options = {"use_cache": bool(body.get("use_cache", True)), "k": body.get("k"), "adapter": body.get("adapter"),
                   "max_new_tokens": int(max_tokens) if max_tokens else None}
        completion_id, created, model = f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), target.pack.name
        try:
            question, history = split_messages(messages)
            stream = target.stream(question, history, **options)
            if not body.get("stream"):
                answer = stream.answer
                return {"id": completion_id, "object": "chat.completion", "created": created, "model": model,
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": answer.answer}}],
                        **_extras(answer)}
            deltas = iter(stream)
            first = next(deltas, None)  # surfaces retrieval / model errors as an HTTP status, not a broken stream
        except DomainRAGError as exc:
            return _domain_error(exc)

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

        def events() -> Iterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            try:
                if first is not None:
                    yield chunk({"content": first})
                for delta in deltas:
                    yield chunk({"content": delta})
                yield chunk({}, "stop", **_extras(stream.answer))
            except DomainRAGError as exc:
                yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'server_error'}}, ensure_ascii=False)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.exception_handler(DomainRAGError)
    def on_domain_error(request: Request, exc: DomainRAGError) -> Any:
        return _domain_error(exc)

    return app
