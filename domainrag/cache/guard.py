"""The guard that runs after the vector match: two questions only match if they ask the same thing.

A sentence embedding (all-MiniLM-L6-v2 by default, English vocabulary) scores ``盗窃罪怎么判刑`` and
``抢劫罪怎么判刑`` as identical, so similarity alone cannot decide a hit. The guard compares what makes a
question specific, and rejects the pair when any of these differ:

* quantities, normalised (``第264条`` = ``第二百六十四条``, ``5,000元`` = ``五千元`` ≠ ``50,000元``, years, doses);
* critical terms: every word that is not ignorable (particles, pronouns, politeness, generic words) must
  appear in the other question too (crime names, drug names, parties, ``以上``/``以下``, ``高``/``低`` ...);
* negation, modality (``可以`` may ≠ ``应当`` shall) and the kind of question (how much vs how vs whether);
* roles: terms on different sides of a verb or of ``向/对/被/把`` must keep their order (丈夫向妻子 ≠ 妻子向丈夫),
  and so must the persons named (他欠我 ≠ 我欠他).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from domainrag.cache import lexicon
from domainrag.cache.quantities import extract_quantities
from domainrag.query import pos_cut

_ASCII_WORD = re.compile(r"^[a-z][a-z'\-]*$")
_HAS_WORD = re.compile(r"\w")
_CLAUSE_FLAGS = {"v", "vd", "vi", "vg", "f"}  # verbs and locatives (…后, …前, …时) delimit who-does-what
_A_NOT_A = re.compile(r"([\u4e00-\u9fff])[不没]\1")
# Single characters that jieba sometimes glues onto a word (要退社 → 要退 / 社): trimmed before a second look.
_EDGE_CHARS = frozenset("的了着过要会能可应需在是有就都也还又再才便把被对向给将让吗呢吧啊")


@dataclass(frozen=True)
class Fingerprint:
    """What a question asks, reduced to the parts the guard compares."""

    text: str
    quantities: tuple[str, ...]
    negations: int
    kinds: frozenset[str]
    modals: frozenset[str]
    terms: tuple[tuple[str, int], ...]  # (canonical term, role segment)
    persons: tuple[str, ...] = ()  # 1st/2nd/3rd person, in order of mention

    @property
    def term_set(self) -> frozenset[str]:
        return frozenset(term for term, _ in self.terms)


def normalise(text: str) -> str:
    """NFKC (full-width digits and commas become ASCII), lower case, single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("’", "'").replace("can't", "can not").replace("won't", "will not").replace("n't", " not")
    text = re.sub(r"'s\b", "", text)
    for phrase, canonical in lexicon.PHRASES.items():
        text = text.replace(phrase, canonical)
    text = _A_NOT_A.sub(r"是否\1", text)  # 能不能 → 是否能, 需不需要 → 是否需要, 有没有 → 是否有
    return re.sub(r"\s+", " ", text).strip()


def english_stem(word: str) -> str:
    """A deliberately light stemmer: plural and -ed/-ing only (``employer`` and ``employee`` stay apart)."""
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith("es") and word[-3] in "sxh":
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


