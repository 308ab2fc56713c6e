"""Pairwise judging (PandaLM style): a judge model behind an OpenAI-compatible endpoint compares two
configurations' answers to the same question.

Position bias is controlled by asking twice with the answers swapped. A configuration wins a question only
when the judge prefers it in both orders; a tie in either order, or a preference that follows the position,
is a tie. ``position_consistency`` is the share of questions where both orders agree.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from domainrag.errors import ConfigError, ModelError

SYSTEM_PROMPT = ("You are a careful, impartial judge of answers from a domain assistant. Judge which response "
                 "answers the question better: correct, supported by the law/facts, complete, and concise. "
                 "Ignore the order in which the responses are shown and their length as such.")
USER_TEMPLATE = """Question:
{question}
{reference}
### Response 1:
{first}

### Response 2:
{second}

Which response is better? Reply on the first line with exactly one of: 1, 2, Tie. Then give one short reason."""
_VERDICT = re.compile(r"^\s*(?:[#*\s]*)(?:response\s*|回答\s*|答案\s*)?(1|2|tie|平局|相当)\b", re.I)


def parse_verdict(text: str) -> str | None:
    """"1", "2" or "tie" from the judge's first line; None when it says none of them."""
    for line in (text or "").strip().splitlines()[:2]:
        match = _VERDICT.match(line)
        if match:
            token = match.group(1).lower()
            return token if token in ("1", "2") else "tie"
    return None


@dataclass
class PairVerdict:
    """One question judged in both orders. ``winner``: "A", "B" or "tie"."""

    id: str
    winner: str
    a_first: str | None   # verdict with A shown as response 1
    b_first: str | None   # verdict with B shown as response 1
    raw: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return _to_side(self.a_first, "A") == _to_side(self.b_first, "B") and self.a_first is not None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "winner": self.winner, "a_first": self.a_first, "b_first": self.b_first,
                "consistent": self.consistent, "raw": self.raw}


def _to_side(verdict: str | None, first: str) -> str | None:
    """Map a positional verdict to a configuration, given which one was shown first."""
    if verdict in (None, "tie"):
        return verdict
    second = "B" if first == "A" else "A"
    return first if verdict == "1" else second


def combine(a_first: str | None, b_first: str | None) -> str:
    """A configuration wins only when preferred in both orders; anything else is a tie."""
    side_1, side_2 = _to_side(a_first, "A"), _to_side(b_first, "B")
    return side_1 if side_1 in ("A", "B") and side_1 == side_2 else "tie"


@dataclass
class JudgeSummary:
    """Win / tie / loss counts (from B's side: B is the candidate, A the baseline) and bias diagnostics."""

    verdicts: list[PairVerdict]

    def to_dict(self) -> dict[str, Any]:
        n = len(self.verdicts)
        b_wins = sum(v.winner == "B" for v in self.verdicts)
        a_wins = sum(v.winner == "A" for v in self.verdicts)
        positional = [v for pair in self.verdicts for v in (pair.a_first, pair.b_first) if v in ("1", "2")]
        return {"questions": n, "b_wins": b_wins, "ties": n - a_wins - b_wins, "b_losses": a_wins,
                "b_win_rate": b_wins / n if n else None,
                "position_consistency": sum(v.consistent for v in self.verdicts) / n if n else None,
                "first_position_preference": (positional.count("1") / len(positional)) if positional else None,
                "unparsed": sum(v is None for pair in self.verdicts for v in (pair.a_first, pair.b_first)),
                "verdicts": [v.to_dict() for v in self.verdicts]}


class PairwiseJudge:
    """A judge model reached through the ``openai`` client (any OpenAI-compatible server)."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 120.0,
                 max_tokens: int = 64) -> None:
        if not base_url or not model:
            raise ConfigError("pairwise judging needs --judge-url (OpenAI-compatible base URL, e.g. "
                              "http://localhost:8000/v1) and --judge-model")
        from openai import OpenAI

        self.base_url, self.model, self.max_tokens = base_url, model, max_tokens
        key = api_key or os.environ.get("DOMAINRAG_JUDGE_API_KEY") or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self.client = OpenAI(base_url=base_url, api_key=key, timeout=timeout, max_retries=1)

    def ask(self, question: str, first: str, second: str, reference: str | None = None) -> str:
        """The judge's raw reply for one ordering."""
        import openai

        reference_block = f"\nReference answer (may be incomplete):\n{reference}\n" if reference else ""
        messages = [{"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": USER_TEMPLATE.format(question=question, reference=reference_block,
                                                                     first=first, second=second)}]
        try:
            response = self.client.chat.completions.create(model=self.model, messages=messages, temperature=0,
                                                           max_tokens=self.max_tokens)
        except openai.APIConnectionError as exc:
            raise ModelError(f"judge endpoint {self.base_url} unreachable ({exc}); start it or fix --judge-url") from None
        except openai.APIStatusError as exc:
            raise ModelError(f"judge endpoint {self.base_url} refused the request (HTTP {exc.status_code}: "
                             f"{exc.message}); check --judge-model and --judge-key") from None
        return response.choices[0].message.content or ""

    def judge(self, item_id: str, question: str, answer_a: str, answer_b: str,
              reference: str | None = None) -> PairVerdict:
        """Both orders, combined (see ``combine``)."""
        raw_a = self.ask(question, answer_a, answer_b, reference)
        raw_b = self.ask(question, answer_b, answer_a, reference)
        a_first, b_first = parse_verdict(raw_a), parse_verdict(raw_b)
        return PairVerdict(item_id, combine(a_first, b_first), a_first, b_first, [raw_a, raw_b])


def judge_runs(judge: PairwiseJudge, rows_a: Iterable[dict[str, Any]], rows_b: Iterable[dict[str, Any]],
               references: dict[str, str] | None = None, limit: int | None = None,
               on_pair: Callable[[int, int], None] | None = None) -> JudgeSummary:
    """Judge the questions both runs answered (rows as written by ``run_eval``; A = baseline, B = candidate)."""
    answers_b = {r["id"]: r for r in rows_b if (r.get("answer") or {}).get("text")}
    pairs = [(r, answers_b[r["id"]]) for r in rows_a if (r.get("answer") or {}).get("text") and r["id"] in answers_b]
    if not pairs:
        raise ConfigError("the two runs have no answered questions in common; run both with answers "
                          "(--answers all) on the same set")
    pairs = pairs[:limit] if limit else pairs
    verdicts = []
    for n, (row_a, row_b) in enumerate(pairs, start=1):
        reference = (references or {}).get(row_a["id"])
        verdicts.append(judge.judge(row_a["id"], row_a["question"], row_a["answer"]["text"], row_b["answer"]["text"],
                                    reference))
        if on_pair is not None:
            on_pair(n, len(pairs))
    return JudgeSummary(verdicts)
