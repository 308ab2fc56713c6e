"""``domainrag tune``: PEFT fine-tuning with transformers' Trainer, loss on answer tokens only.

Checkpoints go to ``<out>/checkpoints`` (resumable with ``resume=True``); the adapter and its training
card are written to ``<out>``. Runs on the CPU at small scale and on GPUs (``accelerate launch``).
"""

from __future__ import annotations

import copy
import resource
import shutil
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from domainrag.config import domainrag_home
from domainrag.errors import ConfigError, ModelError
from domainrag.instruct.records import Example, file_sha256, read_jsonl, validation_path
from domainrag.packs import Pack
from domainrag.tune.card import write_card
from domainrag.tune.evaluate import LossResult, answer_loss
from domainrag.tune.formatting import PadCollator, encode_all
from domainrag.tune.loss import answer_trainer_class
from domainrag.tune.methods import DEFAULT_LR, check_method, peft_config

DEFAULT_BASE_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


@dataclass
class TuneSettings:
    """Hyper-parameters: pack.toml ``[tune]`` overridden by the command line."""

    method: str = "lora"
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    learning_rate: float | None = None
    max_steps: int = 300
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 256
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    seed: int = 42
    save_steps: int = 50
    logging_steps: int = 10
    num_virtual_tokens: int = 16
    system: str = ""
    eval_examples: int = 200
    answer_examples: int = 40  # grounded validation examples both models answer for the card (0: none)
    answer_max_new_tokens: int = 128
    top_layers: int = 0
    threads: int = 0
    qlora: bool = False

    @classmethod
    def from_pack(cls, pack: Pack, **overrides: Any) -> "TuneSettings":
        """``[tune]`` of the pack (unknown keys are a ConfigError), then non-None overrides."""
        section = dict(pack.section("tune"))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise ConfigError(f"{pack.path / 'pack.toml'}: unknown [tune] keys {unknown}; allowed: {sorted(known)}")
        if "target_modules" in section:
            section["target_modules"] = tuple(section["target_modules"])
        section.setdefault("system", pack.prompts.get("system", ""))
        settings = cls(**section)
        pack_method = settings.method
        settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
        settings.method = check_method(settings.method)
        if overrides.get("learning_rate") is None and (settings.learning_rate is None or settings.method != check_method(pack_method)):
            settings.learning_rate = DEFAULT_LR[settings.method]
        if settings.max_steps < 1 or settings.batch_size < 1 or settings.max_length < 16:
            raise ConfigError("max_steps and batch_size must be at least 1 and max_length at least 16")
        return settings


@dataclass
class TuneResult:
    """What a tuning run produced."""

    adapter_dir: Path
    card: dict[str, Any] = field(default_factory=dict)


def default_adapter_dir(pack: Pack, method: str) -> Path:
    """``$DOMAINRAG_HOME/adapters/<pack>-<method>`` (shipped adapters are written with ``--out``)."""
    return domainrag_home() / "adapters" / f"{pack.name}-{method}"


def base_model_id(base: str) -> str:
    """What goes into adapter_config.json as the base model: the hub id for the packaged default."""
    return DEFAULT_BASE_HUB_ID if base in ("default", "smollm2", "SmolLM2-135M-Instruct") else base


def load_base(base: str, qlora: bool = False) -> tuple[Any, Any]:
    """A private, trainable copy of the base model (the shared cached instance stays untouched)."""
    from domainrag.llm import local_model

    if not qlora:
        model, tokenizer = local_model.load_model(base)
        return copy.deepcopy(model), tokenizer
    import torch

    if not torch.cuda.is_available():
        raise ModelError("QLoRA (4-bit) needs a CUDA GPU and bitsandbytes; none found here: "
                         "drop --qlora to train in full precision on the CPU")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise ModelError("QLoRA needs bitsandbytes: pip install bitsandbytes (CUDA build)") from None
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    _, tokenizer = local_model.load_model(base)  # also writes the de-quantized cache of a GGUF model
    source = local_model.resolve_model(base)
    folder = source.folder if source.gguf_file is None else local_model.converted_dir(source)
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(folder, quantization_config=quant, device_map={"": 0})
    return prepare_model_for_kbit_training(model), tokenizer


