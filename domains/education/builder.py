"""Education pack builder (in the manner of EduChat): GAOKAO questions with their answers and worked
analyses → tutoring pairs; education statutes (教育法, 义务教育法, 高等教育法 ...) → definition,
duty and which-article pairs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from domainrag.instruct.records import Example
from domainrag.instruct.sources import exam_text, json_examples, jsonl_records, statute_articles
from domainrag.instruct.statute_tasks import statute_examples



def _answer_text(answer: object) -> str:
    return "".join(str(a) for a in answer) if isinstance(answer, list) else str(answer or "")


def exam_pair(obj: dict, source: str, subject: str = "") -> Example | None:
    """A GAOKAO item → "question" → "答案：… 解析：…" (the analysis is the tutoring part)."""
    question, analysis = exam_text(obj.get("question", "")), exam_text(obj.get("analysis", ""))
    answer = _answer_text(obj.get("answer")).strip()
    if not question or not answer or not analysis:
        return None
    prefix = f"（高考{subject}）" if subject else ""
    return Example(prefix + question, f"答案：{answer}\n解析：{analysis}", source=source, task="gaokao")


def build(source: Path, settings: dict) -> Iterator[Example]:
    """GAOKAO items (JSONL from the pack corpus or GAOKAO-Bench .json files) and statute articles."""
    for name, number, obj in jsonl_records(source):
        if "question" in obj and "analysis" in obj:
            example = exam_pair(obj, f"{name}#{obj.get('id', number)}", str(obj.get("subject", "")))
            if example:
                yield example
    for name, number, obj in json_examples(source):
        if "question" in obj and "analysis" in obj:
            example = exam_pair(obj, f"{name}#{number}")
            if example:
                yield example
    tasks = tuple(settings.get("tasks", ("define", "extract", "recite", "locate", "complete")))
    yield from statute_examples(list(statute_articles(source)), tasks)
