"""Instruction examples (Alpaca style) and their JSONL files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from domainrag.errors import ConfigError

FIELDS = ("instruction", "input", "output", "source")


@dataclass
class Example:
    """One instruction pair. ``task`` (e.g. ``recite``) and ``group`` (what must not straddle the
    train/validation split, default: ``source``) are kept in memory only; the JSONL holds ``FIELDS``."""

    instruction: str
    output: str
    input: str = ""
    source: str = ""
    task: str = ""
    group: str = field(default="", repr=False)

    @property
    def prompt(self) -> str:
        """Instruction and input as the user turn."""
        return f"{self.instruction}\n\n{self.input}" if self.input else self.instruction

    @property
    def group_key(self) -> str:
        """What keeps related examples on one side of the split."""
        return self.group or self.source or self.prompt

    def to_dict(self) -> dict[str, str]:
        return {"instruction": self.instruction, "input": self.input, "output": self.output, "source": self.source}

    @classmethod
    def from_dict(cls, data: dict) -> "Example":
        return cls(instruction=str(data.get("instruction", "")), input=str(data.get("input", "") or ""),
                   output=str(data.get("output", "")), source=str(data.get("source", "")))


def write_jsonl(path: Path, examples: Iterable[Example]) -> int:
    """Write examples atomically; returns how many were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as stream:
        for example in examples:
            stream.write(json.dumps(example.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(path)
    return count


def iter_jsonl(path: Path) -> Iterator[Example]:
    """Read an Alpaca JSONL file; a broken line or a record without instruction/output is a ConfigError."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"{path}: data file not found; create it with `domainrag build-data PACK --out {path}`") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; instruction data must be UTF-8 JSONL") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: invalid JSON ({exc.msg}); each line must be one JSON object") from None
        if not isinstance(data, dict) or not str(data.get("instruction", "")).strip() or not str(data.get("output", "")).strip():
            raise ConfigError(f"{path}:{number}: needs non-empty \"instruction\" and \"output\" fields (Alpaca format)")
        yield Example.from_dict(data)


def read_jsonl(path: Path) -> list[Example]:
    """All examples of a JSONL file; an empty file is a ConfigError."""
    examples = list(iter_jsonl(path))
    if not examples:
        raise ConfigError(f"{path}: no examples in the data file; rebuild it with `domainrag build-data PACK`")
    return examples


def validation_path(train_path: Path) -> Path:
    """``law.jsonl`` → ``law.val.jsonl`` (the validation split beside the training file)."""
    name = train_path.name
    stem = name[: -len(".jsonl")] if name.endswith(".jsonl") else name
    return train_path.with_name(f"{stem}.val.jsonl")


def file_sha256(*paths: Path) -> str:
    """SHA-256 over the bytes of the given files, in order."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()
