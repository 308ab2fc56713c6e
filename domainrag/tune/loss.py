"""Loss on answer tokens only, with logits computed only where they count.

The vocabulary projection (49k rows for SmolLM2) is the costliest single step on a CPU; applying it
only at answer positions gives the same loss as the full forward pass for a fraction of the work.
"""

from __future__ import annotations

from typing import Any

from domainrag.tune.formatting import IGNORE_INDEX


def fast_path_ok(model: Any) -> bool:
    """True for LoRA/IA3-style adapters (or a plain model); prompt-learning and AdaLoRA need peft's forward."""
    config = getattr(model, "peft_config", {}).get(getattr(model, "active_adapter", "default"))
    if config is None:
        return hasattr(model, "get_decoder")
    return not config.is_prompt_learning and str(config.peft_type) not in ("PeftType.ADALORA", "ADALORA")


def answer_nll(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """(sum of next-token NLL over answer positions, number of answer tokens)."""
    import torch.nn.functional as F

    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE_INDEX
    count = int(mask.sum())
    if not fast_path_ok(model):
        loss = model(**batch).loss
        return loss * count, count
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = base.get_decoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    logits = base.get_output_embeddings()(hidden[:, :-1][mask])
    return F.cross_entropy(logits.float(), labels[mask], reduction="sum"), count


def answer_trainer_class() -> type:
    """A transformers Trainer whose loss is :func:`answer_nll` (single process; DDP uses the stock loss)."""
    from transformers import Trainer

    class AnswerLossTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
            if self.args.world_size > 1 or not fast_path_ok(model):
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            total, count = answer_nll(model, inputs)
            scaled = self.model_accepts_loss_kwargs and num_items_in_batch is not None
            loss = total / (num_items_in_batch if scaled else max(count, 1))
            return (loss, None) if return_outputs else loss

    return AnswerLossTrainer
