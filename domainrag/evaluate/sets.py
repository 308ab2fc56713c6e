"""Eval sets: JSONL (one question per line) or a JSON array (LawBench style), validated line by line.

A line: ``{"id", "question", "answer", "kind", "gold_chunk_ids", "gold_articles", "gold_spans",
"gold_doc_ids", "prompt", "tolerance", ...}``; only ``question`` is required. ``kind`` is inferred when
absent: a list of option letters or "正确答案：B" → ``mcq``; a number (or "#### 18") → ``numeric``; other
text → ``text``; no answer → ``retrieval``. Without explicit gold, a text answer that cites "《某法》第N条"
makes that article the retrieval gold (the LawBench 3-2 convention). Extra keys are kept in ``meta``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domainrag.errors import ConfigError
from domainrag.evaluate.extract import extract_number
from domainrag.evaluate.gold import Gold
from domainrag.lawref import ArticleRef, article_key, parse_article_ref

KINDS = ("text", "mcq", "numeric", "retrieval")
ANSWER_FORMAT = {"mcq": "\n请从选项中选出正确答案，并以“答案：选项字母”结尾。",
                 "numeric": "\n请在最后写出“答案：数值”。"}
SET_SUFFIXES = (".jsonl", ".json")
_MCQ_ANSWER = re.compile(r"^\s*(?:\[?正确答案\]?|答案)?\s*[:：]?\s*([A-H](?:\s*[,，、]?\s*[A-H])*)\s*(?:<eoa>)?[。.]?\s*$")
_NUMERIC_ANSWER = re.compile(r"^\s*\(?[-+]?[\d,]*\.?\d+(?:\s*/\s*\d+)?\)?\s*(?:%|元|美元|港元|万元|亿元|份|个|人|天|年|岁)?\s*$")
_KNOWN_KEYS = {"id", "question", "query", "answer", "kind", "type", "prompt", "instruction", "tolerance",
               "gold_chunk_ids", "gold_articles", "gold_spans", "gold_doc_ids"}


class SetError(ConfigError):
    """A malformed eval set; the message names file:line and the reason."""


@dataclass
class EvalItem:
    """One question with its gold."""

    id: str
    question: str
    kind: str
    answer: str | None = None          # reference answer text (any kind)
    choices: list[str] = field(default_factory=list)   # mcq gold: one entry per question ("B", "AC")
    number: float | None = None        # gold value for numeric
    tolerance: float | None = None     # relative tolerance for numeric (default 1e-4)
    prompt: str | None = None          # what to ask the assistant, when it differs from the question
    gold: Gold = field(default_factory=Gold)
    line: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ask_text(self) -> str:
        """What the assistant is asked: the set's ``prompt``, else the question plus a request for a final
        answer line where the metric extracts one (options, numbers)."""
        return self.prompt or self.question + ANSWER_FORMAT.get(self.kind, "")

    def gold_summary(self) -> str:
        """A short human-readable description of the gold (for reports)."""
        parts = [a.label for a in self.gold.articles] + self.gold.chunk_ids + self.gold.doc_ids
        parts += [f"“{s[:30]}”" for s in self.gold.spans]
        if self.kind == "mcq":
            parts.append(" ".join(self.choices))
        elif self.kind == "numeric" and self.number is not None:
            parts.append(f"{self.number:g}")
        return "; ".join(parts)


@dataclass
class EvalSet:
    """A loaded set: items in file order plus where they came from."""

    name: str
    path: Path
    items: list[EvalItem]
    sha1: str

    def limited(self, limit: int | None) -> list[EvalItem]:
        return self.items[:limit] if limit else list(self.items)

    def __len__(self) -> int:
        return len(self.items)


# ---- parsing one record -------------------------------------------------------------------------------------
def _string_list(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and str(v).strip() for v in value):
        raise ValueError(f"'{key}' must be a list of non-empty strings")
    return [str(v).strip() for v in value]


def _articles(value: Any) -> list[ArticleRef]:
    refs: list[ArticleRef] = []
    for n, entry in enumerate(value if isinstance(value, list) else [value], start=1):
        if isinstance(entry, dict) and entry.get("law") and entry.get("article") is not None:
            key = article_key(str(entry["article"]))
            ref = ArticleRef(str(entry["law"]).strip(), key) if key else None
        elif isinstance(entry, str):
            ref = parse_article_ref(entry)
        else:
            ref = None
        if ref is None:
            raise ValueError(f"'gold_articles' entry {n} ({entry!r}) is not a law article like "
                             "\"公司法第十条\" or {\"law\": \"公司法\", \"article\": \"第十条\"}")
        refs.append(ref)
    return refs


def _infer_kind(answer: Any) -> str:
    if answer is None or (isinstance(answer, (str, list)) and not answer):
        return "retrieval"
    if isinstance(answer, bool):
        raise ValueError("'answer' must be text, a number or a list of option letters")
    if isinstance(answer, (int, float)):
        return "numeric"
    if isinstance(answer, list):
        if not all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in answer):
            raise ValueError("a list 'answer' must hold option letters like [\"B\"] or answer strings")
        if all(isinstance(a, str) and re.fullmatch(r"[A-Ha-h]+", a.strip()) for a in answer):
            return "mcq"
        return _infer_kind(answer[0]) if len(answer) == 1 else "text"
    if not isinstance(answer, str):
        raise ValueError("'answer' must be text, a number or a list of option letters")
    if _MCQ_ANSWER.match(answer):
        return "mcq"
    if _NUMERIC_ANSWER.match(answer) or re.search(r"####\s*[-\d]", answer):
        return "numeric"
    return "text"


def _fill_answer(item: EvalItem, obj: dict[str, Any], answer: Any) -> None:
    """Set the gold answer fields of ``item`` for its kind (choices, number or reference text) and its prompt."""
    item.prompt = obj["prompt"] if isinstance(obj.get("prompt"), str) else None
    if item.kind == "mcq":
        entries = answer if isinstance(answer, list) else [(_MCQ_ANSWER.match(str(answer or "")) or [None, ""])[1]]
        item.choices = ["".join(sorted(set(re.findall(r"[A-H]", str(e).upper())))) for e in entries]
        if not item.choices or not all(item.choices):
            raise ValueError("kind 'mcq' needs 'answer' with option letters, e.g. \"B\" or [\"B\", \"D\"]")
        instruction = obj.get("instruction")
        if not item.prompt and isinstance(instruction, str) and instruction.strip():
            item.prompt = f"{instruction.strip()}\n{item.question}"
        return
    if isinstance(answer, list):  # several acceptable answers (e.g. TAT-QA spans): keep them as one text
        answer = answer[0] if len(answer) == 1 else "\n".join(str(a) for a in answer)
    if item.kind == "numeric":
        item.number = float(answer) if isinstance(answer, (int, float)) else extract_number(str(answer or ""))
        if item.number is None:
            raise ValueError(f"kind 'numeric' needs a number in 'answer', got {answer!r}")
        item.answer = str(answer).split("####")[-1].strip()
    elif isinstance(answer, str):
        item.answer = answer


def parse_item(obj: Any, line: int, default_id: str) -> EvalItem:
    """Validate one record; ValueError names what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    question = obj.get("question", obj.get("query"))
    if not isinstance(question, str) or not question.strip():
        raise ValueError("missing or empty 'question'")
    answer = obj.get("answer")
    kind = obj.get("kind") or obj.get("type") or _infer_kind(answer)
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    item = EvalItem(id=str(obj.get("id") or default_id), question=question.strip(), kind=kind, line=line,
                    meta={k: v for k, v in obj.items() if k not in _KNOWN_KEYS})
    _fill_answer(item, obj, answer)
    if obj.get("tolerance") is not None:
        if not isinstance(obj["tolerance"], (int, float)) or obj["tolerance"] < 0:
            raise ValueError("'tolerance' must be a non-negative number (relative tolerance)")
        item.tolerance = float(obj["tolerance"])
    item.gold = Gold(chunk_ids=_string_list(obj.get("gold_chunk_ids"), "gold_chunk_ids"),
                     articles=_articles(obj["gold_articles"]) if obj.get("gold_articles") else [],
                     spans=_string_list(obj.get("gold_spans"), "gold_spans"),
                     doc_ids=_string_list(obj.get("gold_doc_ids"), "gold_doc_ids"))
    if not item.gold and kind == "text" and item.answer:
        ref = parse_article_ref(item.answer)
        if ref:
            item.gold.articles.append(ref)
    if kind == "retrieval" and not item.gold:
        raise ValueError("no 'answer' and no retrieval gold (gold_chunk_ids, gold_articles, gold_spans, gold_doc_ids)")
    return item


