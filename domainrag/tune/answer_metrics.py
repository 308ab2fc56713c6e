"""Answer metrics for the training card: how base and adapter answer the grounded (``rag-*``) validation examples.

A grounded example's prompt holds numbered passages (``[n] header`` then the text) and the question; its target is
the lead naming the gold passage (``根据《刑法》第二百六十四条的规定[2]，``) and the clause that answers, or the
pack's refusal when the gold passage was left out. Each model writes its own answer, greedily and without the
lead that the answer chain would put in front, so the figures show what the model itself learned: whether it
picks the passage that answers (cites-gold), cites a given passage at all (cites-any), names articles its cited
passages do not hold (unsupported), refuses when it should, and its ROUGE-L against the target (jieba words, as
LawBench scores answers).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from domainrag.chain.citations import cited_numbers
from domainrag.chain.grounding import unsupported_mentions
from domainrag.instruct.records import Example
from domainrag.numerals import ARTICLE

_PASSAGE = re.compile(r"(?:^|\n)\[(\d+)\] ?([^\n]*)\n(.*?)(?=\n\n\[\d+\] |\n\n\S+[：:]|\Z)", re.S)


@dataclass(frozen=True)
class Passage:
    """One numbered passage of a grounded prompt."""

    number: int
    title: str
    article: str
    text: str


def prompt_passages(prompt: str) -> list[Passage]:
    """The numbered passages of a grounded prompt; the article is the label its text starts with (第N条)."""
    passages = []
    for match in _PASSAGE.finditer(prompt):
        text = match.group(3).strip()
        label = ARTICLE.match(text)
        passages.append(Passage(int(match.group(1)), match.group(2).strip(), label.group(0) if label else "", text))
    return passages


def is_grounded(example: Example) -> bool:
    """A ``rag-*`` example: its prompt holds numbered passages."""
    return len(prompt_passages(example.prompt)) >= 1


def _score_one(answer: str, example: Example, refusal: str) -> dict[str, float]:
    passages = {p.number: p for p in prompt_passages(example.prompt)}
    cited = [n for n in cited_numbers(answer) if n in passages]
    wants_refusal = bool(refusal) and example.output.strip() == refusal.strip()
    scores: dict[str, float] = {"refusal_expected": float(wants_refusal)}
    refused = bool(refusal) and answer.strip().startswith(refusal.strip()[:8])
    if wants_refusal:
        scores["refused_when_expected"] = float(refused)
        return scores
    from domainrag.evaluate.metrics import rouge_l_words

    gold = set(cited_numbers(example.output[:80]))  # the target's lead names the gold passage
    cited_passages = [(passages[n].title, passages[n].article, passages[n].text) for n in cited]
    scores.update(rouge_l_words=rouge_l_words(answer, example.output), cites_any=float(bool(cited)),
                  cites_gold=float(bool(gold & set(cited))), refused=float(refused),
                  unsupported_mentions=float(bool(unsupported_mentions(answer, cited_passages))))
    return scores


def answer_metrics(answers: Sequence[str], examples: Sequence[Example], refusal: str) -> dict[str, float | int]:
    """Means over the examples that expect an answer, the refusal rate where a refusal is expected, and counts."""
    rows = [_score_one(answer, example, refusal) for answer, example in zip(answers, examples)]
    answered = [row for row in rows if not row["refusal_expected"]]
    refusing = [row for row in rows if row["refusal_expected"]]
    metrics: dict[str, float | int] = {"examples": len(rows), "answer_expected": len(answered)}
    for name in ("rouge_l_words", "cites_gold", "cites_any", "unsupported_mentions", "refused"):
        if answered:
            metrics[name] = round(statistics.fmean(row[name] for row in answered), 4)
    if refusing:
        metrics["refused_when_expected"] = round(statistics.fmean(row["refused_when_expected"] for row in refusing), 4)
    return metrics


def grounded_answer_metrics(write: Callable[[list[Example]], list[str]], examples: Sequence[Example], refusal: str,
                            limit: int) -> dict[str, float | int] | None:
    """``answer_metrics`` of what ``write`` (a model's greedy answers) makes of the first ``limit`` grounded
    examples; None when there are none (a data set without the rag task)."""
    grounded = [example for example in examples if is_grounded(example)][:limit]
    if not grounded:
        return None
    return answer_metrics(write(grounded), grounded, refusal)
