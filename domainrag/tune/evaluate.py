"""Validation loss / perplexity on answer tokens, and batched greedy generation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from domainrag.instruct.records import Example
from domainrag.tune.formatting import PadCollator, encode_all, prompt_text
from domainrag.tune.loss import answer_nll


@dataclass(frozen=True)
class LossResult:
    """Token-weighted mean loss over answer tokens and its perplexity."""

    loss: float
    perplexity: float
    tokens: int
    examples: int

    def to_dict(self) -> dict[str, float]:
        return {"loss": round(self.loss, 4), "perplexity": round(self.perplexity, 3), "tokens": self.tokens,
                "examples": self.examples}


def answer_loss(model: Any, tokenizer: Any, examples: list[Example], system: str, max_length: int,
                batch_size: int = 8) -> LossResult:
    """Mean negative log-likelihood of the answers given their prompts (the training objective)."""
    import torch

    encoded, _ = encode_all(tokenizer, examples, system, max_length)
    if not encoded:
        return LossResult(float("nan"), float("nan"), 0, 0)
    encoded.sort(key=lambda item: len(item["input_ids"]))
    collate = PadCollator(tokenizer.pad_token_id)
    device = next(model.parameters()).device
    total, tokens = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(encoded), batch_size):
            batch = {k: v.to(device) for k, v in collate(encoded[start:start + batch_size]).items()}
            nll, count = answer_nll(model, batch)
            total += float(nll)
            tokens += count
    model.train(was_training)
    mean = total / max(tokens, 1)
    return LossResult(mean, math.exp(min(mean, 50.0)), tokens, len(encoded))


def generate(model: Any, tokenizer: Any, examples: list[Example], system: str, max_new_tokens: int = 64,
             batch_size: int = 16) -> list[str]:
    """Greedy completions, one per example, in order."""
    import torch

    prompts = [prompt_text(tokenizer, example, system) for example in examples]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    outputs: list[str] = [""] * len(prompts)
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                batch = tokenizer([prompts[i] for i in chunk], return_tensors="pt", padding=True,
                                  add_special_tokens=False).to(device)
                generated = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                           pad_token_id=tokenizer.pad_token_id)
                width = batch["input_ids"].shape[1]
                for row, index in enumerate(chunk):
                    outputs[index] = tokenizer.decode(generated[row, width:], skip_special_tokens=True).strip()
    finally:
        tokenizer.padding_side = side
    return outputs