class QuestionGuard:
    """Decides whether a cached question may answer a new one. Thread-safe; fingerprints are memoised."""

    def __init__(self, ignore_terms: Iterable[str] = (), synonyms: Iterable[Iterable[str]] = ()) -> None:
        self.ignorable = lexicon.ZH_IGNORABLE | lexicon.EN_IGNORABLE | {normalise(t) for t in ignore_terms}
        self.synonyms = dict(lexicon.SYNONYMS)
        for group in synonyms:
            words = [normalise(w) for w in group]
            for word in words[1:]:
                self.synonyms[word] = words[0]
        self._function_words = (set(lexicon.QUESTION_TYPES) | set(lexicon.MODALS) | lexicon.NEGATIONS
                                | lexicon.ROLE_MARKERS | set(lexicon.PERSONS) | self.ignorable | lexicon.YES_NO_PARTICLES)
        self._memo: dict[str, Fingerprint] = {}
        self._lock = threading.Lock()

    # ---- fingerprints --------------------------------------------------------
    def fingerprint(self, question: str) -> Fingerprint:
        with self._lock:
            cached = self._memo.get(question)
        if cached is None:
            cached = self._fingerprint(question)
            with self._lock:
                if len(self._memo) > 4096:
                    self._memo.clear()
                self._memo[question] = cached
        return cached

    def _fingerprint(self, question: str) -> Fingerprint:
        quantities, rest = extract_quantities(normalise(question))
        words = [(piece, flag) for w, flag in pos_cut(rest) if w.strip() for piece in self._split_idiom(w.strip(), flag)]
        kinds: set[str] = set()
        modals: set[str] = set()
        negations = segment = 0
        terms: list[tuple[str, int]] = []
        persons: list[str] = []
        canonical_text: list[str] = []
        skip = False
        for index, (word, flag) in enumerate(words):
            if skip:
                skip = False
                continue
            if not _HAS_WORD.search(word):
                segment += 1
                continue
            following = words[index + 1][0] if index + 1 < len(words) else ""
            english = bool(_ASCII_WORD.match(word))
            if english and word == "how" and following in lexicon.EN_HOW_SUFFIX:
                kinds.add(lexicon.EN_HOW_SUFFIX[following])
                skip = True
                continue
            if english and f"{word} {following}" in lexicon.EN_MUST_PHRASES:
                modals.add("must")
                skip = True
                continue
            if english and index == 0 and word in lexicon.EN_AUXILIARIES:
                kinds.add("whether")
            word = self.synonyms.get(word, word)
            canonical_text.append(word)
            if word in lexicon.QUESTION_TYPES:
                kinds.add(lexicon.QUESTION_TYPES[word])
                if word in lexicon.MODALS:
                    modals.add(lexicon.MODALS[word])
            elif word.startswith("几") and len(word) > 1 and not english:
                kinds.add("how_much")
                terms.append((self.synonyms.get(word[1:], word[1:]), segment))
            elif word in lexicon.MODALS:
                modals.add(lexicon.MODALS[word])
            elif word in lexicon.NEGATIONS:
                negations += 1
            elif word in lexicon.PERSONS:
                persons.append(lexicon.PERSONS[word])
                segment += 1
            elif word in lexicon.ROLE_MARKERS:
                segment += 1
            elif word in self.ignorable or word in lexicon.YES_NO_PARTICLES:
                if english:
                    segment += 1
            elif english:
                terms.append((english_stem(word), segment))
            elif flag in _CLAUSE_FLAGS:
                terms.append((word, segment + 1))
                segment += 2
            else:
                terms.append((word, segment))
        if not kinds and any(w in lexicon.YES_NO_PARTICLES for w, _ in words):
            kinds.add("whether")
        return Fingerprint("".join(canonical_text), quantities, negations, frozenset(kinds), frozenset(modals),
                           tuple(terms), tuple(persons))

    def _split_idiom(self, word: str, flag: str) -> list[str]:
        """jieba glues function words together (由谁来, 是否是, 还该): split those back into their parts."""
        if flag == "c" or len(word) < 2 or word in self._function_words:
            return [word]
        parts: list[str] = []
        rest = word
        while rest:
            for size in range(min(4, len(rest)), 0, -1):
                if rest[:size] in self._function_words:
                    parts.append(rest[:size])
                    rest = rest[size:]
                    break
            else:
                return [word]
        return parts

    # ---- comparison --------------------------------------------------------
    def mismatch(self, a: str, b: str) -> str | None:
        """Why ``a`` and ``b`` are different questions, or None when the guard lets them match."""
        if normalise(a) == normalise(b):  # one fingerprint: a repeat never pays for loading jieba's tagger
            return None
        fa, fb = self.fingerprint(a), self.fingerprint(b)
        if fa.quantities != fb.quantities:
            return f"quantities {list(fa.quantities)} != {list(fb.quantities)}"
        if fa.negations != fb.negations:
            return "negation differs"
        if fa.modals and fb.modals and fa.modals != fb.modals:
            return f"modality {sorted(fa.modals)} != {sorted(fb.modals)}"
        if fa.persons and fb.persons and fa.persons != fb.persons:
            return "who does what to whom differs"
        if fa.kinds != fb.kinds:
            return f"question kind {sorted(fa.kinds)} != {sorted(fb.kinds)}"
        for x, y in ((fa, fb), (fb, fa)):
            missing = [term for term, _ in x.terms if not _covered(term, y)]
            if missing:
                return f"terms {missing} only in one question"
            swapped = _swapped_roles(x, y)
            if swapped:
                return f"roles of {swapped} are swapped"
        return None

    def same_question(self, a: str, b: str) -> bool:
        return self.mismatch(a, b) is None


def _covered(term: str, other: Fingerprint) -> bool:
    if term in other.term_set:
        return True
    if _ASCII_WORD.match(term):
        return False
    if term in other.text:
        return True
    trimmed = term
    while trimmed and trimmed[0] in _EDGE_CHARS:
        trimmed = trimmed[1:]
    while trimmed and trimmed[-1] in _EDGE_CHARS:
        trimmed = trimmed[:-1]
    return trimmed != term and (not trimmed or trimmed in other.text)


def _segment_of(term: str, other: Fingerprint) -> int | None:
    for candidate, segment in other.terms:
        if candidate == term:
            return segment
    if _ASCII_WORD.match(term):
        return None
    for candidate, segment in other.terms:
        if term in candidate or candidate in term:
            return segment
    return None


def _swapped_roles(x: Fingerprint, y: Fingerprint) -> tuple[str, str] | None:
    counts = Counter(term for term, _ in x.terms + y.terms)
    # a term said twice has no single position: leave it out of the order check
    located = [(term, seg, _segment_of(term, y)) for term, seg in x.terms if counts[term] <= 2]
    located = [item for item in located if item[2] is not None]
    for i, (t1, s1, o1) in enumerate(located):
        for t2, s2, o2 in located[i + 1:]:
            if s1 < s2 and o1 > o2:  # type: ignore[operator]
                return (t1, t2)
    return None