def _progress_callback(total: int) -> Any:
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        """A progress bar with the running loss, on stderr."""

        bar: Any = None

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            self.bar = tqdm(total=total, initial=state.global_step, desc="tune", unit="step", file=sys.stderr,
                            dynamic_ncols=True)

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if self.bar is not None and logs and "loss" in logs:
                self.bar.set_postfix(loss=f"{logs['loss']:.3f}")

        def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if self.bar is not None:
                self.bar.close()

    return Progress()


def _adalora_callback(model: Any) -> Any:
    from transformers import TrainerCallback

    class AdaLoraBudget(TrainerCallback):
        """AdaLoRA re-allocates ranks after each optimizer step, while the gradients are still there."""

        def on_optimizer_step(self, args, state, control, **kwargs):  # noqa: ANN001
            model.base_model.update_and_allocate(state.global_step)

    return AdaLoraBudget()


class _ListDataset:
    def __init__(self, items: list[dict]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]


def _resolve_data(pack: Pack, data: Path | None) -> tuple[Path, Path | None]:
    from domainrag.instruct.build import build_dataset, default_data_path

    if data is None:
        data = default_data_path(pack)
        if not data.exists():
            print(f"building {pack.name} instruction data first → {data}", file=sys.stderr)
            build_dataset(pack, out=data)
    data = Path(data)
    val = validation_path(data)
    return data, (val if val.exists() else None)


def _subset(examples: list[Example], limit: int) -> list[Example]:
    return examples if limit <= 0 or len(examples) <= limit else examples[:limit]


def tune(pack: Pack, data: Path | None = None, out: Path | None = None, base: str | None = None,
         settings: TuneSettings | None = None, resume: bool = False, keep_checkpoints: bool = False,
         evaluate: bool = True) -> TuneResult:
    """Train an adapter for ``pack`` on its instruction data and write it with its training card."""
    import torch
    from peft import get_peft_model
    from transformers import TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    settings = settings or TuneSettings.from_pack(pack)
    if settings.threads > 0:
        torch.set_num_threads(settings.threads)
    base = base or pack.base_model
    train_path, val_path = _resolve_data(pack, data)
    train_examples = read_jsonl(train_path)
    val_examples = _subset(read_jsonl(val_path), settings.eval_examples) if val_path else []
    out = Path(out) if out else default_adapter_dir(pack, settings.method)
    checkpoints = out / "checkpoints"
    if resume and not any(checkpoints.glob("checkpoint-*")):
        print(f"no checkpoint in {checkpoints}; starting from scratch", file=sys.stderr)
        resume = False
    elif not resume and checkpoints.exists():
        shutil.rmtree(checkpoints)

    model, tokenizer = load_base(base, settings.qlora)
    train_items, dropped = encode_all(tokenizer, train_examples, settings.system, settings.max_length)
    if not train_items:
        raise ConfigError(f"{train_path}: no example fits in max_length={settings.max_length} tokens; raise --max-length")
    if dropped:
        print(f"{dropped} training examples skipped: prompt longer than {settings.max_length} tokens", file=sys.stderr)
    before = answer_loss(model, tokenizer, val_examples, settings.system, settings.max_length) if evaluate and val_examples else None
    if before is not None and before.examples == 0:
        print(f"no validation example fits in max_length={settings.max_length}; validation loss skipped", file=sys.stderr)
        before = None

    torch.manual_seed(settings.seed)
    peft_model = get_peft_model(model, peft_config(settings.method, settings, settings.max_steps,
                                                   model.config.num_hidden_layers))
    trainable, total = peft_model.get_nb_trainable_parameters()
    print(f"{settings.method}: {trainable:,} trainable of {total:,} parameters", file=sys.stderr)
    args = TrainingArguments(
        output_dir=str(checkpoints), max_steps=settings.max_steps, per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum, learning_rate=settings.learning_rate,
        lr_scheduler_type="cosine", warmup_steps=max(0, round(settings.warmup_ratio * settings.max_steps)),
        weight_decay=settings.weight_decay, logging_steps=settings.logging_steps, save_steps=settings.save_steps,
        save_total_limit=1, seed=settings.seed, report_to=[], disable_tqdm=True, dataloader_num_workers=0,
        remove_unused_columns=False, train_sampling_strategy="group_by_length",
        use_cpu=not torch.cuda.is_available(),
    )
    callbacks = [_progress_callback(settings.max_steps)]
    if settings.method == "adalora":
        callbacks.append(_adalora_callback(peft_model))
    trainer = answer_trainer_class()(model=peft_model, args=args, train_dataset=_ListDataset(train_items),
                      data_collator=PadCollator(tokenizer.pad_token_id), callbacks=callbacks)
    trainer.remove_callback(PrinterCallback)  # it prints log dicts on stdout; the progress bar shows the loss
    started = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=True if resume else None)
    seconds = time.perf_counter() - started
    after = answer_loss(peft_model, tokenizer, val_examples, settings.system, settings.max_length) if before else None
    answers = _grounded_answers(pack, peft_model, tokenizer, val_examples, settings) if evaluate else {}

    peft_model.peft_config["default"].base_model_name_or_path = base_model_id(base)
    with warnings.catch_warnings():  # peft looks the hub id up to check the vocabulary; offline that only warns
        warnings.simplefilter("ignore", UserWarning)
        peft_model.save_pretrained(out)
    (out / "README.md").unlink(missing_ok=True)  # peft's template model card; the training card replaces it
    card = _card(pack, settings, base, train_path, val_path, len(train_items), len(val_examples), output.metrics,
                 trainer.state, seconds, before, after)
    card.update(answers)
    write_card(out, card)
    if not keep_checkpoints:
        shutil.rmtree(checkpoints, ignore_errors=True)
    return TuneResult(out, card)


