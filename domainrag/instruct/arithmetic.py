"""Generated arithmetic with exactly computed answers (integers, decimals, fractions; + − × ÷; mixed),
in the manner of chatglm-maths, plus the answer extraction used to score exact match.

Answers are computed with ``fractions.Fraction`` and written as an integer, a terminating decimal or a
reduced fraction ``p/q``; each solution shows short steps and ends with ``答案：<value>``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

SYMBOL = {"+": "+", "-": "-", "*": "×", "/": "÷"}
QUESTION_TEMPLATES = ("计算：{e}", "{e} = ?", "请计算 {e} 的值。", "{e}等于多少？", "求 {e} 的结果。",
                      "What is {e}?", "Calculate {e}.")
_NUMBER = r"-?\d+(?:\.\d+)?(?:/\d+)?"
_ANSWER = re.compile(rf"(?:答案|[Aa]nswer|结果)\s*(?:is|是|为|=)?\s*[:：]?\s*\$?\s*({_NUMBER})")
_AFTER_EQUALS = re.compile(rf"=\s*\$?\s*({_NUMBER})")
_ANY_NUMBER = re.compile(_NUMBER)
_LATEX_FRAC = re.compile(r"\\d?frac\{(-?\d+)\}\{(\d+)\}")


@dataclass(frozen=True)
class Problem:
    """An arithmetic question, its worked solution and exact value."""

    kind: str
    expression: str
    question: str
    solution: str
    value: Fraction


def fmt(value: Fraction, decimal: bool = False) -> str:
    """Integer, terminating decimal (when ``decimal``) or reduced ``p/q``."""
    if value.denominator == 1:
        return str(value.numerator)
    if decimal:
        text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{value.numerator}/{value.denominator}"


def _operand(value: Fraction, decimal: bool) -> str:
    text = fmt(value, decimal)
    return f"({text})" if text.startswith("-") else text


def _apply(op: str, a: Fraction, b: Fraction) -> Fraction:
    return {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[op]


def _binary_steps(op: str, a: Fraction, b: Fraction, decimal: bool) -> list[str]:
    """Intermediate steps for one operation (shown between the expression and its value)."""
    if not decimal and (a.denominator > 1 or b.denominator > 1):
        if op in "+-":
            if a.denominator == b.denominator:
                raw = (a.numerator + b.numerator if op == "+" else a.numerator - b.numerator, a.denominator)
                return [f"{raw[0]}/{raw[1]}"]
            common = a.denominator * b.denominator
            left, right = a.numerator * b.denominator, b.numerator * a.denominator
            raw = (left + right if op == "+" else left - right, common)
            return [f"{left}/{common} {SYMBOL[op]} {right}/{common}", f"{raw[0]}/{raw[1]}"]
        if op == "/":
            return [f"{_operand(a, False)} × {_operand(1 / b, False)}", *_binary_steps("*", a, 1 / b, False)]
        if op == "*":
            return [f"({a.numerator}×{b.numerator})/({a.denominator}×{b.denominator})",
                    f"{a.numerator * b.numerator}/{a.denominator * b.denominator}"]
    if op == "*" and not decimal and a.denominator == b.denominator == 1 and abs(b) >= 11 and abs(b) % 10:
        tens, ones = int(b) // 10 * 10, int(b) % 10
        return [f"{fmt(a)} × {tens} + {fmt(a)} × {ones}", f"{fmt(a * tens)} + {fmt(a * ones)}"]
    return []


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _render(a: Fraction, op: str, b: Fraction, decimal: bool) -> str:
    return f"{_operand(a, decimal)} {SYMBOL[op]} {_operand(b, decimal)}"


def _single(kind: str, a: Fraction, op: str, b: Fraction, rng: random.Random, decimal: bool) -> Problem:
    value = _apply(op, a, b)
    expression = _render(a, op, b, decimal)
    chain = [expression, *_binary_steps(op, a, b, decimal), fmt(value, decimal)]
    solution = " = ".join(dict.fromkeys(chain)) + f"\n答案：{fmt(value, decimal)}"
    question = rng.choice(QUESTION_TEMPLATES).format(e=expression)
    return Problem(kind, expression, question, solution, value)


def _integers(rng: random.Random) -> Problem:
    op = rng.choice("+-*/")
    if op in "+-":
        a, b = rng.randint(2, 199), rng.randint(2, 199)
    elif op == "*":
        a, b = rng.randint(2, 30), rng.randint(2, 19)
    else:
        b, q = rng.randint(2, 12), rng.randint(2, 20)
        a = b * q
    return _single("integer", Fraction(a), op, Fraction(b), rng, decimal=False)


def _decimals(rng: random.Random) -> Problem:
    op = rng.choice("+-*/")
    a = Fraction(rng.randint(1, 999), 10)
    b = Fraction(rng.randint(1, 99), rng.choice([1, 10]))
    if op == "*":
        b = Fraction(rng.randint(2, 9))
    elif op == "/":  # dividend = divisor × quotient keeps the quotient a short decimal
        b = Fraction(rng.choice([2, 4, 5, 10]))
        a = b * Fraction(rng.randint(1, 99), 10)
    return _single("decimal", a, op, b, rng, decimal=True)


def _fractions(rng: random.Random) -> Problem:
    op = rng.choice("+-*/")
    a = Fraction(rng.randint(1, 8), rng.randint(2, 9))
    b = Fraction(rng.randint(1, 8), rng.randint(2, 9))
    if a.denominator == 1:
        a = Fraction(a.numerator, a.numerator + 1)
    if b.denominator == 1:
        b = Fraction(b.numerator, b.numerator + 1)
    return _single("fraction", a, op, b, rng, decimal=False)


def _mixed(rng: random.Random) -> Problem:
    """Three integers, two operators, optional parentheses; steps follow the order of operations."""
    while True:
        ops = [rng.choice("+-*/"), rng.choice("+-*")]
        nums = [Fraction(rng.randint(2, 20)) for _ in range(3)]
        parens = rng.random() < 0.35
        if ops[0] == "/":
            nums[1] = Fraction(rng.choice([2, 3, 4, 5, 6, 8, 10]))
            nums[0] = nums[1] * rng.randint(2, 12)
        try:
            problem = _mixed_problem(nums, ops, parens, rng)
        except ZeroDivisionError:
            continue
        if problem.value.denominator == 1 and abs(problem.value) <= 10_000:
            return problem


def _mixed_problem(nums: list[Fraction], ops: list[str], parens: bool, rng: random.Random) -> Problem:
    a, b, c = nums
    op1, op2 = ops
    high = {"*", "/"}
    if parens:
        expression = f"({fmt(a)} {SYMBOL[op1]} {fmt(b)}) {SYMBOL[op2]} {fmt(c)}"
        first = _apply(op1, a, b)
        steps = [f"{_operand(first, False)} {SYMBOL[op2]} {fmt(c)}"]
        value = _apply(op2, first, c)
    elif op2 in high and op1 not in high:
        second = _apply(op2, b, c)
        steps = [f"{fmt(a)} {SYMBOL[op1]} {_operand(second, False)}"]
        value = _apply(op1, a, second)
        expression = f"{fmt(a)} {SYMBOL[op1]} {fmt(b)} {SYMBOL[op2]} {fmt(c)}"
    else:
        first = _apply(op1, a, b)
        steps = [f"{_operand(first, False)} {SYMBOL[op2]} {fmt(c)}"]
        value = _apply(op2, first, c)
        expression = f"{fmt(a)} {SYMBOL[op1]} {fmt(b)} {SYMBOL[op2]} {fmt(c)}"
    solution = " = ".join([expression, *steps, fmt(value)]) + f"\n答案：{fmt(value)}"
    return Problem("mixed", expression, rng.choice(QUESTION_TEMPLATES).format(e=expression), solution, value)


GENERATORS: dict[str, Callable[[random.Random], Problem]] = {
    "integer": _integers, "decimal": _decimals, "fraction": _fractions, "mixed": _mixed,
}


def generate(count: int, seed: int = 0, kinds: tuple[str, ...] = tuple(GENERATORS),
             exclude: set[str] | None = None) -> Iterator[Problem]:
    """``count`` distinct problems, kinds in rotation; expressions in ``exclude`` are never produced."""
    rng = random.Random(seed)
    seen = set(exclude or ())
    produced = 0
    while produced < count:
        problem = GENERATORS[kinds[produced % len(kinds)]](rng)
        if problem.expression in seen:
            continue
        seen.add(problem.expression)
        produced += 1
        yield problem


def extract_answer(text: str) -> Fraction | None:
    """The value after the last ``答案：``/``Answer:``/``the answer is``; else the result after the last ``=``
    of the first line (``12 + 35 = 47, which …``); else the last number in the text."""
    text = _LATEX_FRAC.sub(r"\1/\2", text.replace(",", "").replace("，", " "))
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    matches = _ANSWER.findall(text) or _AFTER_EQUALS.findall(first_line) or _ANY_NUMBER.findall(text)
    if not matches:
        return None
    try:
        return Fraction(matches[-1])
    except (ValueError, ZeroDivisionError):
        return None


def is_correct(text: str, value: Fraction) -> bool:
    """Exact match of the extracted answer against the true value."""
    return extract_answer(text) == value
