"""The training card written beside an adapter: data hash, base model, method, hyper-parameters, losses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARD_JSON = "training_card.json"
CARD_MD = "training_card.md"


def read_card(adapter_dir: Path) -> dict[str, Any] | None:
    """The card of an adapter folder, or None when it has none."""
    path = Path(adapter_dir) / CARD_JSON
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _row(label: str, value: Any) -> str:
    return f"| {label} | {value} |"


_ANSWER_METRICS = (("rouge_l_words", "ROUGE-L (jieba words)"), ("cites_gold", "cites the gold passage"),
                   ("cites_any", "cites a given passage"), ("unsupported_mentions", "names an article not cited"),
                   ("refused", "refuses though the answer is there"),
                   ("refused_when_expected", "refuses when the answer is left out"))


def _answer_rows(card: dict[str, Any]) -> list[str]:
    """Base → adapter on the grounded validation examples (``tune/answer_metrics.py``), when measured."""
    before, after = card.get("answers_base") or {}, card.get("answers_adapter") or {}
    if not before or not after:
        return []
    rows = [_row("grounded answers (validation)", f"{after.get('examples')} examples, "
                 f"{after.get('answer_expected')} with the answer among the passages")]
    rows += [_row(f"{label}, base → adapter", f"{before[key]} → {after[key]}")
             for key, label in _ANSWER_METRICS if key in before and key in after]
    return rows


def write_card(adapter_dir: Path, card: dict[str, Any]) -> None:
    """Write the card as JSON and as a Markdown table."""
    adapter_dir.mkdir(parents=True, exist_ok=True)
    (adapter_dir / CARD_JSON).write_text(json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    before, after = card.get("validation_base") or {}, card.get("validation_adapter") or {}
    lines = [f"# Training card: {card.get('pack', '')} adapter", "",
             f"{card.get('method', '')} adapter for `{card.get('base_model', '')}`, trained with domainrag "
             f"{card.get('versions', {}).get('domainrag', '')} on the pack's builder data.", "",
             "| | |", "|---|---|",
             _row("pack", card.get("pack")), _row("base model", f"`{card.get('base_model')}`"),
             _row("method", card.get("method")), _row("device", card.get("device")),
             _row("training data", f"`{card.get('data', {}).get('train')}` ({card.get('data', {}).get('train_examples')} examples)"),
             _row("validation data", f"`{card.get('data', {}).get('validation')}` ({card.get('data', {}).get('validation_examples')} examples)"),
             _row("data sha256", f"`{card.get('data', {}).get('sha256', '')[:16]}…`"),
             _row("steps", card.get("steps")), _row("train loss (mean)", card.get("train_loss")),
             _row("validation loss base → adapter", f"{before.get('loss')} → {after.get('loss')}"),
             _row("validation perplexity base → adapter", f"{before.get('perplexity')} → {after.get('perplexity')}"),
             *_answer_rows(card),
             _row("steps/s", card.get("steps_per_second")), _row("peak RSS (MB)", card.get("peak_rss_mb")),
             _row("peak GPU memory (MB)", card.get("peak_gpu_mb")),
             _row("seconds", card.get("train_seconds")), "", "## Hyper-parameters", "", "```json",
             json.dumps(card.get("hyperparameters", {}), ensure_ascii=False, indent=2), "```", ""]
    (adapter_dir / CARD_MD).write_text("\n".join(lines), encoding="utf-8")
