"""Readers that builders share: statute articles, JSONL/JSON/CSV records, ShareGPT dialogues."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from domainrag.errors import ConfigError

_DATE_SUFFIX = re.compile(r"\(\d{4}-\d{2}-\d{2}\)$")
_EXAM_NUMBER = re.compile(r"^\s*\d+\s*[.．、]\s*(?:[（(]\s*\d+\s*分\s*[）)])?\s*")
_BLANK_LINES = re.compile(r"\n\s*\n+")


@dataclass(frozen=True)
class Article:
    """One statute article: ``law`` is the short name (药品管理法), ``label`` 第N条, ``text`` without the label."""

    law: str
    title: str
    label: str
    chapter: str
    text: str
    source: str

    @property
    def number(self) -> int:
        """第二百一十三条 → 213."""
        from domainrag.numerals import article_number

        parsed = article_number(self.label)
        if parsed is None:
            raise ValueError(f"not an article label: {self.label!r}")
        return parsed[0]


def exam_text(text: str) -> str:
    """An exam question or analysis without its leading "17. (12 分)" and without blank lines."""
    return _BLANK_LINES.sub("\n", _EXAM_NUMBER.sub("", str(text).strip()))


def corpus_files(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Files under ``root`` (or ``root`` itself) with one of the suffixes, hidden ones skipped, sorted."""
    if not root.exists():
        raise ConfigError(f"{root}: not found; pass an existing corpus folder or file with --from")
    if root.is_file():
        return [root] if root.suffix.lower() in suffixes else []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def relative_name(path: Path, root: Path) -> str:
    """The path relative to the corpus root (the file name when root is the file)."""
    return path.name if root.is_file() else str(path.relative_to(root))


def statute_articles(root: Path) -> Iterator[Article]:
    """Every 第N条 of every Markdown statute under ``root`` (files that are not statutes are ignored)."""
    from domainrag.ingestion.documents import LoadError
    from domainrag.ingestion.loaders import load_file
    from domainrag.ingestion.splitters import is_statute, split_statute

    for path in corpus_files(root, (".md", ".markdown", ".txt")):
        try:
            doc = load_file(path)
        except LoadError:
            continue
        if not is_statute(doc.text):
            continue
        short = doc.title.removeprefix("中华人民共和国").strip() or _DATE_SUFFIX.sub("", path.stem)
        for chunk in split_statute(doc, limit=100_000, overlap=0):
            label = chunk.metadata.get("article")
            if not label:
                continue
            body = chunk.text.strip()[len(label):].strip()
            yield Article(short, doc.title, label, chunk.section, body, f"{relative_name(path, root)}#{label}")


def jsonl_records(root: Path, suffixes: tuple[str, ...] = (".jsonl",)) -> Iterator[tuple[str, int, dict]]:
    """(relative file, line number, object) for each JSON object line under ``root``; bad lines are skipped."""
    for path in corpus_files(root, suffixes):
        name = relative_name(path, root)
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                yield name, number, obj


def json_examples(root: Path) -> Iterator[tuple[str, int, dict]]:
    """GAOKAO-Bench style ``.json`` files: ``{"example": [...]}`` (or a top-level list)."""
    for path in corpus_files(root, (".json",)):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        items = data.get("example", []) if isinstance(data, dict) else data
        for number, obj in enumerate(items if isinstance(items, list) else [], start=1):
            if isinstance(obj, dict):
                yield relative_name(path, root), number, obj


def csv_rows(root: Path) -> Iterator[tuple[str, int, dict]]:
    """(relative file, row number, row dict) for each CSV row under ``root``."""
    csv.field_size_limit(1 << 30)
    for path in corpus_files(root, (".csv",)):
        with path.open(encoding="utf-8-sig", newline="") as stream:
            for number, row in enumerate(csv.DictReader(stream), start=1):
                yield relative_name(path, root), number, row


def sharegpt_turns(obj: dict) -> list[tuple[str, str]]:
    """(question, answer) pairs of a ShareGPT dialogue, each answer with its own question."""
    turns = obj.get("conversations") or []
    pairs: list[tuple[str, str]] = []
    for first, second in zip(turns, turns[1:]):
        if first.get("from") in ("human", "user") and second.get("from") in ("gpt", "assistant"):
            pairs.append((str(first.get("value", "")), str(second.get("value", ""))))
    return pairs
