"""Citation markers: keep ``[n]`` only when n numbers a passage that was given, also while streaming."""

from __future__ import annotations

import re

# [1]  [1, 2]  [1][2]  【1】  [1、3]  (full-width brackets and separators too)
MARKER = re.compile(r"[\[【［]\s*(\d{1,3}(?:\s*[,，、;；]\s*\d{1,3})*)\s*[\]】］]")
_OPEN = "[【［"
_MAX_MARKER = 24  # longer bracketed text is not a citation: flush it as it is


def _rewrite(match: re.Match[str], valid: set[int]) -> str:
    numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
    kept = [n for n in dict.fromkeys(numbers) if n in valid]
    return "".join(f"[{n}]" for n in kept)


def clean_citations(text: str, valid: set[int]) -> str:
    """Normalise markers to ``[n]`` and drop those that point at no given passage."""
    return MARKER.sub(lambda m: _rewrite(m, valid), text)


def cited_numbers(text: str) -> list[int]:
    """Passage numbers cited in ``text``, in order of first citation."""
    numbers = [int(n) for m in MARKER.finditer(text) for n in re.findall(r"\d+", m.group(1))]
    return list(dict.fromkeys(numbers))


class CitationFilter:
    """Cleans a stream of text deltas: holds back an open bracket until it closes, then emits it cleaned.

    The concatenation of everything ``feed``/``flush`` return equals ``clean_citations`` of the whole text,
    minus leading whitespace, so what a user sees streamed is exactly the final answer.
    """

    def __init__(self, valid: set[int]) -> None:
        self.valid = valid
        self._pending = ""
        self._started = False

    def feed(self, delta: str) -> str:
        text = self._pending + delta
        if not self._started:
            text = text.lstrip()
            self._started = bool(text)
        cut = max(text.rfind(ch) for ch in _OPEN)
        if cut >= 0 and not any(close in text[cut:] for close in "]】］") and len(text) - cut <= _MAX_MARKER:
            ready, self._pending = text[:cut], text[cut:]
        else:
            ready, self._pending = text, ""
        return clean_citations(ready, self.valid)

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return clean_citations(rest, self.valid)
