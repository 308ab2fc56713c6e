"""LawBench 3-2 gold parsing: which law and which article answers each scenario question."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
ARTICLE = re.compile(r"第([一二三四五六七八九十百千零〇两\d]+)条")


def cn_to_int(text: str) -> int:
    """Chinese (or Arabic) numeral → int: 五十六 → 56, 一百零三 → 103, 十二 → 12."""
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            total += (current or 1) * _CN_UNITS[ch]
            current = 0
    return total + current


def short_title(title: str) -> str:
    """中华人民共和国公司法 → 公司法; drops a trailing date in parentheses."""
    title = re.sub(r"[（(]\d{4}.*?[)）]$", "", title.strip())
    return title.removeprefix("中华人民共和国")


@dataclass(frozen=True)
class Gold:
    law: str        # short title, e.g. 农民专业合作社法
    article: int    # article number, e.g. 56


def parse_gold(answer: str, known_laws: list[str]) -> Gold | None:
    """Find the law (longest known short title named before the article) and the article number."""
    match = ARTICLE.search(answer)
    if not match:
        return None
    prefix = answer[: match.start()]
    named = [law for law in known_laws if law in prefix]
    if not named:
        return None
    # the law named closest to the article wins; among those, the longest name
    law = max(named, key=lambda name: (prefix.rfind(name) + len(name), len(name)))
    return Gold(law, cn_to_int(match.group(1)))


def load_lawbench(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


def hit_matches(hit_title: str, hit_article: str | None, gold: Gold) -> bool:
    """A retrieved chunk answers the question when it is the gold article of the gold law."""
    if not hit_article or short_title(hit_title) != gold.law:
        return False
    match = ARTICLE.match(hit_article)
    return bool(match) and cn_to_int(match.group(1)) == gold.article
