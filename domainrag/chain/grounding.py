"""Grounding: what an answer may say about its sources, and the extractive answer when the model says nothing usable.

* ``sentence_support``: the share of a sentence's character bigrams found in the passages (the faithfulness
  test used by ``domainrag eval`` too).
* ``unsupported_mentions``: statute references in an answer ("《刑法》第二百六十九条", "第十条") that no cited
  passage holds. An answer never shows one.
* ``Reference`` / ``extractive_answer``: how an answer names a passage ("根据《刑法》第二百六十四条的规定[1]，")
  and the passage's clause that best answers the question.
* ``SentenceGate``: checks a streamed generation sentence by sentence; a sentence is shown only when the
  passages support it and everything it names is among its sources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any
from dataclasses import dataclass, replace
from pathlib import PurePath

from domainrag.chain.citations import MARKER as _MARKER
from domainrag.lawref import article_key, clean_law_candidate, normalize_law_name
from domainrag.numerals import ARTICLE

SUPPORT_THRESHOLD = 0.6  # share of a generated sentence's character bigrams that must occur in the passages
MIN_SENTENCE_CHARS = 4
EARLY_CHECK_CHARS = 16  # an unfinished sentence this long that the passages do not support stops the generation
MIN_DISTINCT_BIGRAMS = 0.6  # a sentence that repeats itself ("申请书”，“申请书”，…) is degenerate, however well supported
_STATE_NAME = re.compile(r"^中华人民共和国(?=\S)")
_TITLE_DATE = re.compile(r"[（(][^（）()]*\d{4}[^（）()]*[）)]\s*$")
_LABEL = re.compile(rf"^\s*{ARTICLE.pattern}(?:（续\d+）)?[\s\u3000]*")
# Where a sentence ends: after Chinese and ASCII end marks and line ends, and at the space after a period (a decimal
# point has none after it, so "3.5" stays whole).
SENTENCE_BREAK = re.compile(r"(?<=[。！？!?；;\n])|(?<=[.])\s+")
_LATIN_START = re.compile(r"^[A-Za-z0-9(\"']")
_SENTENCE_END = "。！？!?；;\n"


# ---- support -----------------------------------------------------------------------------------------------
def char_tokens(text: str) -> list[str]:
    """Character tokens: every letter, digit and CJK character (lower-cased); no spaces or punctuation."""
    return [ch for ch in str(text).lower() if ch.isalnum()]


def _bigrams(tokens: list[str]) -> set[tuple[str, str]]:
    return set(zip(tokens, tokens[1:]))


def bigram_pool(sources: Iterable[str]) -> set[tuple[str, str]]:
    """Every character bigram of the sources: what ``sentence_support`` measures a sentence against."""
    pool: set[tuple[str, str]] = set()
    for text in sources:
        pool |= _bigrams(char_tokens(text))
    return pool


def sentence_support(sentence: str, sources: Iterable[str] | set[tuple[str, str]]) -> float:
    """Share of the sentence's character bigrams that occur in the sources (citation markers ignored).
    ``sources`` may be texts or a ``bigram_pool`` of them (computed once when many sentences are checked)."""
    grams = _bigrams(char_tokens(_MARKER.sub("", sentence)))
    if not grams:
        return 0.0
    pool = sources if isinstance(sources, set) else bigram_pool(sources)
    return len(grams & pool) / len(grams)


# ---- statute references --------------------------------------------------------------------------------------
def short_title(title: str) -> str:
    """A document title as answers name it: 中华人民共和国刑法 → 刑法, 公司法(2018-10-26) → 公司法."""
    return _STATE_NAME.sub("", _TITLE_DATE.sub("", title.strip())).strip()


def unsupported_mentions(text: str, cited: Sequence[tuple[str, str, str]]) -> list[str]:
    """Article references in ``text`` that no cited passage holds.

    ``cited``: (title, article label, text) of each cited passage. A reference is supported when its article is a
    cited passage's own article (and the law it names, if any, is that passage's law), or when the cited text
    itself contains it (a clause that refers to 本法第十条 may be quoted).
    """
    own = {(normalize_law_name(title), article_key(label)) for title, label, _ in cited if label}
    own_articles = {key for _, key in own}
    bodies = [body for _, _, body in cited]
    titles = [title for title, _, _ in cited]
    unsupported = []
    for match in ARTICLE.finditer(text):
        key = article_key(match.group(0))
        if key is None:
            continue
        law = clean_law_candidate(text[max(0, match.start() - 40):match.start()], titles)
        quoted = any(match.group(0) in body for body in bodies)
        if law:
            ok = (normalize_law_name(law), key) in own or any(
                normalize_law_name(law) == normalize_law_name(t) and quoted for t in titles)
        else:
            ok = key in own_articles or quoted
        if not ok:
            unsupported.append(text[max(0, match.start() - 12):match.end()].strip())
    return unsupported


@dataclass(frozen=True)
class Reference:
    """How an answer names passage ``n``: its short title and, for a statute article, the article label."""

    n: int
    title: str
    article: str = ""
    version: str = ""  # which document of that title, when two are cited (公司法's 2018-10-26 text)

    def _name(self, language: str) -> str:
        if language.startswith("zh"):
            name = f"《{self.title}》" if self.title else "资料"
            return f"{name}（{self.version}）" if self.version else name
        name = self.title or "source"
        return f"{name} ({self.version})" if self.version else name

    def lead(self, language: str = "zh") -> str:
        """``根据《刑法》第二百六十四条的规定[1]，`` / ``According to [1] Title, ``."""
        name = self._name(language)
        if language.startswith("zh"):
            return f"根据{name}{self.article}的规定[{self.n}]，" if self.article else f"根据{name}[{self.n}]，"
        return f"According to {name} {self.article}".rstrip() + f" [{self.n}], "

    def also(self, language: str = "zh") -> str:
        """``另可参照《刑法》第二百六十三条的规定[2]：`` / `` See also [2] Title: ``: a second source quoted after the
        first, when the search cannot tell which of the two is meant."""
        name = self._name(language)
        if language.startswith("zh"):
            return f"另可参照{name}{self.article}的规定[{self.n}]：" if self.article else f"另可参照{name}[{self.n}]："
        return f" See also {name} {self.article}".rstrip() + f" [{self.n}]: "


_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def lead_language(question: str, pack_language: str) -> str:
    """The language the lead is written in: the question's (a Chinese question gets 根据…, an English one
    According to …), the pack's when the question has neither."""
    from domainrag.query import has_cjk

    if has_cjk(question):
        return "zh"
    return "en" if _LATIN_WORD.search(question) else pack_language


