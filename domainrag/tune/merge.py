"""Load a trained adapter onto its base model, or merge it into a standalone model folder."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from domainrag.errors import ConfigError, ModelError
from domainrag.tune.card import read_card
from domainrag.tune.methods import MERGEABLE


def adapter_method(adapter_dir: Path) -> str:
    """The tuning method recorded with the adapter (card first, else adapter_config's peft_type)."""
    card = read_card(adapter_dir)
    if card and card.get("method"):
        return str(card["method"])
    config = json.loads((Path(adapter_dir) / "adapter_config.json").read_text(encoding="utf-8"))
    return {"PROMPT_TUNING": "prompt", "P_TUNING": "p-tuning", "PREFIX_TUNING": "prefix"}.get(
        config.get("peft_type", ""), str(config.get("peft_type", "")).lower())


def load_adapter(adapter_dir: Path, base: str | None = None) -> tuple[Any, Any]:
    """(PeftModel, tokenizer): the adapter on a private copy of its base model, in eval mode."""
    from peft import PeftModel

    from domainrag.llm.local_model import load_model

    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").exists():
        raise ModelError(f"{adapter_dir}: no adapter_config.json; train one with `domainrag tune PACK --out {adapter_dir}`")
    card = read_card(adapter_dir) or {}
    model, tokenizer = load_model(base or card.get("base_model_spec") or "default")
    try:
        peft_model = PeftModel.from_pretrained(copy.deepcopy(model), str(adapter_dir))
    except (ValueError, RuntimeError, KeyError) as exc:
        raise ModelError(f"{adapter_dir}: adapter does not fit the base model ({str(exc)[:120]}); "
                         "pass the base it was trained on with --base") from None
    peft_model.eval()
    return peft_model, tokenizer


def merge_adapter(adapter_dir: Path, out: Path, base: str | None = None) -> Path:
    """Fold a LoRA/AdaLoRA/IA3 adapter into the base weights and save a plain model folder."""
    method = adapter_method(Path(adapter_dir))
    if method not in MERGEABLE:
        raise ConfigError(f"a {method} adapter cannot be merged into the weights (only {', '.join(MERGEABLE)}); "
                          "load it with peft instead")
    peft_model, tokenizer = load_adapter(adapter_dir, base)
    merged = peft_model.merge_and_unload()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
