"""Run a pack's builder: examples → filters and de-duplication → train/validation split → JSONL + stats."""

from __future__ import annotations

import importlib.util
import random
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from domainrag.config import domainrag_home
from domainrag.errors import ConfigError
from domainrag.instruct.clean import CleanReport, FilterSettings, clean
from domainrag.instruct.records import Example, validation_path, write_jsonl
from domainrag.instruct.split import split
from domainrag.packs import Pack


@dataclass
class BuildResult:
    """Where the data went and what the run did."""

    pack: str
    source: str
    train_path: Path
    validation_path: Path
    raw: int = 0
    by_task: dict[str, int] = field(default_factory=dict)
    cleaning: CleanReport = field(default_factory=CleanReport)
    train: int = 0
    validation: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"pack": self.pack, "source": self.source, "train_path": str(self.train_path),
                "validation_path": str(self.validation_path), "raw": self.raw, "by_task": self.by_task,
                "cleaning": self.cleaning.to_dict(), "train": self.train, "validation": self.validation}


def load_builder(pack: Pack) -> ModuleType:
    """Import ``builder.py`` from the pack folder; it must define ``build(source, settings)``."""
    path = pack.path / "builder.py"
    if not path.exists():
        raise ConfigError(f"pack {pack.name!r} has no builder.py in {pack.path}; add one that defines build(source, settings)")
    name = f"domainrag_pack_builder_{abs(hash(str(path)))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    if not callable(getattr(module, "build", None)):
        raise ConfigError(f"{path}: defines no build(source, settings) function")
    return module


def default_data_path(pack: Pack) -> Path:
    """``$DOMAINRAG_HOME/data/<pack>/<pack>.jsonl`` (validation beside it as ``<pack>.val.jsonl``)."""
    return domainrag_home() / "data" / pack.name / f"{pack.name}.jsonl"


def corpus_passages(source: Path, limit: int = 600) -> Iterator[tuple[str, str]]:
    """(source, text) chunks of every ingestible file under ``source``: seed passages for a teacher."""
    from domainrag.ingestion.documents import LoadError
    from domainrag.ingestion.loaders import load_file
    from domainrag.ingestion.scan import scan
    from domainrag.ingestion.splitters import split_document

    for path in scan([source]).files:
        try:
            doc = load_file(path)
        except LoadError:
            continue
        for chunk in split_document(doc, limit=limit, overlap=0):
            if len(chunk.text) >= 80:
                yield f"{path.name}#{chunk.section or chunk.metadata.get('record', '')}", chunk.search_text


def _cap_per_task(examples: list[Example], cap: int, seed: int) -> list[Example]:
    if cap <= 0:
        return examples
    by_task: dict[str, list[Example]] = {}
    for example in examples:
        by_task.setdefault(example.task, []).append(example)
    kept: list[Example] = []
    for task, items in by_task.items():
        if len(items) > cap:
            items = random.Random(f"{seed}:{task}").sample(items, cap)
        kept.extend(items)
    return kept


def grounded_task(pack: Pack, source: Path, rag: Any, settings: dict[str, Any], seed: int,
                  generator: Any = None) -> list[Example]:
    """The ``rag`` task: grounded triplets from the corpus's statute articles and the pack's own retrieval.

    The passages are cut to ``generator``'s context budget with its tokenizer, as the answer chain cuts them
    (default: the pack's generator), so the model is trained on the prompts it will be given."""
    from domainrag.instruct.grounded import grounded_examples
    from domainrag.instruct.sources import statute_articles
    from domainrag.prompts import PromptTemplates, fit_passages, format_context

    if generator is None:
        from domainrag.llm import build_generator

        generator = build_generator(pack)
    budget = generator.settings.max_context_tokens

    templates = PromptTemplates.from_pack(pack)
    articles = list(statute_articles(source))
    if not articles:
        raise ConfigError(f"{source}: no statute articles (第N条) to make grounded questions from; the rag task "
                          "needs a corpus of statutes")

    def user_message(passages: list[tuple[int, Any, str]], question: str) -> str:
        return templates.user.format(context=format_context(passages, templates.header), question=question)

    def fit(passages: list[tuple[int, Any, str]]) -> list[tuple[int, Any, str]]:
        return fit_passages(passages, budget, generator.count_tokens, generator.truncate, templates.header)

    return list(grounded_examples(articles, lambda q, k: rag.search(q, k=k), user_message=user_message, fit=fit,
                                  refusal=templates.no_context, k=pack.retrieval.k, seed=seed,
                                  refusal_share=float(settings.get("rag_refusal_share", 0.1)),
                                  limit=int(settings.get("rag_max", 0))))


def build_dataset(pack: Pack, source: Path | None = None, out: Path | None = None, *, val_ratio: float | None = None,
                  seed: int | None = None, teacher: Any = None, task: str = "pack", rag: Any = None,
                  generator: Any = None) -> BuildResult:
    """Build the pack's instruction data and write ``out`` (train) and its ``.val.jsonl`` (validation).

    ``task``: ``pack`` (the pack builder's tasks), ``rag`` (grounded triplets; needs ``rag``, a ``DomainRAG``
    whose knowledge base holds the corpus, and cuts passages to ``generator``'s budget: default the pack's) or
    ``all`` (both)."""
    settings = pack.section("builder")
    source = Path(source) if source else pack.corpus_dir
    if not source.exists():
        raise ConfigError(f"{source}: corpus not found; pass an existing folder with --from")
    seed = int(settings.get("seed", 0) if seed is None else seed)
    val_ratio = float(settings.get("val_ratio", 0.1) if val_ratio is None else val_ratio)
    if not 0.0 <= val_ratio < 1.0:
        raise ConfigError(f"--val-ratio must be between 0 and 1 (exclusive of 1), not {val_ratio}")
    if task not in ("pack", "rag", "all"):
        raise ConfigError(f"--task {task!r}: use pack, rag or all")
    module = load_builder(pack)
    examples = list(module.build(source, settings)) if task in ("pack", "all") else []
    if task in ("rag", "all"):
        if rag is None:
            raise ConfigError("the rag task needs the pack's knowledge base: run `domainrag ingest` first")
        examples.extend(grounded_task(pack, source, rag, settings, seed, generator))
    if teacher is not None:
        from domainrag.instruct.teacher import self_instruct

        passages = getattr(module, "passages", corpus_passages)(source)
        examples.extend(self_instruct(passages, teacher, pack.description or pack.name))
    result = BuildResult(pack.name, str(source), Path(out) if out else default_data_path(pack), Path())
    result.validation_path = validation_path(result.train_path)
    result.raw = len(examples)
    kept, result.cleaning = clean(examples, FilterSettings.from_section(settings))
    kept = _cap_per_task(kept, int(settings.get("max_per_task", 0)), seed)
    if not kept:
        raise ConfigError(f"{source}: the {pack.name} builder found nothing to turn into instruction data; "
                          "point --from at the pack's kind of documents")
    result.by_task = dict(Counter(e.task or "-" for e in kept))
    train, validation = split(kept, val_ratio, seed)
    random.Random(seed).shuffle(train)
    random.Random(seed + 1).shuffle(validation)  # any prefix of the file is a fair sample
    result.train = write_jsonl(result.train_path, train)
    result.validation = write_jsonl(result.validation_path, validation)
    return result
