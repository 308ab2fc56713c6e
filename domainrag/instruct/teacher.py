"""Self-instruct with a teacher model behind an OpenAI-compatible endpoint (vLLM, llama.cpp, OpenAI...).

The teacher reads a passage from the corpus and writes question/answer pairs grounded in it; the pairs
then go through the same filters and de-duplication as the builder's own examples.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from domainrag.errors import ConfigError, ModelError
from domainrag.instruct.records import Example

PROMPT = (
    "下面是一段{domain}领域的资料。请根据资料写出 {n} 个不同的问题及其答案，答案必须完全来自资料。"
    "只输出 JSON 数组，每个元素形如 {{\"question\": \"...\", \"answer\": \"...\"}}。\n\n资料：\n{passage}"
)
_JSON_ARRAY = re.compile(r"\[.*\]", re.S)


@dataclass(frozen=True)
class TeacherSettings:
    """Where the teacher is and how much to ask of it."""

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    pairs_per_passage: int = 3
    max_passages: int = 50
    temperature: float = 0.7
    timeout: float = 120.0


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """Question/answer pairs from the teacher's reply (a JSON array, possibly inside prose or a code fence)."""
    match = _JSON_ARRAY.search(text)
    if not match:
        return []
    try:
        items = json.loads(match.group(0))
    except json.JSONDecodeError:
        return []
    pairs = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            question, answer = str(item.get("question", "")).strip(), str(item.get("answer", "")).strip()
            if question and answer:
                pairs.append((question, answer))
    return pairs


def self_instruct(passages: Iterable[tuple[str, str]], settings: TeacherSettings, domain: str) -> Iterator[Example]:
    """Examples written by the teacher from (source, passage) pairs; an unreachable teacher is a ModelError."""
    try:
        from openai import APIError, OpenAI
    except ImportError:
        raise ModelError("the teacher needs the openai client: pip install openai") from None
    if not settings.base_url or not settings.model:
        raise ConfigError("teacher needs --teacher-url and --teacher-model (an OpenAI-compatible endpoint)")
    client = OpenAI(base_url=settings.base_url, api_key=os.environ.get(settings.api_key_env) or "EMPTY",
                    timeout=settings.timeout, max_retries=1)
    for count, (source, passage) in enumerate(passages):
        if count >= settings.max_passages:
            break
        prompt = PROMPT.format(domain=domain, n=settings.pairs_per_passage, passage=passage)
        try:
            reply = client.chat.completions.create(model=settings.model, temperature=settings.temperature,
                                                   messages=[{"role": "user", "content": prompt}])
        except APIError as exc:
            raise ModelError(f"teacher at {settings.base_url} failed ({type(exc).__name__}: {str(exc)[:120]}); "
                             "check --teacher-url, --teacher-model and the API key") from None
        except Exception as exc:  # connection errors from httpx surface as various types
            raise ModelError(f"teacher at {settings.base_url} unreachable ({type(exc).__name__}); "
                             "check --teacher-url") from None
        content = reply.choices[0].message.content or ""
        for question, answer in parse_pairs(content):
            yield Example(instruction=question, output=answer, source=f"teacher:{source}", task="self-instruct",
                          group=source)