# ---- files -----------------------------------------------------------------------------------------------
def _json_array_records(text: str, path: Path) -> Iterable[tuple[int, Any]]:
    """(line, object) for each element of a top-level JSON array, keeping line numbers for errors."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            raise SetError(f"{path}:{text.count(chr(10)) + 1}: unterminated JSON array (missing ']')")
        if text[pos] == "]":
            return
        line = text.count("\n", 0, pos) + 1
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:  # the rest of the array cannot be read
            raise SetError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg}, column {exc.colno})") from None
        yield line, obj


def _records(path: Path) -> Iterable[tuple[int, Any]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SetError(f"{path}: eval set not found; pass an existing --set FILE") from None
    except UnicodeDecodeError:
        raise SetError(f"{path}: not UTF-8 text; save the eval set as UTF-8 JSONL") from None
    if text.lstrip().startswith("["):
        yield from _json_array_records(text, path)
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, ValueError(f"invalid JSON ({exc.msg}, column {exc.colno})")


def load_eval_set(path: str | Path, name: str | None = None, skip_invalid: bool = False,
                  warn: Callable[[str], None] | None = None) -> EvalSet:
    """Load and validate a set; SetError("file:line: reason") on the first bad record, or with
    ``skip_invalid`` each bad record is reported through ``warn`` and left out."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise SetError(f"{path}: is a folder; pass one eval set file (.jsonl or .json)")
    if path.suffix.lower() not in SET_SUFFIXES:
        raise SetError(f"{path}: unsupported eval set type {path.suffix or '(none)'}; use .jsonl or .json")
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for line, obj in _records(path):
        try:
            if isinstance(obj, ValueError):
                raise obj
            item = parse_item(obj, line, f"{path.stem}:{line}")
            if item.id in seen:
                raise ValueError(f"duplicate id {item.id!r} (first on line {seen[item.id]})")
        except ValueError as exc:
            if not skip_invalid:
                raise SetError(f"{path}:{line}: {exc}") from None
            (warn or (lambda message: None))(f"{path}:{line}: {exc}; skipped")
            continue
        seen[item.id] = line
        items.append(item)
    if not items:
        raise SetError(f"{path}: no questions in the eval set; add one JSON object per line")
    sha1 = hashlib.sha1(path.read_bytes()).hexdigest()
    return EvalSet(name=name or path.stem, path=path.resolve(), items=items, sha1=sha1)