def reference_for(n: int, title: str, metadata: dict) -> Reference:
    return Reference(n=n, title=short_title(title), article=str(metadata.get("article") or ""))


_STEM_LABEL = re.compile(r"[(（]([^()（）]+)[)）]\s*$")


def document_version(source: str) -> str:
    """What tells a document from others of its title: the bracketed end of its file name (公司法(2018-10-26).md →
    2018-10-26), else the file name without its extension."""
    stem = PurePath(source).stem
    match = _STEM_LABEL.search(stem)
    return match.group(1).strip() if match else stem


def told_apart(first: Reference, first_source: str, second: Reference, second_source: str) -> tuple[Reference, Reference]:
    """Two references that would read alike (the same title, from different documents: two versions of one law) with
    each document's version named; other pairs as they are."""
    if first.title != second.title or first_source == second_source:
        return first, second
    first_version, second_version = document_version(first_source), document_version(second_source)
    if first_version == second_version:
        return first, second
    return replace(first, version=first_version), replace(second, version=second_version)


def pair_references(first: tuple[int, Any], second: tuple[int, Any]) -> tuple[Reference, Reference]:
    """The references of two numbered passages (``(n, hit)``: a Hit or Citation) quoted together, ``told_apart``."""
    (n, a), (m, b) = first, second
    return told_apart(reference_for(n, a.title, a.metadata), a.source, reference_for(m, b.title, b.metadata), b.source)


