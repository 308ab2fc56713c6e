"""The chat request the server accepts (a pydantic model with bounds) and errors in OpenAI's JSON shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

MAX_K = 50


class RequestError(Exception):
    """A request the server refuses: rendered as ``{"error": {...}}`` with ``status``."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.headers = status, message, param, code, headers


class TextPart(BaseModel):
    """One OpenAI content part; parts without text (images, audio) count as empty."""

    model_config = ConfigDict(extra="allow")
    type: StrictStr = "text"
    text: StrictStr = ""


class ChatMessage(BaseModel):
    """``{"role", "content"}``; content is a string or a list of content parts."""

    model_config = ConfigDict(extra="allow")
    role: StrictStr
    content: StrictStr | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions``. Unknown fields are allowed (OpenAI clients send many) and ignored."""

    model_config = ConfigDict(extra="allow")
    model: StrictStr | None = Field(None, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=500)
    stream: StrictBool | None = None
    max_tokens: StrictInt | None = Field(None, ge=1)
    max_completion_tokens: StrictInt | None = Field(None, ge=1)
    k: StrictInt | None = Field(None, ge=1, le=MAX_K)
    adapter: StrictStr | None = Field(None, max_length=200)
    use_cache: StrictBool | None = None

    @property
    def requested_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


def error_body(message: str, status: int, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error object: ``{"error": {"message", "type", "param", "code"}}``."""
    kind = "server_error" if status >= 500 else "authentication_error" if status == 401 else "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(status: int, message: str, param: str | None = None, code: str | None = None,
                   headers: dict[str, str] | None = None) -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse(status_code=status, content=error_body(message, status, param, code), headers=headers)


def _param(loc: Sequence[Any]) -> str | None:
    """``("body", "messages", 0, "content", "list[TextPart]", 0, "text")`` → ``messages.0.content.0.text``."""
    parts = [str(p) for p in loc if p != "body" and not (isinstance(p, str) and ("[" in p or p in ("str", "int")))]
    return ".".join(parts) or None


def validation_message(errors: Sequence[dict[str, Any]]) -> tuple[str, str | None]:
    """(one clear message, the offending parameter) for pydantic / FastAPI validation errors."""
    if not errors:
        return "invalid request body", None
    # the most specific error: a union's list branch says more than "Input should be a valid string"
    first = max(errors, key=lambda e: len(e.get("loc", ())))
    kind, param = first.get("type", ""), _param(first.get("loc", ()))
    if kind == "json_invalid":
        detail = (first.get("ctx") or {}).get("error", "")
        return f"the request body is not valid JSON ({detail}); send a JSON object", None
    if param is None:
        return "the request body must be a JSON object such as {\"model\": ..., \"messages\": [...]}", None
    return f"invalid {param}: {first.get('msg', 'bad value')}", param


def install_error_handlers(app: Any) -> None:
    """Every client error (validation, bad JSON, unknown route, wrong method) as a 4xx in OpenAI's shape;
    an unexpected failure as a 500 in the same shape."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Any, exc: RequestValidationError) -> Any:
        message, param = validation_message(exc.errors())
        return error_response(400, message, param, "invalid_value")

    @app.exception_handler(HTTPException)
    async def on_http(request: Any, exc: HTTPException) -> Any:
        return error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def on_bug(request: Any, exc: Exception) -> Any:
        return error_response(500, f"internal error ({type(exc).__name__}); the server log has the details")

    @app.exception_handler(RequestError)
    async def on_request_error(request: Any, exc: RequestError) -> Any:
        return error_response(exc.status, exc.message, exc.param, exc.code, exc.headers)
