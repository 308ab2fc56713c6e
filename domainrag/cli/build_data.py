"""``domainrag build-data PACK``: a pack's corpus → Alpaca JSONL (train + validation) and stats."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from domainrag.cli.common import JsonOpt, KbOpt, TokenOpt, UriOpt, err, handle_errors, open_rag, out, print_json


@handle_errors
def build_data(
    pack: str = typer.Argument(..., help="Pack name (law, finance, ...) or a pack folder path."),
    source: Path = typer.Option(None, "--from", help="Corpus folder or file (default: the pack's corpus/)."),
    output: Path = typer.Option(None, "--out", help="Training JSONL to write; validation goes beside it as <name>.val.jsonl "
                                "(default: $DOMAINRAG_HOME/data/<pack>/<pack>.jsonl)."),
    val_ratio: float = typer.Option(None, "--val-ratio", help="Share of groups held out for validation (pack default 0.1)."),
    seed: int = typer.Option(None, "--seed", help="Seed for the split and sampling (pack default)."),
    teacher_url: str = typer.Option(None, "--teacher-url", help="OpenAI-compatible endpoint of a teacher model for self-instruct."),
    teacher_model: str = typer.Option(None, "--teacher-model", help="Teacher model name at that endpoint."),
    teacher_passages: int = typer.Option(50, "--teacher-passages", min=1, help="Corpus passages sent to the teacher."),
    task: str = typer.Option("pack", "--task", help="pack: the pack builder's tasks; rag: grounded (question, retrieved "
                             "passages, cited answer) triplets from the pack's knowledge base; all: both."),
    base_model: str = typer.Option(None, "--base-model", help="rag/all: cut passages with this model's tokenizer "
                                   "and context budget, as the answer chain will (default: the pack's base model)."),
    kb: str = KbOpt, uri: str = UriOpt, token: str = TokenOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Build instruction data from a pack's documents: exact and near duplicates removed, length and
    quality filters, a train/validation split that never splits one article or dialogue."""
    from domainrag.instruct.build import build_dataset
    from domainrag.instruct.teacher import TeacherSettings
    from domainrag.packs import load_pack

    loaded = load_pack(pack)
    teacher = None
    if teacher_url or teacher_model:
        teacher = TeacherSettings(base_url=teacher_url or "", model=teacher_model or "", max_passages=teacher_passages)
    err.print(f"building {loaded.name} instruction data ({task}) from {source or loaded.corpus_dir} ...")
    rag = generator = None
    if task in ("rag", "all"):
        from domainrag.llm import build_generator

        rag = open_rag(pack, uri, kb, None, token)
        generator = build_generator(loaded, base_model=base_model)
    result = build_dataset(loaded, source=source, out=output, val_ratio=val_ratio, seed=seed, teacher=teacher,
                           task=task, rag=rag, generator=generator)
    if as_json:
        print_json(result.to_dict())
        return
    table = Table(title=f"build-data → {result.pack}", show_header=False)
    table.add_row("raw examples", str(result.raw))
    for reason, count in sorted(result.cleaning.dropped.items()):
        table.add_row(f"dropped: {reason}", str(count))
    for task, count in sorted(result.by_task.items()):
        table.add_row(f"task: {task}", str(count))
    table.add_row("train", f"{result.train}  {result.train_path}")
    table.add_row("validation", f"{result.validation}  {result.validation_path}")
    out.print(table)
