"""The small interface every generator implements, and the generation settings a pack can set."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from typing import Any

from domainrag.errors import ConfigError

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


@dataclass(frozen=True)
class Guidance:
    """How the answer chain steers a generation.

    ``reply_prefix``: text the reply starts with (already shown to the user); the model continues it.
    ``citations``: the passage numbers a citation marker may name; a local model is constrained to them while
    decoding (``domainrag.llm.constraints``), an endpoint's markers are filtered afterwards.
    """

    reply_prefix: str = ""
    citations: frozenset[int] = frozenset()


@dataclass(frozen=True)
class GenerationSettings:
    """Bounded, greedy decoding. Read from a pack's ``[generation]`` table.

    ``max_context_tokens`` caps the retrieved text put into the prompt: prompt length is what a small CPU
    model's first-token latency grows with.
    """

    max_new_tokens: int = 256
    max_context_tokens: int = 640
    repetition_penalty: float = 1.1
    temperature: float = 0.0
    timeout_s: float = 120.0
    dtype: str = "auto"  # local models: auto (bfloat16 where the CPU has native bf16, else float32), float32, bfloat16

    @classmethod
    def from_pack(cls, pack: Any, **overrides: Any) -> "GenerationSettings":
        raw = dict(pack.section("generation")) if pack is not None else {}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"{getattr(pack, 'path', '?')}/pack.toml: unknown [generation] keys {unknown}; "
                              f"allowed: {sorted(known)}")
        try:
            settings = cls(**raw)
        except TypeError as exc:
            raise ConfigError(f"bad [generation] section in pack {pack.name!r} ({exc})") from None
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


class Generator(ABC):
    """Turns chat messages into text: all at once or as a stream of deltas. Safe to share across threads."""

    model_name: str = ""

    @abstractmethod
    def stream(self, messages: list[Message], adapter: str | None = None,
               max_new_tokens: int | None = None, guidance: Guidance | None = None) -> Iterator[str]:
        """Yield text deltas of the reply to ``messages`` (continuing ``guidance.reply_prefix`` when given)."""

    def generate(self, messages: list[Message], adapter: str | None = None, max_new_tokens: int | None = None,
                 guidance: Guidance | None = None) -> str:
        """The whole reply to ``messages``."""
        return "".join(self.stream(messages, adapter=adapter, max_new_tokens=max_new_tokens, guidance=guidance))

    def adapter_label(self, adapter: str | None) -> str | None:
        """What ``Answer.adapter`` reports for a requested adapter (None when no adapter is applied)."""
        return None

    def truncate(self, text: str, max_tokens: int) -> str:
        """``text`` cut to about ``max_tokens`` tokens (generators without a tokenizer count ~1 token/char)."""
        return text[:max_tokens]

    def count_tokens(self, text: str) -> int:
        return len(text)
