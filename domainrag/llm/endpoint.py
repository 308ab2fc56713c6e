"""Any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, `domainrag serve`, a hosted API).

With vLLM serving one base model and each pack's LoRA adapter by name (``--enable-lora --lora-modules
law=domains/law/adapter``), pick the adapter per request with ``adapter="law"`` (CLI ``--adapter law``).
The key comes from ``DOMAINRAG_LLM_API_KEY`` or ``OPENAI_API_KEY``; local servers accept any key.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

from domainrag.errors import ModelError
from domainrag.llm.base import GenerationSettings, Generator, Guidance, Message

NO_ADAPTER = ("none", "off", "")


class EndpointGenerator(Generator):
    """Chat completions from an OpenAI-compatible server, streamed."""

    def __init__(self, base_url: str, model: str | None = None, api_key: str | None = None,
                 settings: GenerationSettings | None = None) -> None:
        try:
            from openai import OpenAI
        except ImportError:
            raise ModelError("the openai package is missing: pip install openai") from None
        self.base_url = base_url.rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ModelError(f"bad --llm-endpoint {base_url!r}: give an http(s) URL such as http://127.0.0.1:8000/v1")
        self.settings = settings or GenerationSettings()
        key = api_key or os.environ.get("DOMAINRAG_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY") or "not-needed"
        self.client = OpenAI(base_url=self.base_url, api_key=key, timeout=self.settings.timeout_s, max_retries=0)
        self._model = model or os.environ.get("DOMAINRAG_LLM_MODEL") or None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:  # type: ignore[override]
        """The model named by --llm-model, else the first one the endpoint lists."""
        with self._lock:
            if self._model is None:
                with self._errors():
                    models = [m.id for m in self.client.models.list()]
                if not models:
                    raise ModelError(f"LLM endpoint {self.base_url} lists no models; name one with --llm-model")
                self._model = models[0]
            return self._model

    def adapter_label(self, adapter: str | None) -> str | None:
        if adapter is None or adapter.strip().lower() in NO_ADAPTER:
            return None
        return adapter

    def _errors(self) -> Any:
        return _EndpointErrors(self.base_url)

    def stream(self, messages: list[Message], adapter: str | None = None,
               max_new_tokens: int | None = None, guidance: Guidance | None = None) -> Iterator[str]:
        """A reply prefix goes as a final assistant message (servers that continue it, as vLLM and Ollama can,
        write on from it; others answer anew, and the chain checks what they write either way)."""
        model = self.adapter_label(adapter) or self.model_name
        if guidance is not None and guidance.reply_prefix:
            messages = [*messages, {"role": "assistant", "content": guidance.reply_prefix}]
        seen_choice = False
        with self._errors():
            response = self.client.chat.completions.create(
                model=model, messages=messages, stream=True, temperature=self.settings.temperature,
                max_tokens=int(max_new_tokens or self.settings.max_new_tokens))
            for chunk in response:
                choices = getattr(chunk, "choices", None)
                if not isinstance(choices, list):
                    raise ModelError(f"LLM endpoint {self.base_url} answered garbage (a stream chunk without choices); "
                                     "is it an OpenAI-compatible /v1 URL?")
                for choice in choices:
                    seen_choice = True
                    text = getattr(getattr(choice, "delta", None), "content", None)
                    if text:
                        yield text
        if not seen_choice:
            raise ModelError(f"LLM endpoint {self.base_url} answered garbage (no completion in the reply); "
                             "is it an OpenAI-compatible /v1 URL?")


class _EndpointErrors:
    """Turns openai/httpx failures into one-line ``ModelError``s."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or isinstance(exc, (ModelError, GeneratorExit)):
            return False
        import openai

        if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError)):
            raise ModelError(f"LLM endpoint {self.url} is unreachable ({type(exc).__name__}); "
                             "start the server or fix --llm-endpoint") from None
        if isinstance(exc, openai.APIStatusError):
            detail = str(getattr(exc, "message", exc)).replace("\n", " ")[:160]
            raise ModelError(f"LLM endpoint {self.url} refused the request (HTTP {exc.status_code}: {detail}); "
                             "check --llm-model and the API key (DOMAINRAG_LLM_API_KEY)") from None
        if isinstance(exc, (openai.APIError, ValueError, TypeError, AttributeError, KeyError)):
            raise ModelError(f"LLM endpoint {self.url} answered garbage ({type(exc).__name__}: {str(exc)[:120]}); "
                             "is it an OpenAI-compatible /v1 URL?") from None
        return False
