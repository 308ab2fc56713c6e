"""Grounded instruction data (retrieval-augmented fine-tuning): (question, the pack retriever's real top-k
passages, answer) triplets, in the recipe of DISC-LawLLM's triplets and RAFT.

Questions are made from the corpus itself, never from an evaluation set:
  scenario  an article's condition clause (…的，) → "<condition>的，依法应当如何处理？"
  ability   "<subject>可以<action>" → "<subject>能否<action>？"
  duty      "<subject>应当<action>" → "<subject>应当承担什么义务？"
  cited     an article that applies another (依照本法第N条) → "<the citing clause>，依照哪条规定处理？" (gold: N)
The passages are the pack's own retrieval for the question, so the distractors are the look-alikes a real search
returns. When the retriever misses the gold article it is put in at a random position; a share of examples
drops it instead, and their target is the refusal. The target is what the answer chain asks of the model: the
lead naming the gold passage (``根据《刑法》第二百六十四条的规定[2]，``) and the clause that answers.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from domainrag.chain.grounding import Reference, relevant_clause, short_title
from domainrag.instruct.records import Example
from domainrag.instruct.sources import Article
from domainrag.numerals import ARTICLE

_CONDITION = re.compile(r"^([^。；：]{6,60}?的)，")
_ABILITY = re.compile(r"^([^，。；：]{2,20}?)可以([^。；]{4,40})[。；]")
_DUTY = re.compile(r"^([^，。；：]{2,20}?)应当([^。；]{4,40})[。；]")
_CITES = re.compile(rf"^([^。；]{{6,60}}?)，?(?:依照|按照|适用)本法{ARTICLE.pattern}")


@dataclass(frozen=True)
class Seed:
    """A question made from an article, and the article (law title + label) that answers it."""

    question: str
    kind: str
    law: str
    label: str


def seeds_for(article: Article) -> Iterator[Seed]:
    """Every question the templates make from one article (see the module docstring)."""
    text = article.text.strip()
    law = article.title
    if match := _CONDITION.match(text):
        yield Seed(f"{match.group(1)}，依法应当如何处理？", "scenario", law, article.label)
    if match := _ABILITY.match(text):
        yield Seed(f"{match.group(1)}能否{match.group(2)}？", "ability", law, article.label)
    if match := _DUTY.match(text):
        yield Seed(f"{match.group(1)}应当承担什么义务？", "duty", law, article.label)
    if match := _CITES.search(text):
        cited = f"第{match.group(2)}条" + (f"之{match.group(3)}" if match.group(3) else "")
        yield Seed(f"{match.group(1)}，依照哪条规定处理？", "cited", law, cited)


def _is_gold(hit: Any, seed: Seed) -> bool:
    return short_title(hit.title) == short_title(seed.law) and str(hit.metadata.get("article", "")) == seed.label


def grounded_examples(articles: Iterable[Article], search: Callable[[str, int], list[Any]], *,
                      user_message: Callable[[list[tuple[int, Any, str]], str], str], refusal: str,
                      k: int = 5, refusal_share: float = 0.1, seed: int = 0, limit: int = 0,
                      clause_chars: int = 160, fit: Callable[[list[tuple[int, Any, str]]], list[tuple[int, Any, str]]]
                      | None = None) -> Iterator[Example]:
    """One example per seed question: the prompt holds the retrieved passages (numbered), the output the lead
    naming the gold passage and its answering clause, or ``refusal`` when the gold was left out.
    ``user_message(passages, question)`` renders the prompt as the answer chain does; ``fit`` cuts the passages
    to the model's context budget first, and the answering clause is taken from what is left of the gold."""
    rng = random.Random(seed)
    by_key = {(short_title(a.title), a.label): a for a in articles}
    made = 0
    for article in by_key.values():
        for item in seeds_for(article):
            gold_article = by_key.get((short_title(item.law), item.label))
            if gold_article is None:
                continue
            hits = list(search(item.question, k))
            gold_at = next((i for i, hit in enumerate(hits) if _is_gold(hit, item)), None)
            refuse = rng.random() < refusal_share
            if refuse:
                if gold_at is not None:
                    hits.pop(gold_at)
                gold_hit = None
            elif gold_at is None:
                gold_hit = _article_hit(gold_article)
                hits.insert(rng.randrange(0, min(len(hits), k - 1) + 1), gold_hit)
            else:
                gold_hit = hits[gold_at]
            hits = hits[:k]
            if not hits:
                continue
            passages = [(n, hit, hit.text) for n, hit in enumerate(hits, start=1)]
            if fit is not None:
                passages = fit(passages)
            if gold_hit is None:
                output = refusal
            else:
                n, _, gold_text = next(passage for passage in passages if passage[1] is gold_hit)
                reference = Reference(n, short_title(gold_hit.title), str(gold_hit.metadata.get("article", "")))
                output = reference.lead() + relevant_clause(item.question, _visible_sentences(gold_text), clause_chars)
            yield Example(instruction=user_message(passages, item.question), output=output, source=article.source, task=f"rag-{item.kind}",
                          group=f"{short_title(item.law)}{item.label}", input="")
            made += 1
            if limit and made >= limit:
                return


def _visible_sentences(text: str) -> str:
    """A passage as the prompt shows it, without the unfinished sentence a cut ("…") leaves at its end (unless
    no sentence ended before the cut)."""
    if not text.endswith("…"):
        return text
    body = text[:-1]
    end = max(body.rfind(mark) for mark in "。！？；\n")
    return body[:end + 1] if end > 0 else body


@dataclass
class _ArticleHit:
    """A corpus article in the shape of a search hit (title, text, metadata)."""

    title: str
    text: str
    metadata: dict[str, Any]
    section: str = ""
    chunk_id: str = ""
    source: str = ""


def _article_hit(article: Article) -> _ArticleHit:
    return _ArticleHit(title=article.title, text=f"{article.label} {article.text}", metadata={"article": article.label},
                       section=article.chapter, source=article.source)
