"""Instruction tasks made from statute articles, shared by the law, finance, medical and education builders.

recite: 第N条的内容 → the article; locate: an article → 《law》第N条 (which article governs);
complete: the first half of an article → the rest; define: 本法所称X，是指Y → Y;
extract: a duty, time limit or amount in an article, blanked out → the blanked words.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

from domainrag.instruct.records import Example
from domainrag.instruct.sources import Article

RECITE = ("《{law}》{label}的内容是什么？", "{law}{label}是怎么规定的？", "请背诵《{law}》{label}。",
          "{law}{label}规定了什么？", "{law}第{n}条的内容是什么？")
LOCATE = ("这句规定出自哪部法律哪一条？", "出自哪部法律的第几条？", "这是哪部法律哪一条的规定？")
COMPLETE = ("补全《{law}》{label}：", "续写{law}{label}：")
DEFINE = ("《{law}》所称“{term}”是指什么？", "根据{law}，什么是{term}？", "{law}中“{term}”的含义是什么？")
EXTRACT = ("依据{law}{label}，括号里填什么？", "《{law}》{label}填空：")
_DEFINITION = re.compile(r"本(?:法|条例|规定)所称(?:的)?([^，。；]{2,30})，是指([^。]{4,200})。")
_QUANTITY = re.compile(r"(?:不得(?:少于|低于|超过|高于)|不少于|不超过|最低限额为|为|在|之日起)?"
                       r"((?:[一二三四五六七八九十百千万零两]+|\d+(?:\.\d+)?)(?:个)?(?:日|月|年|个工作日|万元|亿元|元|倍|人|%)"
                       r"|百分之[一二三四五六七八九十零点]+)")
_BOILERPLATE = re.compile(r"^本(?:法|条例|规定|决定)自.{0,30}(?:施行|废止)|^本法(?:由|的)")


def usable(article: Article, min_chars: int = 15) -> bool:
    """Skip boilerplate (本法自…施行) and very short articles."""
    return len(article.text) >= min_chars and not _BOILERPLATE.search(article.text)


def _rng(article: Article, task: str) -> random.Random:
    return random.Random(f"{task}:{article.source}")


def recite(article: Article) -> Example:
    template = _rng(article, "recite").choice(RECITE)
    instruction = template.format(law=article.law, title=article.title, label=article.label, n=article.number)
    return Example(instruction, article.text, source=article.source, task="recite")


def _first_sentence(text: str, limit: int) -> str:
    first = re.split(r"(?<=[。；：])", text.strip(), maxsplit=1)[0]
    return first if len(first) <= limit else ""


def locate(article: Article, max_input: int = 40) -> Example | None:
    """The article's first sentence → the law and article it comes from."""
    quote = _first_sentence(article.text, max_input)
    if len(quote) < 10:
        return None
    output = f"出自《{article.title}》{article.label}。"
    return Example(_rng(article, "locate").choice(LOCATE), output, input=quote, source=article.source, task="locate")


def complete(article: Article, max_input: int = 30) -> Example | None:
    """The opening clause(s) of an article → the rest of it."""
    text = article.text
    cuts = [m.end() for m in re.finditer(r"[，；。：]", text) if 8 <= m.end() <= max_input]
    if not cuts or len(text) - cuts[-1] < 8:
        return None
    cut = cuts[-1]
    template = _rng(article, "complete").choice(COMPLETE)
    instruction = template.format(law=article.law, label=article.label)
    return Example(instruction, text[cut:], input=text[:cut], source=article.source, task="complete")


def define(article: Article) -> Iterator[Example]:
    rng = _rng(article, "define")
    for match in _DEFINITION.finditer(article.text):
        term, meaning = match.group(1).strip("“”\""), match.group(2)
        instruction = rng.choice(DEFINE).format(law=article.law, term=term)
        output = f"{meaning}。（《{article.title}》{article.label}）"
        yield Example(instruction, output, source=article.source, task="define")


def extract(article: Article, max_per_article: int = 2, max_sentence: int = 60) -> Iterator[Example]:
    """Blank out an amount, share or time limit in a sentence of the article and ask for it."""
    rng = _rng(article, "extract")
    count = 0
    for sentence in re.split(r"(?<=[。；])", article.text):
        match = _QUANTITY.search(sentence)
        if not match or len(sentence) < 12 or len(sentence) > max_sentence:
            continue
        value = match.group(1)
        blanked = sentence[: match.start(1)] + "（  ）" + sentence[match.end(1):]
        instruction = rng.choice(EXTRACT).format(law=article.law, label=article.label)
        output = f"{value}（《{article.title}》{article.label}）"
        yield Example(instruction, output, input=blanked.strip(), source=article.source, task="extract")
        count += 1
        if count >= max_per_article:
            return


def statute_examples(articles: list[Article], tasks: tuple[str, ...] = ("recite", "locate", "complete", "define")) -> Iterator[Example]:
    """The chosen tasks for every usable article."""
    for article in articles:
        if not usable(article):
            continue
        if "recite" in tasks:
            yield recite(article)
        if "locate" in tasks and (example := locate(article)):
            yield example
        if "complete" in tasks and (example := complete(article)):
            yield example
        if "define" in tasks:
            yield from define(article)
        if "extract" in tasks:
            yield from extract(article)
