"""PEFT configurations for the supported tuning methods."""

from __future__ import annotations

from typing import Any

from domainrag.errors import ConfigError

METHODS = ("lora", "adalora", "ia3", "prefix", "prompt", "p-tuning")
MERGEABLE = ("lora", "adalora", "ia3")
# Learning rates that suit each method when neither the pack nor the command line sets one.
DEFAULT_LR = {"lora": 5e-4, "adalora": 1e-3, "ia3": 5e-3, "prefix": 1e-2, "prompt": 3e-2, "p-tuning": 3e-3}


def check_method(method: str) -> str:
    """The method name, or a ConfigError listing the valid ones."""
    name = method.lower().replace("_", "-")
    name = {"ptuning": "p-tuning", "prefix-tuning": "prefix", "prompt-tuning": "prompt"}.get(name, name)
    if name not in METHODS:
        raise ConfigError(f"unknown tuning method {method!r}: choose one of {', '.join(METHODS)}")
    return name


def peft_config(method: str, settings: Any, total_steps: int, num_layers: int = 0) -> Any:
    """A peft config for ``method`` from the tuning settings (r, alpha, target modules, virtual tokens).

    ``settings.top_layers`` > 0 puts LoRA/AdaLoRA only in the top layers: back-propagation then stops
    there, which saves a good part of the compute on a CPU.
    """
    from peft import (AdaLoraConfig, IA3Config, LoraConfig, PrefixTuningConfig, PromptEncoderConfig,
                      PromptTuningConfig, TaskType)

    task = TaskType.CAUSAL_LM
    method = check_method(method)
    top = getattr(settings, "top_layers", 0)
    layers = list(range(num_layers - top, num_layers)) if 0 < top < num_layers else None
    if method == "lora":
        return LoraConfig(task_type=task, r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                          target_modules=list(settings.target_modules), layers_to_transform=layers)
    if method == "adalora":
        total = max(total_steps, 1)
        tinit, tfinal = total // 10, total // 5
        if tinit >= total - tfinal:
            tinit = tfinal = 0
        return AdaLoraConfig(task_type=task, init_r=max(settings.r * 3 // 2, settings.r), target_r=settings.r,
                             lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                             target_modules=list(settings.target_modules), total_step=total, tinit=tinit,
                             tfinal=tfinal, deltaT=max(1, total // 20), layers_to_transform=layers)
    if method == "ia3":
        return IA3Config(task_type=task, target_modules=["k_proj", "v_proj", "down_proj"],
                         feedforward_modules=["down_proj"])
    if method == "prefix":
        return PrefixTuningConfig(task_type=task, num_virtual_tokens=settings.num_virtual_tokens)
    if method == "prompt":
        return PromptTuningConfig(task_type=task, num_virtual_tokens=settings.num_virtual_tokens)
    return PromptEncoderConfig(task_type=task, num_virtual_tokens=settings.num_virtual_tokens, encoder_hidden_size=128)
