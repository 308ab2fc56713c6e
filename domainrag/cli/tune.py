"""``domainrag tune PACK``: train a PEFT adapter on the pack's instruction data."""

from __future__ import annotations

from pathlib import Path

import typer

from domainrag.cli.common import JsonOpt, err, handle_errors, out, print_json


@handle_errors
def tune(
    pack: str = typer.Argument(..., help="Pack name (law, finance, ...) or a pack folder path."),
    method: str = typer.Option(None, "--method", "-m", help="lora (pack default), adalora, ia3, prefix, prompt or p-tuning."),
    base: str = typer.Option(None, "--base", help="Base model: 'default' (SmolLM2-135M-Instruct), a HF model folder or a .gguf file."),
    data: Path = typer.Option(None, "--data", help="Training JSONL (default: built with build-data on first use); "
                              "validation is read from <name>.val.jsonl beside it."),
    output: Path = typer.Option(None, "--out", help="Adapter folder (default $DOMAINRAG_HOME/adapters/<pack>-<method>)."),
    max_steps: int = typer.Option(None, "--max-steps", min=1, help="Optimizer steps (pack default)."),
    batch_size: int = typer.Option(None, "--batch-size", min=1),
    learning_rate: float = typer.Option(None, "--lr", help="Learning rate (default depends on the method)."),
    max_length: int = typer.Option(None, "--max-length", min=16, help="Tokens per example (prompt + answer)."),
    rank: int = typer.Option(None, "--r", min=1, help="LoRA/AdaLoRA rank."),
    threads: int = typer.Option(None, "--threads", min=1, help="CPU threads for torch (1 is fastest on a busy machine)."),
    qlora: bool = typer.Option(False, "--qlora", help="4-bit QLoRA with bitsandbytes (needs a CUDA GPU)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint in <out>/checkpoints."),
    keep_checkpoints: bool = typer.Option(False, "--keep-checkpoints", help="Keep <out>/checkpoints after training."),
    merge_to: Path = typer.Option(None, "--merge-to", help="Also write base + adapter merged into this model folder."),
    as_json: bool = JsonOpt,
) -> None:
    """Fine-tune the pack's base model with PEFT; loss on answer tokens only. Writes the adapter and a
    training card (data hash, base model, method, hyper-parameters, train/validation loss)."""
    from domainrag.packs import load_pack
    from domainrag.tune.merge import merge_adapter
    from domainrag.tune.train import TuneSettings
    from domainrag.tune.train import tune as run_tune

    loaded = load_pack(pack)
    settings = TuneSettings.from_pack(loaded, method=method, max_steps=max_steps, batch_size=batch_size,
                                      learning_rate=learning_rate, max_length=max_length, r=rank, threads=threads,
                                      qlora=qlora or None)
    result = run_tune(loaded, data=data, out=output, base=base, settings=settings, resume=resume,
                      keep_checkpoints=keep_checkpoints)
    if merge_to:
        err.print(f"merging the adapter into {merge_to} ...")
        merge_adapter(result.adapter_dir, merge_to, base)
    card = result.card
    if as_json:
        print_json({"adapter_dir": str(result.adapter_dir), "merged": str(merge_to) if merge_to else None, **card})
        return
    before, after = card.get("validation_base") or {}, card.get("validation_adapter") or {}
    out.print(f"adapter: {result.adapter_dir}")
    out.print(f"{card['method']} on {card['base_model']}: {card['steps']} steps, train loss {card['train_loss']}, "
              f"{card['steps_per_second']} steps/s, peak RSS {card['peak_rss_mb']} MB")
    if before and after:
        out.print(f"validation perplexity {before['perplexity']} → {after['perplexity']} "
                  f"(loss {before['loss']} → {after['loss']})")
