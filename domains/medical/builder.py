"""Medical pack builder (in the manner of BenTsao / DoctorGLM): medical Q&A passages and ShareGPT
dialogues → question/answer pairs; medical statutes (药品管理法, 医师法 ...) → definitions and duties."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from domainrag.instruct.records import Example
from domainrag.instruct.sources import jsonl_records, sharegpt_turns, statute_articles
from domainrag.instruct.statute_tasks import statute_examples

_GREETING = re.compile(r"^(?:(?:医生|大夫)?(?:你好|您好)[，,！!。\s]*)+")
_SIGNOFF = re.compile(r"(?:祝您?(?:早日康复|身体健康)[。！!]?|希望(?:我的回答|以上)[^。]*。?)\s*$")


def _clean_question(text: str) -> str:
    """Patient questions often repeat the title before the body: keep one copy, drop greetings."""
    text = _GREETING.sub("", text.strip())
    title, sep, body = text.partition("，")
    if sep and body.startswith(title):
        text = body
    return text.strip()


def _clean_answer(text: str) -> str:
    return _SIGNOFF.sub("", _GREETING.sub("", text.strip())).strip()


def build(source: Path, settings: dict) -> Iterator[Example]:
    """Q&A records (问/答), dialogues (ShareGPT ``conversations``) and statute articles under ``source``."""
    max_turns = int(settings.get("max_turns", 2))
    for name, number, obj in jsonl_records(source):
        if "问" in obj and "答" in obj:
            yield Example(_clean_question(str(obj["问"])), _clean_answer(str(obj["答"])),
                          source=f"{name}#{number}", task="qa")
        elif "conversations" in obj:
            for turn, (question, answer) in enumerate(sharegpt_turns(obj)[:max_turns]):
                yield Example(_clean_question(question), _clean_answer(answer), source=f"{name}#{number}",
                              task="dialogue" if turn == 0 else "dialogue-followup")
    tasks = tuple(settings.get("tasks", ("define", "extract", "recite", "locate")))
    yield from statute_examples(list(statute_articles(source)), tasks)