# ---- extractive answers --------------------------------------------------------------------------------------
# The labelled fields of a question-and-answer record: 问：… 答：…, Question: … Answer: …, a CSV row's
# "端到端query: …；参考答案: …". A label starts the text, a line, a sentence or a CSV field; other labels (序号: 30)
# stay text.
_FIELD_LABEL = re.compile(r"(?:^|(?<=[\n；;。？！?!.]))[ \t]*([^\s：:；;。？！?!.]{1,12})[ \t]*[：:]")
# (Not a bare Q or A: "A:" is as often an exam's first option.)
_QUESTION_LABEL = re.compile(r"^(?:\S{0,6}(?:问|问题|提问|题目|query|question|instruction|input)|human|user|患者|用户)$",
                             re.IGNORECASE)
_ANSWER_LABEL = re.compile(r"^(?:\S{0,4}(?:答|答案|回答|解答|解析|answer|output|solution|analysis)|gpt|assistant|医生)$",
                           re.IGNORECASE)


def answer_part(text: str) -> str:
    """The answer fields of a question-and-answer passage (what follows 答：/Answer:, up to the next question or answer
    label); the whole text when it has no answer label. Quoting a Q&A record's question back would answer nothing."""
    fields: list[tuple[bool, int, int]] = []  # (is an answer, where its label starts, where its text starts)
    for match in _FIELD_LABEL.finditer(text):
        label = match.group(1)
        if _ANSWER_LABEL.match(label):
            fields.append((True, match.start(), match.end()))
        elif _QUESTION_LABEL.match(label):
            fields.append((False, match.start(), match.end()))
    ends = [start for _, start, _ in fields[1:]] + [len(text)]
    answers = [part for (is_answer, _, begin), end in zip(fields, ends)
               if is_answer and (part := text[begin:end].strip())]
    return "\n".join(answers) if answers else text


def clauses(text: str) -> list[str]:
    """A passage's sentences, without its leading article label (第N条, 第N条（续1）); of a question-and-answer
    record, the answer's sentences only (``answer_part``)."""
    body = answer_part(_LABEL.sub("", text, count=1))
    return [piece.strip() for piece in SENTENCE_BREAK.split(body) if piece.strip()]


def join_clauses(parts: list[str]) -> str:
    """Consecutive sentences as one text: Chinese ones run on, Western ones keep a space between them."""
    text = ""
    for part in parts:
        spaced = text and text[-1] in ".!?;:," and _LATIN_START.match(part)
        text += (" " if spaced else "") + part
    return text


def relevant_clause(question: str, text: str, max_chars: int = 160) -> str:
    """The part of ``text`` that answers ``question``: the whole body when short, else the best-scoring run of
    consecutive sentences (keyword relevance per character kept) within ``max_chars``."""
    from domainrag.relevance import RelevanceScorer

    parts = clauses(text)
    body = join_clauses(parts)
    if len(body) <= max_chars or len(parts) <= 1:
        return body if len(body) <= 2 * max_chars else body[:2 * max_chars].rstrip() + "…"
    scorer = RelevanceScorer(question)
    best, best_score = parts[0], -1.0
    for start in range(len(parts)):
        for end in range(start + 1, len(parts) + 1):
            run = join_clauses(parts[start:end])
            if len(run) > max_chars and end > start + 1:
                break
            score = scorer.score(run)
            if score > best_score + 1e-9:
                best, best_score = run, score
    return best


def quoted_clauses(question: str, text: str, language: str = "zh", max_chars: int = 160,
                   also: tuple[Reference, str] | None = None) -> str:
    """What an extractive answer says after its lead: the passage's clause that answers the question; with ``also`` (a
    second passage's reference and text), that passage's clause after ``Reference.also``."""
    quoted = relevant_clause(question, text, max_chars)
    if also is not None:
        second, second_text = also
        quoted += second.also(language) + relevant_clause(question, second_text, max_chars)
    return quoted


def extractive_answer(question: str, reference: Reference, text: str, language: str = "zh",
                      max_chars: int = 160, also: tuple[Reference, str] | None = None) -> str:
    """The lead naming the passage, then ``quoted_clauses``."""
    return reference.lead(language) + quoted_clauses(question, text, language, max_chars, also)


