"""The answer prompt: the pack's system prompt and user template around numbered context passages.

A pack may set, under ``[prompts]`` in pack.toml:
  ``system``      the system prompt;
  ``user``        the user message, with ``{context}`` and ``{question}`` placeholders;
  ``no_context``  the answer given when retrieval finds nothing relevant;
  ``header``      what heads each numbered passage: ``title+section`` (default), ``title`` or ``none``.
Missing ones fall back to the defaults below for the pack's language. Everything before the question costs
prefill time on a small CPU model, and a byte-level tokenizer spends 2-3 tokens on a Chinese character, so the
prompt drops the state name that opens most statute titles (中华人民共和国刑法 → 刑法); citations keep full titles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from collections.abc import Callable
from typing import Any

from domainrag.errors import ConfigError
from domainrag.retrieve import Hit

DEFAULTS: dict[str, dict[str, str]] = {
    "zh": {
        "system": "你是一名严谨的助手。只依据给出的资料回答，并用 [n] 标注所引用资料的编号；"
                  "资料不足以回答时，直接说明无法从资料中找到依据。",
        "user": "资料：\n{context}\n\n问题：{question}\n\n请只依据上述资料简要回答，并在句末用 [n] 标注所依据的资料编号。",
        "no_context": "在知识库中没有找到与该问题相关的内容，无法给出有依据的回答。请换一种问法，或先导入相关文档。",
        "header": "title+section",
    },
    "en": {
        "system": "You are a careful assistant. Answer only from the numbered sources you are given and cite them "
                  "as [n]. If the sources do not answer the question, say so.",
        "user": "Sources:\n{context}\n\nQuestion: {question}\n\nAnswer briefly from the sources above only, "
                "citing the source numbers as [n].",
        "no_context": "Nothing relevant was found in the knowledge base, so there is no grounded answer. "
                      "Try rephrasing, or ingest the relevant documents first.",
        "header": "title+section",
    },
}
PLACEHOLDERS = {"context", "question"}
HEADER_STYLES = ("title+section", "title", "none")
_STATE_NAME = re.compile(r"^中华人民共和国(?=\S)")


def _lang(language: str) -> str:
    return "zh" if language.lower().startswith("zh") else "en"


@dataclass(frozen=True)
class PromptTemplates:
    """The three texts a pack's answers are built from."""

    system: str
    user: str
    no_context: str
    header: str = "title+section"

    @classmethod
    def from_pack(cls, pack: Any, validate: bool = True) -> "PromptTemplates":
        """The pack's templates; ``validate`` checks the user template through LangChain at once (the answer chain
        checks it when it first builds its prompt instead, so a cache hit never loads LangChain)."""
        defaults = DEFAULTS[_lang(pack.language)]
        templates = cls(**{key: pack.prompts.get(key) or value for key, value in defaults.items()})
        if templates.header not in HEADER_STYLES:
            raise ConfigError(f"[prompts] header = {templates.header!r} in pack {pack.name!r}: use one of "
                              f"{', '.join(HEADER_STYLES)}")
        if validate:
            templates.chat_template()
        return templates

    def chat_template(self) -> Any:
        """A LangChain ``ChatPromptTemplate`` taking ``system``, ``context`` and ``question``."""
        from langchain_core.prompts import ChatPromptTemplate

        try:
            prompt = ChatPromptTemplate.from_messages([("system", "{system}"), ("human", self.user)])
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"bad [prompts] user template ({exc}); use only {{context}} and {{question}}, "
                              "double any literal braces") from None
        extra = set(prompt.input_variables) - PLACEHOLDERS - {"system"}
        missing = PLACEHOLDERS - set(prompt.input_variables)
        if extra or missing:
            raise ConfigError(f"[prompts] user template must use exactly {{context}} and {{question}} "
                              f"(unknown: {sorted(extra)}, missing: {sorted(missing)})")
        return prompt


def passage_header(hit: Hit) -> str:
    """``中华人民共和国刑法 · 第五章 侵犯财产罪``: the document title and the innermost section."""
    innermost = hit.section.split(" / ")[-1].strip() if hit.section else ""
    return " · ".join(part for part in (hit.title, innermost) if part)


def prompt_header(hit: Hit, style: str = "title+section") -> str:
    """A passage's header inside the prompt: ``passage_header`` without the state name, as ``style`` says."""
    if style == "none":
        return ""
    title = _STATE_NAME.sub("", hit.title)
    section = hit.section if style == "title+section" else ""
    return passage_header(replace(hit, title=title, section=section))


def format_context(passages: list[tuple[int, Hit, str]], style: str = "title+section") -> str:
    """Numbered passages: ``[n] header`` + newline + text, separated by blank lines."""
    blocks = []
    for n, hit, text in passages:
        header = prompt_header(hit, style)
        blocks.append(f"[{n}] {header}\n{text}" if header else f"[{n}] {text}")
    return "\n\n".join(blocks)


def water_fill(lengths: list[int], budget: int) -> int:
    """The largest per-passage cap c with Σ min(len, c) ≤ budget: short passages stay whole, long ones share."""
    if sum(lengths) <= budget:
        return max(lengths, default=budget)
    remaining, count = budget, len(lengths)
    for size in sorted(lengths):
        share = remaining // count
        if size > share:
            return max(share, 1)
        remaining -= size
        count -= 1
    return budget


def fit_passages(passages: list[tuple[int, Any, str]], budget: int, count_tokens: Callable[[str], int],
                 truncate: Callable[[str, int], str], style: str = "title+section") -> list[tuple[int, Any, str]]:
    """The numbered passages cut to ``budget`` tokens in all, their headers included (``water_fill``); a cut
    passage ends with "…". The answer chain and the grounded training data both cut this way, so a model is
    trained on the prompts it is later given."""
    headers = sum(count_tokens(f"[{n}] {prompt_header(hit, style)}\n\n") for n, hit, _ in passages)
    lengths = [count_tokens(text) for _, _, text in passages]
    cap = max(water_fill(lengths, budget - headers), 32)
    return [(n, hit, text if size <= cap else truncate(text, cap) + "…")
            for (n, hit, text), size in zip(passages, lengths)]


def to_chat_messages(prompt_value: Any) -> list[dict[str, str]]:
    """LangChain messages → OpenAI-style ``[{role, content}]`` for the generators."""
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    return [{"role": roles.get(m.type, "user"), "content": str(m.content)} for m in prompt_value.to_messages()]
