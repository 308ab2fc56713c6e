"""Follow-up questions → standalone questions, deterministically (no LLM needed).

"盗窃罪怎么处罚？" then "那它的刑期呢？" → "盗窃罪的刑期呢？"; "那抢劫罪呢？" → "抢劫罪怎么处罚？".
The previous questions are resolved in turn, so a chain of follow-ups keeps its topic. The topic is the run of
adjacent keywords around the previous question's most distinctive keyword (个人独资 + 企业 → 个人独资企业).
Rules, for a question that follows others:
  1. a pronoun (它, 该罪, 这个, 上述 …; it, its, they, this …) is replaced by the topic;
  2. a bare noun phrase ending in 呢 ("刑期呢？") asks about the topic: "<topic>的刑期呢？", unless it ends
     like the topic (抢劫罪 / 盗窃罪), which swaps the topic in the previous question ("抢劫罪怎么处罚？");
  3. a question led by 那 / 还有 / 另外 continues the topic: "<topic>，<question>";
  4. English "what about X?" / "and X?" swaps X into the previous question in the same way.
Anything else is taken as already standalone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from domainrag.query import BOILERPLATE_ZH, has_cjk, keywords

ZH_LEAD = re.compile(r"^\s*(那么|那如果|那|还有|另外|再问一下|再问|请问)[，,、\s]*")
ZH_PRONOUN = re.compile(r"它们|它|(?<!应)该(?=[罪法条款项种行为规定情形])|这个|那个|这种|那种|这项|那项|上述|前者|后者|此罪|此条|此法")
ZH_TAIL = re.compile(r"[的呢吗嘛？?。！!，,\s]+$")
EN_PRONOUN = re.compile(r"\b(it|its|they|them|their|this|that|these|those)\b", re.IGNORECASE)
EN_WHAT_ABOUT = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(.+?)[\s?.!]*$|^\s*and\s+(.+?)[\s?.!]*$", re.IGNORECASE)
_POSSESSIVE = {"its", "their"}


def user_questions(history: Iterable[Any] | None) -> list[str]:
    """The user's earlier questions from ``[{role, content}]`` messages, ``(question, answer)`` pairs or strings."""
    questions: list[str] = []
    for item in history or []:
        if isinstance(item, dict):
            if item.get("role", "user") == "user" and str(item.get("content", "")).strip():
                questions.append(str(item["content"]).strip())
        elif isinstance(item, (list, tuple)) and item:
            questions.append(str(item[0]).strip())
        elif isinstance(item, str) and item.strip():
            questions.append(item.strip())
    return [q for q in questions if q]


def topic(question: str) -> str:
    """The subject of a question: the run of adjacent keywords around its most distinctive keyword."""
    words = keywords(question)
    if not words:
        return ""
    import jieba

    tokens = [t for t in jieba.cut(question) if t.strip()]
    keyset = set(words)
    is_zh = has_cjk(question)
    # Chinese: jieba's TF-IDF order puts the most distinctive word first; English: the object comes last.
    best = words[0] if is_zh else next((t for t in reversed(tokens) if t.lower() in keyset), words[0])
    if not is_zh:
        tokens = [t for t in tokens if t.isalnum()]
    index = next((i for i, t in enumerate(tokens) if t == best), None)
    if index is None:
        return best
    start, end = index, index + 1
    while start > 0 and tokens[start - 1].lower() in keyset:
        start -= 1
    while end < len(tokens) and tokens[end].lower() in keyset:
        end += 1
    return ("" if is_zh else " ").join(tokens[start:end])


def _is_bare_phrase(core: str) -> bool:
    """True when ``core`` is only keywords (a noun phrase such as 刑期 or 抢劫罪), no question words."""
    import jieba

    tokens = [t for t in jieba.cut(core) if t.strip() and t != "的"]
    words = set(keywords(core))
    return 0 < len(tokens) <= 3 and all(t in words and t not in BOILERPLATE_ZH for t in tokens)


def _rewrite_zh(question: str, previous: str, subject: str) -> str:
    body = ZH_LEAD.sub("", question)
    if ZH_PRONOUN.search(body):
        return ZH_PRONOUN.sub(subject, body, count=1)
    core = ZH_TAIL.sub("", body)
    if body.rstrip("？?。 ").endswith("呢") and _is_bare_phrase(core):
        if core[-1] == subject[-1] and core != subject:
            return previous.replace(subject, core, 1)  # same kind of thing: 盗窃罪 → 抢劫罪
        return f"{subject}的{body}"
    if body != question.strip():  # led by 那 / 还有 / 另外: continues the topic
        return f"{subject}，{body}"
    return question


def _rewrite_en(question: str, previous: str, subject: str) -> str:
    if EN_PRONOUN.search(question):
        def repl(m: re.Match[str]) -> str:
            return f"{subject}'s" if m.group(1).lower() in _POSSESSIVE else subject
        return EN_PRONOUN.sub(repl, question, count=1)
    swap = EN_WHAT_ABOUT.match(question)
    if swap:
        return previous.replace(subject, (swap.group(1) or swap.group(2)).strip(), 1)
    return question


def rewrite_followup(question: str, previous: str) -> str:
    """``question`` made standalone using the (already standalone) ``previous`` question."""
    subject = topic(previous)
    if not subject or subject in question:
        return question
    return (_rewrite_zh if has_cjk(question) else _rewrite_en)(question, previous, subject)


def standalone_question(question: str, history: Iterable[Any] | None) -> str:
    """Resolve ``question`` against the conversation so far (each earlier question resolved in turn)."""
    previous = ""
    for earlier in user_questions(history):
        previous = rewrite_followup(earlier, previous) if previous else earlier
    return rewrite_followup(question, previous) if previous else question