def quotes_runner_up(scores: Sequence[float], below: float, ratio: float) -> bool:
    """Whether an extractive answer should quote the second passage too: the best one's score (the reranker's
    probability that it is the passage asked for) is under ``below`` and the second's at least ``ratio`` times it,
    so the search itself cannot tell which of the two is meant. ``below`` 0: never."""
    return len(scores) >= 2 and scores[0] < below and scores[1] >= ratio * scores[0]


# ---- checking a streamed generation --------------------------------------------------------------------------
class SentenceGate:
    """Releases a generated text sentence by sentence, each only when grounded.

    A sentence passes when ``sentence_support`` against the given passages reaches ``threshold``, it does not
    repeat itself, and it names no article absent from them. With ``threshold`` 0 (packs whose answers are worked
    out rather than quoted: a calculation, an exam option) only the last two rules apply. The first sentence that fails closes the gate: it and everything after it is
    dropped. The answer is one paragraph: a line break after an accepted sentence ends it (a base model would go on
    to copy the next passage). ``feed`` returns the text now released; ``finish`` the last (unterminated) sentence
    if it passes.
    """

    def __init__(self, passages: Sequence[tuple[str, str, str]], threshold: float = SUPPORT_THRESHOLD) -> None:
        self.passages = list(passages)
        self.threshold = threshold
        self._pool = bigram_pool(body for _, _, body in self.passages)
        self.closed = False
        self.accepted: list[str] = []
        self.rejected = ""
        self._pending = ""
        self._held = ""

    def _check(self, sentence: str) -> bool:
        tokens = char_tokens(_MARKER.sub("", sentence))
        if len(tokens) < MIN_SENTENCE_CHARS:  # punctuation, or too short to claim much ("答案：B。")
            return not unsupported_mentions(sentence, self.passages)
        if len(tokens) >= 8 and len(_bigrams(tokens)) < MIN_DISTINCT_BIGRAMS * (len(tokens) - 1):
            return False
        if sentence_support(sentence, self._pool) < self.threshold:
            return False
        return not unsupported_mentions(sentence, self.passages)

    def _release(self, sentence: str) -> str:
        if self.closed:
            return ""
        if not self._check(sentence):
            self.closed, self.rejected = True, sentence
            return ""
        if not char_tokens(_MARKER.sub("", sentence)) and not self.accepted:
            self._held += sentence  # punctuation alone is shown only once some text is
            return ""
        released, self._held = self._held + sentence, ""
        self.accepted.append(released)
        return released

    def feed(self, delta: str) -> str:
        if self.closed:
            return ""
        self._pending += delta
        released = []
        while not self.closed:
            cut = next((i for i, ch in enumerate(self._pending) if ch in _SENTENCE_END), -1)
            if cut < 0:
                break
            sentence, self._pending = self._pending[:cut + 1], self._pending[cut + 1:]
            if sentence.endswith("\n"):  # the answer is one paragraph: a line break after it ends it
                released.append(self._release(sentence.rstrip("\n")) if sentence.strip() else "")
                if self.accepted:
                    self.closed = True
                continue
            released.append(self._release(sentence))
        if not self.closed and self._hopeless(self._pending):
            self.closed, self.rejected, self._pending = True, self._pending, ""
        return "".join(released)

    def _hopeless(self, unfinished: str) -> bool:
        """An unfinished sentence whose first ``EARLY_CHECK_CHARS`` characters the passages do not support: waiting
        for its end would only cost generation time."""
        if self.threshold <= 0 or len(char_tokens(_MARKER.sub("", unfinished))) < EARLY_CHECK_CHARS:
            return False
        return sentence_support(unfinished, self._pool) < self.threshold

    def finish(self) -> str:
        rest, self._pending = self._pending, ""
        return self._release(rest) if rest.strip() else ""

    @property
    def text(self) -> str:
        return "".join(self.accepted)

    @property
    def wrote_something(self) -> bool:
        """True when the accepted text says anything (more than punctuation and markers)."""
        return bool(char_tokens(_MARKER.sub("", self.text)))
