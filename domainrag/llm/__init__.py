"""Generators: a local transformers model (optionally with a PEFT adapter) or an OpenAI-compatible endpoint."""

from __future__ import annotations

import os
from typing import Any

from domainrag.llm.base import GenerationSettings, Generator, Message

__all__ = ["GenerationSettings", "Generator", "Message", "build_generator"]


def build_generator(pack: Any, endpoint: str | None = None, model: str | None = None,
                    base_model: str | None = None, **generation: Any) -> Generator:
    """The pack's generator: ``endpoint`` (or ``DOMAINRAG_LLM_ENDPOINT``) → OpenAI-compatible client;
    otherwise the local ``base_model`` (default: the pack's ``[models] base``) with the pack's adapter."""
    settings = GenerationSettings.from_pack(pack, **generation)
    endpoint = endpoint or os.environ.get("DOMAINRAG_LLM_ENDPOINT")
    if endpoint:
        from domainrag.llm.endpoint import EndpointGenerator

        return EndpointGenerator(endpoint, model=model, settings=settings)
    from domainrag.llm.local import LocalGenerator

    return LocalGenerator(base_model or pack.base_model, default_adapter=pack.adapter_dir, settings=settings)
