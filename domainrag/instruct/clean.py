"""Quality filters and duplicate removal for instruction data.

Exact duplicates: same normalised prompt (a prompt must have one answer) or same normalised text.
Near duplicates: MinHash + LSH (datasketch) over character shingles of the whole example.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from domainrag.instruct.records import Example

_SPACE = re.compile(r"\s+")
_URL = re.compile(r"https?://|www\.", re.I)
_REPEAT = re.compile(r"(.)\1{9,}")
_PUNCT_LEAD = re.compile(r"^[，,。.；;：:、\s]+")


def normalize(text: str) -> str:
    """NFKC, lower case, no whitespace: the key for exact duplicates."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text)).lower()


def tidy(text: str) -> str:
    """Trim, drop leading stray punctuation, collapse runs of blank lines."""
    text = _PUNCT_LEAD.sub("", text.strip())
    return re.sub(r"\n{3,}", "\n\n", text)


@dataclass(frozen=True)
class FilterSettings:
    """Length and quality limits (characters); read from pack.toml ``[builder]``."""

    min_instruction: int = 4
    max_instruction: int = 600
    min_output: int = 1
    max_output: int = 600
    max_input: int = 800
    max_context: int = 4000  # grounded (rag-*) examples: the prompt carries the retrieved passages
    near_threshold: float = 0.9
    shingle: int = 5

    @classmethod
    def from_section(cls, section: dict) -> "FilterSettings":
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in section.items() if k in known})


@dataclass
class CleanReport:
    """What cleaning removed, by reason."""

    kept: int = 0
    dropped: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {"kept": self.kept, "dropped": dict(self.dropped)}


def quality_problem(example: Example, settings: FilterSettings) -> str | None:
    """Why an example is unfit (``None`` when it is fine)."""
    ins, inp, out = example.instruction, example.input, example.output
    longest = settings.max_context if example.task.startswith("rag-") else settings.max_instruction
    if not (settings.min_instruction <= len(ins) <= longest):
        return "instruction length"
    if len(inp) > settings.max_input:
        return "input length"
    if not (settings.min_output <= len(out) <= settings.max_output):
        return "output length"
    if normalize(out) == normalize(ins) or (inp and normalize(out) == normalize(inp)):
        return "output repeats the prompt"
    if _URL.search(out) or _REPEAT.search(out) or "\ufffd" in out:
        return "noisy output"
    return None


def _shingles(text: str, size: int) -> set[bytes]:
    text = normalize(text)
    if len(text) <= size:
        return {text.encode("utf-8")}
    return {text[i:i + size].encode("utf-8") for i in range(len(text) - size + 1)}


def clean(examples: Iterable[Example], settings: FilterSettings = FilterSettings()) -> tuple[list[Example], CleanReport]:
    """Tidy, filter and de-duplicate, keeping the first of each duplicate group (order is preserved)."""
    from datasketch import MinHash, MinHashLSH

    report = CleanReport()
    lsh = MinHashLSH(threshold=settings.near_threshold, num_perm=64)
    seen_prompts: set[str] = set()
    seen_texts: set[str] = set()
    signatures: dict[str, object] = {}
    kept: list[Example] = []
    for example in examples:
        example.instruction, example.input, example.output = tidy(example.instruction), tidy(example.input), tidy(example.output)
        problem = quality_problem(example, settings)
        if problem:
            report.dropped[problem] += 1
            continue
        prompt_key = normalize(example.prompt)
        text_key = normalize(f"{example.prompt}\x00{example.output}")
        if prompt_key in seen_prompts or text_key in seen_texts:
            report.dropped["exact duplicate"] += 1
            continue
        signature = MinHash(num_perm=64, seed=1)
        signature.update_batch(list(_shingles(f"{example.prompt}\n{example.output}", settings.shingle)))
        if any(signature.jaccard(signatures[key]) >= settings.near_threshold for key in lsh.query(signature)):
            report.dropped["near duplicate"] += 1
            continue
        key = hashlib.sha1(text_key.encode("utf-8")).hexdigest()
        lsh.insert(key, signature)
        signatures[key] = signature
        seen_prompts.add(prompt_key)
        seen_texts.add(text_key)
        kept.append(example)
    report.kept = len(kept)
    return kept, report
