"""Numbers in a question, normalised: ``第二百六十四条`` → ``264条``, ``5,000元`` and ``五千块`` → ``5000元``.

Two questions that mention different quantities (an article, an amount, a year, a dose, an age) ask different
things, however similar their wording; the cache guard compares these normalised quantities exactly.
"""

from __future__ import annotations

import re

from domainrag.cache.lexicon import NOT_NUMBERS
from domainrag.numerals import chinese_numeral

_MULTIPLIERS = {"万": 10**4, "亿": 10**8, "千": 10**3, "百": 100, "k": 10**3, "thousand": 10**3,
                "million": 10**6, "billion": 10**9}
_EN_NUMBERS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_UNITS = {
    "个月": "月", "月": "月", "months": "月", "month": "月",
    "周岁": "岁", "岁": "岁", "years old": "岁",
    "年": "年", "years": "年", "year": "年",
    "日": "日", "天": "日", "days": "日", "day": "日",
    "小时": "小时", "hours": "小时", "hour": "小时", "分钟": "分钟", "minutes": "分钟",
    "周": "周", "星期": "周", "weeks": "周", "week": "周",
    "元": "元", "块钱": "元", "块": "元", "人民币": "元", "yuan": "元", "rmb": "元",
    "美元": "$", "dollars": "$", "dollar": "$", "usd": "$",
    "条": "条", "款": "款", "项": "项", "章": "章", "节": "节", "编": "编",
    "%": "%", "percent": "%", "per cent": "%", "‰": "‰",
    "毫克": "mg", "mg": "mg", "milligrams": "mg", "克": "g", "grams": "g", "g": "g",
    "毫升": "ml", "ml": "ml", "升": "l", "公斤": "kg", "千克": "kg", "kg": "kg", "斤": "斤",
    "次": "次", "times": "次", "倍": "倍", "度": "度", "型": "型", "级": "级", "期": "期",
    "人": "人", "名": "人", "people": "人", "persons": "人", "个": "个", "片": "片", "粒": "粒", "mmhg": "mmhg",
}
_ARTICLE_UNITS = {"条", "款", "项", "章", "节", "编"}

_ARABIC = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_CHINESE = r"[零〇一二两三四五六七八九十][零〇一二两三四五六七八九十百千万亿]*"
_UNIT_RE = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_QUANTITY = re.compile(
    rf"(?P<ord>第)?\s*(?P<cur>[$¥])?(?P<pct>百分之)?"
    rf"(?:(?P<arabic>{_ARABIC})|(?P<chinese>{_CHINESE})|\b(?P<word>{'|'.join(_EN_NUMBERS)})\b)"
    rf"\s*(?P<mult>万|亿|(?:k|thousand|million|billion)\b)?"
    rf"\s*(?P<unit>(?:{_UNIT_RE})(?![a-z]))?",
)


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


def _mask_not_numbers(text: str) -> str:
    for word in NOT_NUMBERS:
        if word in text:
            text = text.replace(word, "\x01" * len(word))
    return text


def extract_quantities(text: str) -> tuple[tuple[str, ...], str]:
    """Normalised quantities (sorted) and the text with those quantities blanked out.

    ``text`` should already be NFKC-normalised and lower-cased.
    """
    masked = _mask_not_numbers(text)
    found: list[str] = []
    pieces: list[str] = []
    last = 0
    for match in _QUANTITY.finditer(masked):
        if match.group("arabic"):
            value: float = float(match.group("arabic").replace(",", ""))
        elif match.group("chinese"):
            value = chinese_numeral(match.group("chinese"))
        else:
            value = _EN_NUMBERS[match.group("word")]
        if match.group("mult"):
            value *= _MULTIPLIERS[match.group("mult")]
        unit = _UNITS.get(match.group("unit") or "", "")
        if match.group("pct"):
            unit = "%"
        elif match.group("cur") and not unit:
            unit = "$" if match.group("cur") == "$" else "元"
        prefix = "第" if match.group("ord") and unit not in _ARTICLE_UNITS else ""
        found.append(f"{prefix}{_format(value)}{unit}")
        pieces.append(text[last:match.start()])
        pieces.append(" ")
        last = match.end()
    pieces.append(text[last:])
    return tuple(sorted(found)), "".join(pieces)
