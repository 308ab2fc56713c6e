"""Statute references: Chinese/Arabic article numbers and "《某法》第N条" citations in free text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from domainrag.numerals import ARTICLE, NUMERAL, article_number, chinese_numeral

# Words that introduce or qualify a law name but are not part of it ("根据", "符合", "社会法类中的", "我国的").
_LEAD = re.compile(r"(?:根据|依据|依照|按照|参照|基于|属于|符合|违反|我国的?|类中的|类的|中的)")
_CATEGORY = re.compile(r"^(?:宪法相关法|民法商法|行政法规|行政法|经济法|社会法|诉讼与非诉讼程序法|刑法|司法解释|部门规章)类?(?:中的|中|的)")
_CATEGORY_NAME = re.compile(r"(?:宪法相关法|民法商法|行政法规|经济法|社会法|诉讼与非诉讼程序法|司法解释|部门规章)$")
_THIS_LAW = re.compile(r"[本该此](?:法|条例|办法|规定)$")
_NAME_END = re.compile(r"(?:法典|法|条例|规定|办法|决定|解释|规则|细则|准则|章程|通则)$")
_TITLE_NOISE = re.compile(r"[（(][^）)]*[）)]|[《》〈〉\s\u3000“”\"']")


def article_key(label: str) -> str | None:
    """Canonical article id: ``"第一百三十三条之一"`` → ``"133-1"``, ``"第56条"`` → ``"56"``; None if unparsable."""
    if "条" in label:
        parsed = article_number(label)
    else:
        match = re.fullmatch(rf"\s*({NUMERAL})(?:\s*-\s*({NUMERAL}))?\s*", label)
        try:
            parsed = (chinese_numeral(match.group(1)), chinese_numeral(match.group(2)) if match.group(2) else None) \
                if match else None
        except ValueError:
            parsed = None
    if parsed is None:
        return None
    number, suffix = parsed
    return f"{number}-{suffix}" if suffix else str(number)


def normalize_law_name(name: str) -> str:
    """Compare law names without 《》, brackets (dates, 修正), spaces or the 中华人民共和国 prefix."""
    name = _TITLE_NOISE.sub("", name)
    return name.replace("中华人民共和国", "")


@dataclass(frozen=True)
class ArticleRef:
    """A law and one of its articles, e.g. ``ArticleRef("农民专业合作社法", "56")``."""

    law: str
    article: str  # canonical key, see article_key

    @property
    def label(self) -> str:
        return f"{self.law}第{self.article}条"

    def to_dict(self) -> dict[str, str]:
        return {"law": self.law, "article": self.article}


def clean_law_candidate(text: str, known: Iterable[str] = ()) -> str | None:
    """The law name at the end of ``text`` (the words just before "第N条"), or None.

    Handles "根据《农民专业合作社法》", "根据社会法类中的妇女权益保障法的", "我国的《消费者权益保护法》",
    "中华人民共和国农村土地承包法". With ``known`` names the longest one ending the text wins.
    """
    text = re.split(r"[，,。；;：:！!？?\n]", text)[-1]
    text = re.sub(rf"^.*第\s*{NUMERAL}\s*条(?:之\s*{NUMERAL})?", "", text)  # "第十条 刑法": the name follows the label
    text = re.sub(r"(的|之|中的|中)?\s*$", "", text.strip())
    bracketed = re.findall(r"《([^《》]+)》", text)
    if bracketed:  # 《公司法》 names the law, unless a name follows it ("《社会法》中的慈善法")
        after = _LEAD.split(text.rsplit("》", 1)[1])[-1]
        text = after if _NAME_END.search(after) and len(after) >= 2 else bracketed[-1]
    if text.endswith("编") and "民法典" in text:  # "民法典类中的婚姻家庭编" → the Civil Code
        return "民法典"
    pieces = _LEAD.split(text)
    text = normalize_law_name(pieces[-1] if len(pieces[-1]) >= 2 else text)
    text = _CATEGORY.sub("", text) if _NAME_END.search(_CATEGORY.sub("", text)) else text
    normalized_known = sorted({normalize_law_name(k) for k in known if k}, key=len, reverse=True)
    for name in normalized_known:
        if name and text.endswith(name):
            return name
    if not _NAME_END.search(text) or len(text) < 2 or _CATEGORY_NAME.search(text) or _THIS_LAW.search(text):
        return None
    if not bracketed and ("的" in text or len(text) > 24):  # a clause, not a name ("出租人适用民法商法")
        return None
    return text


def parse_article_refs(text: str, known: Iterable[str] = ()) -> list[ArticleRef]:
    """Every "<law>第N条" reference in ``text``, in order, without repeats.

    A bare "第N条" right after a named reference ("《公司法》第十条和第十一条") inherits that law.
    """
    known = list(known)
    refs: list[ArticleRef] = []
    last_law: str | None = None
    last_end = 0
    for match in ARTICLE.finditer(text):
        key = article_key(match.group(0))
        if key is None:
            continue
        before = text[max(0, match.start() - 60):match.start()]
        law = clean_law_candidate(before, known)
        follows = re.fullmatch(r"[\s、，,和及与或以及]*", text[last_end:match.start()])
        if law is None and last_law and (follows or _THIS_LAW.search(before.rstrip("的"))):
            law = last_law
        if law:
            ref = ArticleRef(law, key)
            if ref not in refs:
                refs.append(ref)
            last_law, last_end = law, match.end()
    return refs


def parse_article_ref(text: str, known: Iterable[str] = ()) -> ArticleRef | None:
    """The first law-article reference in ``text`` (LawBench 3-2 answers name exactly one)."""
    refs = parse_article_refs(text, known)
    return refs[0] if refs else None


def title_matches_law(title: str, law: str) -> bool:
    """True when a document title names ``law`` ("中华人民共和国公司法" names "公司法")."""
    return bool(law) and normalize_law_name(title) == normalize_law_name(law)
