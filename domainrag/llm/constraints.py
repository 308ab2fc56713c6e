"""Constrained decoding of citation markers: inside ``[``/``【`` a local model can only write a passage number it
was given, then close the bracket.

``CitationMarkers`` is a transformers ``LogitsProcessor``. At each step it looks at the text generated so far;
while a marker is open it keeps, of the ``top_k`` most likely next tokens, those that keep the marker a prefix of
a valid one (``[2]``, ``[1, 3]``, ``【2】``) and masks the rest; when none of them fits it forces the token that
closes the marker (or, right after the bracket, the first valid number). Outside a marker nothing changes.
"""

from __future__ import annotations

import re
from typing import Any

_OPENERS = {"[": "]", "【": "】", "［": "］"}
_MARKER_BODY = re.compile(r"\s*(\d{1,3}(\s*[,，、]\s*\d{1,3})*)?(\s*[,，、]\s*)?\s*")


def _open_marker(text: str) -> tuple[str, str] | None:
    """(opening bracket, body so far) when ``text`` ends inside a marker, else None."""
    cut = max(text.rfind(ch) for ch in _OPENERS)
    if cut < 0:
        return None
    body = text[cut + 1:]
    if any(close in body for close in _OPENERS.values()) or len(body) > 12:
        return None
    return text[cut], body


def marker_prefix_ok(body: str, valid: set[int], closing: str) -> bool:
    """True when ``body`` (text after the bracket) can still become a valid marker, or just closed one."""
    closed = body.endswith(closing)
    inner = body[:-1] if closed else body
    match = _MARKER_BODY.fullmatch(inner)
    if match is None or any(close in inner for close in _OPENERS.values()):
        return False
    numbers = re.findall(r"\d+", inner)
    if closed:
        return bool(numbers) and not match.group(3) and all(int(n) in valid for n in numbers)
    *done, last = numbers or [""]
    if any(int(n) not in valid for n in done):
        return False
    if not last:
        return True
    ends_with_digit = inner.rstrip() == inner and inner[-1:].isdigit()
    if ends_with_digit:  # the last number may still grow: 1 → 12
        return any(str(v).startswith(last) for v in valid)
    return int(last) in valid


class CitationMarkers:
    """LogitsProcessor: citation markers name only given passages (see the module docstring)."""

    def __init__(self, tokenizer: Any, valid: set[int], prompt_length: int, top_k: int = 24) -> None:
        self.tokenizer = tokenizer
        self.valid = set(valid)
        self.prompt_length = prompt_length
        self.top_k = top_k
        self._closers = {close: self._token_for(close) for close in _OPENERS.values()}
        self._first = self._token_for(str(min(self.valid))) if self.valid else None

    def _token_for(self, text: str) -> int | None:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids[0] if len(ids) == 1 else None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        for row in range(input_ids.shape[0]):
            generated = input_ids[row, self.prompt_length:].tolist()
            tail = self.tokenizer.decode(generated[-12:], skip_special_tokens=True) if generated else ""
            state = _open_marker(tail)
            if state is None:
                continue
            opener, body = state
            closing = _OPENERS[opener]
            candidates = torch.topk(scores[row], min(self.top_k, scores.shape[-1])).indices.tolist()
            allowed = [tok for tok in candidates
                       if marker_prefix_ok(body + self.tokenizer.decode([tok]), self.valid, closing)]
            if not allowed:
                fallback = self._closers[closing] if re.search(r"\d", body) else self._first
                allowed = [fallback] if fallback is not None else []
            if allowed:
                keep = scores[row, allowed].clone()
                scores[row] = torch.full_like(scores[row], float("-inf"))
                scores[row, allowed] = keep
        return scores