def _grounded_answers(pack: Pack, peft_model: Any, tokenizer: Any, val_examples: list[Example],
                      settings: TuneSettings) -> dict[str, Any]:
    """Answer metrics of the base model and of the adapter on the grounded validation examples, for the card."""
    if settings.answer_examples <= 0:
        return {}
    from domainrag.prompts import PromptTemplates
    from domainrag.tune.answer_metrics import grounded_answer_metrics
    from domainrag.tune.evaluate import generate

    refusal = PromptTemplates.from_pack(pack).no_context

    def write(examples: list[Example]) -> list[str]:
        return generate(peft_model, tokenizer, examples, settings.system, settings.answer_max_new_tokens)

    def write_without_adapter(examples: list[Example]) -> list[str]:
        with peft_model.disable_adapter():
            return write(examples)

    print("answering grounded validation examples (base, then adapter) ...", file=sys.stderr)
    base = grounded_answer_metrics(write_without_adapter, val_examples, refusal, settings.answer_examples)
    if base is None:
        return {}
    return {"answers_base": base,
            "answers_adapter": grounded_answer_metrics(write, val_examples, refusal, settings.answer_examples)}


def _card(pack: Pack, settings: TuneSettings, base: str, train_path: Path, val_path: Path | None, n_train: int,
          n_val: int, metrics: dict, state: Any, seconds: float, before: LossResult | None,
          after: LossResult | None) -> dict[str, Any]:
    import importlib.metadata

    import torch

    files = [train_path] + ([val_path] if val_path else [])
    losses = [entry["loss"] for entry in state.log_history if "loss" in entry]
    versions = {name: importlib.metadata.version(name) for name in ("domainrag", "torch", "transformers", "peft")}
    hyper = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(settings).items()}
    return {
        "pack": pack.name, "method": settings.method, "base_model": base_model_id(base), "base_model_spec": base,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)",
        "data": {"train": train_path.name, "validation": val_path.name if val_path else None,
                 "train_examples": n_train, "validation_examples": n_val, "sha256": file_sha256(*files)},
        "hyperparameters": hyper, "steps": state.global_step,
        "train_loss": round(float(metrics.get("train_loss", float("nan"))), 4),
        "train_loss_first_logged": losses[0] if losses else None, "train_loss_last_logged": losses[-1] if losses else None,
        "validation_base": before.to_dict() if before else None,
        "validation_adapter": after.to_dict() if after else None,
        "steps_per_second": round(float(metrics.get("train_steps_per_second", 0.0)), 3),
        "train_seconds": round(seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_gpu_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if torch.cuda.is_available() else None,
        "versions": versions,
    }
