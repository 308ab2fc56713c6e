"""Law pack builder: statute articles → recitation, which-article-governs, completion and definition pairs.

Like Lawyer LLaMA / ChatLaw's statute data: the model learns to quote articles and to name the
article a provision comes from. ``settings`` is pack.toml ``[builder]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from domainrag.instruct.records import Example
from domainrag.instruct.sources import statute_articles
from domainrag.instruct.statute_tasks import statute_examples


def build(source: Path, settings: dict) -> Iterator[Example]:
    """Examples from every Markdown statute under ``source``."""
    tasks = tuple(settings.get("tasks", ("recite", "locate", "complete", "define", "extract")))
    yield from statute_examples(list(statute_articles(source)), tasks)
