"""Chinese numerals: ``一百零八`` → 108, ``三万`` → 30000, ``二〇二〇`` → 2020; statute article labels: 第N条."""

from __future__ import annotations

import re

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_LARGE_UNITS = {"万": 10**4, "亿": 10**8}
NUMERAL = r"[零〇一二两三四五六七八九十百千万\d]+"
ARTICLE = re.compile(rf"第\s*({NUMERAL})\s*条(?:之\s*({NUMERAL}))?")


def chinese_numeral(text: str) -> int:
    """The value of a Chinese (or Arabic) numeral; digits without units read one by one (``二〇二〇``).

    ValueError when ``text`` is empty or holds anything else.
    """
    text = text.strip()
    if text.isdecimal():  # Arabic digits, full-width ones too
        return int(text)
    if not text or any(c not in _DIGITS and c not in _SMALL_UNITS and c not in _LARGE_UNITS for c in text):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    if not any(c in _SMALL_UNITS or c in _LARGE_UNITS for c in text):
        return int("".join(str(_DIGITS[c]) for c in text))
    total = section = digit = 0
    for char in text:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char in _SMALL_UNITS:
            section += (digit or 1) * _SMALL_UNITS[char]
            digit = 0
        elif char == "万":
            total += (section + digit) * _LARGE_UNITS[char]
            section = digit = 0
        else:  # 亿 scales everything before it
            total = (total + section + digit) * _LARGE_UNITS[char]
            section = digit = 0
    return total + section + digit


def article_number(label: str) -> tuple[int, int | None] | None:
    """The first article a label names: ``第一百三十三条之一`` → (133, 1), ``第56条`` → (56, None); None if none."""
    match = ARTICLE.search(label)
    if not match:
        return None
    try:
        return chinese_numeral(match.group(1)), chinese_numeral(match.group(2)) if match.group(2) else None
    except ValueError:
        return None


def chinese_number(value: int) -> str:
    """How statutes write a number from 1 to 9999: 10 → 十, 108 → 一百零八, 264 → 二百六十四, 1010 → 一千零一十."""
    if not 0 < value < 10_000:
        raise ValueError(f"not an article number: {value}")
    digits = "零一二三四五六七八九"
    out, pending_zero = "", False
    for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = value // unit % 10
        if digit == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out += "零"
            pending_zero = False
        out += ("" if unit == 10 and digit == 1 and not out else digits[digit]) + name
    return out


def article_labels(number: int, suffix: int | None = None) -> list[str]:
    """The ways a chunk's article label may spell article ``number`` (之 ``suffix``): 第二百六十四条 and 第264条."""
    tail = f"之{chinese_number(suffix)}" if suffix else ""
    return [f"第{chinese_number(number)}条{tail}", f"第{number}条{tail}"]
