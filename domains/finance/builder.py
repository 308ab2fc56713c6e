"""Finance pack builder (in the manner of Cornucopia): financial statutes and FinEval articles → extraction pairs.

- statutes (证券法, 商业银行法, 保险法 ...): blank-filling extraction of amounts and time limits,
  definitions, recitation and which-article questions;
- FinEval "Financial Rigor Test" index extraction: question + the retrieved passage that holds the
  figure → the sentence stating it; numerical calculation: question + passage → formula and result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from domainrag.instruct.records import Example
from domainrag.instruct.sources import csv_rows, statute_articles
from domainrag.instruct.statute_tasks import statute_examples

QA_INSTRUCTION = "根据资料回答：{question}"
_FIGURE = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:%|万亿|亿|万)?")
_DATE = re.compile(r"\d{4}年(?:\d{1,2}月)?(?:\d{1,2}日)?|\d{1,2}月\d{1,2}日|\d{1,2}时\d{1,2}分")
_CONTEXT_START = re.compile(r"检索内容是：")
_CONTEXT_END = re.compile(r"\n当前时间是|\n请根据检索内容")


def _context(prompt: str) -> str:
    """The retrieved articles inside a FinEval prompt (without its instructions)."""
    start = _CONTEXT_START.search(prompt)
    text = prompt[start.end():] if start else prompt
    end = _CONTEXT_END.search(text)
    return (text[: end.start()] if end else text).strip()


def _window(context: str, needle: str, width: int) -> str:
    """About ``width`` characters of ``context`` around the first ``needle``, cut at punctuation."""
    at = context.find(needle)
    if at < 0:
        return ""
    start = max(0, at - width // 2)
    stop = min(len(context), at + len(needle) + width // 2)
    left = max(context.rfind(mark, start, at) for mark in "；。，、 \n")
    right = [p for p in (context.find(mark, at + len(needle), stop) for mark in "；。，、\n") if p >= 0]
    return context[(left + 1 if left >= start else start): (min(right) + 1 if right else stop)].strip()


def _figures(text: str) -> list[str]:
    """Numbers in ``text`` (dates left out), decimals first, then longest first."""
    text = _DATE.sub("", text)
    found = {m.group(0) for m in _FIGURE.finditer(text) if len(m.group(0)) >= 2}
    return sorted(found, key=lambda f: ("." not in f, -len(f)))


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


def _best_fact(question: str, facts: list) -> str:
    """The reference fact that shares most wording with the question (the first one on ties)."""
    wanted = _bigrams(question)
    scored = [(len(wanted & _bigrams(_DATE.sub("", str(f)))), -i, str(f).strip()) for i, f in enumerate(facts)]
    return max(scored)[2]


def fineval_index(name: str, number: int, row: dict, width: int) -> Example | None:
    """Question + the passage holding the first reference fact's figure → that fact."""
    try:
        facts = json.loads(row.get("参考答案") or "[]")
    except json.JSONDecodeError:
        return None
    if not facts or not isinstance(facts, list):
        return None
    question = row.get("端到端query", "").strip()
    fact = _best_fact(question, facts)
    context = _context(row.get("基座大模型query", ""))
    passage = next((w for w in (_window(context, f, width) for f in _figures(fact)) if w), "")
    if not passage:
        return None
    return Example(QA_INSTRUCTION.format(question=question), fact, input=passage, source=f"{name}#{number}",
                   task="fineval-extract")


def fineval_calculation(name: str, number: int, row: dict, width: int) -> Example | None:
    """Question + the passage holding the operands → the formula and the result."""
    logic, answer = (row.get("题目答案计算逻辑") or "").strip(), (row.get("标准答案") or "").strip()
    context = _context(row.get("基座query", ""))
    question = row.get("端到端query", "").strip()
    operands = [f for f in _figures(logic) if f in context and f not in question]
    passage = _window(context, operands[0], width) if operands else ""
    if not (logic and answer and passage):
        return None
    return Example(QA_INSTRUCTION.format(question=question), f"{logic} = {answer}", input=passage,
                   source=f"{name}#{number}", task="fineval-calc")


def build(source: Path, settings: dict) -> Iterator[Example]:
    """Statute extraction pairs plus FinEval rows found under ``source``."""
    tasks = tuple(settings.get("tasks", ("extract", "define", "recite", "locate")))
    yield from statute_examples(list(statute_articles(source)), tasks)
    width = int(settings.get("passage_chars", 60))
    for name, number, row in csv_rows(source):
        if "参考答案" in row:
            example = fineval_index(name, number, row, width)
        elif "题目答案计算逻辑" in row:
            example = fineval_calculation(name, number, row, width)
        else:
            continue
        if example:
            yield example
