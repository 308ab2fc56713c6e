"""One prompt format for training, evaluation and generation: the tokenizer's chat template.

Loss is taken on the answer tokens only: prompt positions get the label -100.
"""

from __future__ import annotations

from typing import Any

from domainrag.instruct.records import Example

IGNORE_INDEX = -100
MIN_ANSWER_TOKENS = 4


def prompt_text(tokenizer: Any, example: Example, system: str) -> str:
    """System + user turn, ending where the assistant's answer starts."""
    if getattr(tokenizer, "chat_template", None):
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": example.prompt}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    header = f"{system}\n\n" if system else ""
    return f"{header}### Instruction:\n{example.prompt}\n\n### Response:\n"


def encode(tokenizer: Any, example: Example, system: str, max_length: int) -> dict[str, list[int]] | None:
    """input_ids / attention_mask / labels, answer truncated to fit; None when the prompt alone is too long."""
    prompt_ids = tokenizer(prompt_text(tokenizer, example, system), add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(example.output, add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        answer_ids = answer_ids + [tokenizer.eos_token_id]
    room = max_length - len(prompt_ids)
    if room < min(MIN_ANSWER_TOKENS, len(answer_ids)):
        return None
    answer_ids = answer_ids[:room]
    ids = prompt_ids + answer_ids
    return {"input_ids": ids, "attention_mask": [1] * len(ids),
            "labels": [IGNORE_INDEX] * len(prompt_ids) + answer_ids}


def encode_all(tokenizer: Any, examples: list[Example], system: str, max_length: int) -> tuple[list[dict], int]:
    """Encoded examples and how many were dropped because their prompt did not fit."""
    encoded = [encode(tokenizer, example, system, max_length) for example in examples]
    kept = [item for item in encoded if item is not None]
    return kept, len(encoded) - len(kept)


class PadCollator:
    """Right-pads a batch; labels are padded with -100 so padding never counts in the loss."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, features: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        batch = {"input_ids": [], "attention_mask": [], "labels": []}
        for feature in features:
            pad = width - len(feature["input_ids"])
            batch["input_ids"].append(feature["input_ids"] + [self.pad_token_id] * pad)
            batch["attention_mask"].append(feature["attention_mask"] + [0] * pad)
            batch["labels"].append(feature["labels"] + [IGNORE_INDEX] * pad)
        return {key: torch.tensor(value, dtype=torch.long) for key, value in batch.items()}
