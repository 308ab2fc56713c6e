"""Pull the final answer out of generated text: a multiple-choice option or a number."""

from __future__ import annotations

import re

_OPTION = "A-H"
# Most explicit first: "[正确答案]B<eoa>", "正确答案：B", "答案是 B", "故选 B", "the answer is (B)".
_CHOICE_PATTERNS = [
    re.compile(rf"\[正确答案\]\s*([{_OPTION}](?:[\s,，、和及]*[{_OPTION}])*)"),
    re.compile(rf"(?:正确答案|正确选项|答案|选项)\s*(?:应该|应当|应)?\s*(?:是|为|选)?\s*[:：]?\s*[（(]?\s*([{_OPTION}](?:[\s,，、和及]*[{_OPTION}])*)(?![A-Za-z])"),
    re.compile(rf"(?:故|所以|因此|应|只能|本题)?选\s*[:：]?\s*[（(]?\s*([{_OPTION}](?:[\s,，、和及]*[{_OPTION}])*)(?![A-Za-z])"),
    re.compile(rf"answer\s*(?:is|:)\s*[(（]?\s*([{_OPTION}](?:\s*(?:,|and)\s*[{_OPTION}])*)\b", re.I),
    re.compile(rf"(?<![A-Za-z])([{_OPTION}])\s*(?:项|选项)?\s*(?:是|为)?\s*(?:正确|符合题意)"),
]
_LONE_OPTION = re.compile(rf"(?<![A-Za-z])([{_OPTION}])(?![A-Za-z])")
_NUMBER = re.compile(r"(?<![\d.])-?\d+(?:,\d{3})*(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?\s*(万亿|亿|万|千)?")
_SCALE = {"万亿": 1e12, "亿": 1e8, "万": 1e4, "千": 1e3}
_FINAL_MARKERS = [
    re.compile(r"####\s*(.+)"),
    re.compile(r"\\boxed\{([^{}]*)\}"),
    re.compile(r"(?:最终答案|答案|结果)\s*(?:是|为|[:：=])\s*(.+)"),
    re.compile(r"answer\s*(?:is|:)\s*(.+)", re.I),
]


def extract_choices(text: str) -> list[str]:
    """Option letters a response commits to (sorted, unique); [] when it names none clearly."""
    text = text.strip()
    if not text:
        return []
    for pattern in _CHOICE_PATTERNS:
        matches = pattern.findall(text)
        if matches:
            return sorted(set(re.findall(f"[{_OPTION}]", matches[-1].upper())))
    compact = re.sub(r"[\s.。、,，()（）:：]", "", text)
    if re.fullmatch(f"[{_OPTION}]+", compact):
        return sorted(set(compact))
    lone = set(_LONE_OPTION.findall(text))
    return sorted(lone) if len(lone) == 1 else []


def extract_choice_sequence(text: str) -> list[str]:
    """Option letters in the order a response names them (multi-blank items: "1.B 2.D 3.A" → B, D, A)."""
    return _LONE_OPTION.findall(text.upper())


def _to_float(match: re.Match[str]) -> float | None:
    raw = match.group(0)
    unit = match.group(1)
    body = raw[: len(raw) - len(unit)] if unit else raw
    body = body.replace(",", "").replace(" ", "")
    try:
        if "/" in body:
            top, bottom = body.split("/")
            value = float(top) / float(bottom)
        else:
            value = float(body)
    except (ValueError, ZeroDivisionError):
        return None
    return value * _SCALE[unit] if unit else value


def extract_number(text: str) -> float | None:
    """The final numeric answer: after "####", in \\boxed{}, after "答案是", else the last number in the text.

    Thousands separators are dropped ("1,234" → 1234), "a/b" is divided and 万/亿 scale the number.
    """
    if text is None:
        return None
    text = str(text)
    for marker in _FINAL_MARKERS:
        found = marker.findall(text)
        if found:
            numbers = list(_NUMBER.finditer(found[-1]))
            if numbers:
                return _to_float(numbers[0])
    numbers = list(_NUMBER.finditer(text))
    return _to_float(numbers[-1]) if numbers else None


def decimals(text: str) -> int | None:
    """How many decimals the first number in ``text`` is written with ("71.28元" → 2)."""
    match = _NUMBER.search(str(text))
    if not match:
        return None
    body = match.group(0).split("/")[0]
    return len(body.split(".")[1].rstrip("万亿千 ")) if "." in body else 0
