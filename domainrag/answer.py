"""What ``DomainRAG.ask`` returns: the answer text, its citations, and how long each stage took."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from domainrag.errors import ConfigError

TIMING_KEYS = ("retrieve_ms", "first_token_ms", "generate_ms", "total_ms")


class QuestionError(ConfigError):
    """An empty or unusable question."""


@dataclass
class Citation:
    """A numbered source: ``[n]`` in the answer text points at this chunk."""

    n: int
    chunk_id: str
    source: str
    title: str
    section: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    """A grounded answer. ``to_dict()`` is the JSON printed by ``domainrag ask --json``.

    ``citations`` holds only the sources the answer cites with a valid ``[n]``; ``sources`` holds every
    chunk that was given to the generator (numbered as in the prompt), cited or not. ``mode`` says who wrote the
    text after the lead naming the source: ``generated`` (the model, every sentence checked against the
    sources), ``extractive`` (the cited passage's own clause, when the model wrote nothing that held up) or
    ``refused`` (nothing relevant was found). ``disclaimer`` is the pack's notice, shown beside the answer.
    """

    answer: str
    citations: list[Citation] = field(default_factory=list)
    cache_hit: bool = False
    model: str = ""
    adapter: str | None = None
    timings: dict[str, float] = field(default_factory=lambda: {key: 0.0 for key in TIMING_KEYS})
    similarity: float | None = None
    question: str = ""
    standalone_question: str = ""
    sources: list[Citation] = field(default_factory=list)
    no_context: bool = False
    warnings: list[str] = field(default_factory=list)
    mode: str = "generated"
    disclaimer: str = ""

    def to_dict(self) -> dict[str, Any]:
        """``{answer, mode, disclaimer, citations, cache_hit, model, adapter, timings, similarity}``."""
        return {
            "answer": self.answer,
            "mode": self.mode,
            "disclaimer": self.disclaimer,
            "citations": [c.to_dict() for c in self.citations],
            "cache_hit": self.cache_hit,
            "model": self.model,
            "adapter": self.adapter,
            "timings": {key: round(float(self.timings.get(key, 0.0)), 1) for key in TIMING_KEYS},
            "similarity": self.similarity,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], **overrides: Any) -> "Answer":
        """Rebuild an Answer from ``to_dict()`` output (e.g. a cached one); ``overrides`` replace fields."""
        fields = {
            "answer": data.get("answer", ""),
            "mode": data.get("mode", "generated"),
            "disclaimer": data.get("disclaimer", ""),
            "citations": [Citation(**c) for c in data.get("citations", [])],
            "cache_hit": bool(data.get("cache_hit", False)),
            "model": data.get("model", ""),
            "adapter": data.get("adapter"),
            "timings": dict(data.get("timings") or {}),
            "similarity": data.get("similarity"),
        }
        fields.update(overrides)
        return cls(**fields)


class AnswerStream:
    """Iterate to get the answer's text deltas; once exhausted, ``.answer`` is the final ``Answer``."""

    def __init__(self, deltas: Iterator[str], finish: Callable[[], Answer]) -> None:
        self._deltas = deltas
        self._finish = finish
        self._answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        yield from self._deltas
        self._answer = self._finish()

    @property
    def answer(self) -> Answer:
        """The final answer; reading it before the stream is exhausted drains the stream first."""
        if self._answer is None:
            for _ in self:
                pass
        assert self._answer is not None
        return self._answer
