"""Math pack builder (in the manner of chatglm-maths): generated arithmetic with exactly computed
answers (integers, decimals, fractions; + − × ÷; mixed with parentheses), plus GSM8K word problems and
GAOKAO math items with their worked solutions from the corpus."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from domainrag.instruct.arithmetic import generate
from domainrag.instruct.records import Example
from domainrag.instruct.sources import exam_text, json_examples, jsonl_records

_CALCULATOR = re.compile(r"<<[^>]*>>")
_FINAL = re.compile(r"\n?####\s*(.+)\s*$")


def gsm8k_pair(obj: dict, source: str) -> Example | None:
    """GSM8K: calculator annotations removed, ``#### 72`` → ``Answer: 72``."""
    question, answer = str(obj.get("question", "")).strip(), str(obj.get("answer", "")).strip()
    final = _FINAL.search(answer)
    if not question or not final:
        return None
    steps = _CALCULATOR.sub("", answer[: final.start()]).strip()
    return Example(question, f"{steps}\nAnswer: {final.group(1).strip()}", source=source, task="gsm8k")


def gaokao_pair(obj: dict, source: str) -> Example | None:
    """A GAOKAO math item → answer and worked analysis."""
    answer = obj.get("answer")
    answer = "".join(map(str, answer)) if isinstance(answer, list) else str(answer or "")
    question, analysis = exam_text(obj.get("question", "")), exam_text(obj.get("analysis", ""))
    if not (question and answer.strip() and analysis):
        return None
    return Example(question, f"答案：{answer.strip()}\n解析：{analysis}", source=source, task="gaokao-math")


def build(source: Path, settings: dict) -> Iterator[Example]:
    """Generated arithmetic (``arithmetic_count`` problems, ``seed``) and corpus word problems."""
    count, seed = int(settings.get("arithmetic_count", 3000)), int(settings.get("seed", 0))
    for index, problem in enumerate(generate(count, seed=seed)):
        yield Example(problem.question, problem.solution, source=f"generated:{problem.kind}#{index}",
                      task=f"arithmetic-{problem.kind}")
    for name, number, obj in jsonl_records(source):
        if "####" in str(obj.get("answer", "")):
            example = gsm8k_pair(obj, f"{name}#{number}")
        elif "analysis" in obj:
            example = gaokao_pair(obj, f"{name}#{obj.get('id', number)}")
        else:
            continue
        if example:
            yield example
    for name, number, obj in json_examples(source):
        if "analysis" in obj:
            example = gaokao_pair(obj, f"{name}#{number}")
            if example:
                yield example