# ---- sets shipped with a pack -------------------------------------------------------------------------------
def pack_sets(pack: Any) -> dict[str, Path]:
    """Set name → file for the sets in ``<pack>/eval/`` (sorted by name)."""
    folder = Path(pack.path) / "eval"
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix in SET_SUFFIXES and p.is_file()}


def resolve_set(pack: Any, name_or_path: str | Path | None = None, skip_invalid: bool = False,
                warn: Callable[[str], None] | None = None) -> EvalSet:
    """``--set``: a file path, or the name of a set in the pack's eval/ folder; default: the pack's
    ``[eval] default_set`` from pack.toml, else the first set by name."""
    sets = pack_sets(pack)
    if name_or_path is not None:
        text = str(name_or_path)
        if text in sets:
            return load_eval_set(sets[text], text, skip_invalid, warn)
        path = Path(text).expanduser()
        if path.exists() or "/" in text or path.suffix in SET_SUFFIXES:
            return load_eval_set(path, None, skip_invalid, warn)
        raise SetError(f"no eval set {text!r} in pack {pack.name}: choose one of "
                       f"{', '.join(sets) or '(none)'} or pass a file path with --set")
    if not sets:
        raise SetError(f"pack {pack.name} ships no eval sets ({Path(pack.path) / 'eval'} is empty); "
                       "pass one with --set FILE")
    default = pack.section("eval").get("default_set") if hasattr(pack, "section") else None
    name = default if default in sets else next(iter(sets))
    return load_eval_set(sets[name], name, skip_invalid, warn)
