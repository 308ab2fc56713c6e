"""PEFT fine-tuning of a pack's base model on its instruction data (LoRA, AdaLoRA, IA3, prefix, prompt, p-tuning)."""

from domainrag.tune.methods import METHODS
from domainrag.tune.train import TuneResult, TuneSettings, tune

__all__ = ["METHODS", "TuneResult", "TuneSettings", "tune"]
