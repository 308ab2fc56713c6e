"""Thumbs up/down on answers, appended to ``DOMAINRAG_HOME/feedback/feedback.jsonl``.

Each line holds the question, the conversation before it, the answer with its citations and the retrieved
passages, the rating, the pack and a timestamp, so rated answers can later become instruction data.
Changing a rating appends a new line with the same ``id``; :func:`load_feedback` keeps the latest line per id.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from domainrag.config import domainrag_home

RATINGS = {0: "down", 1: "up"}  # st.feedback("thumbs") values
_lock = threading.Lock()


def feedback_path() -> Path:
    folder = domainrag_home() / "feedback"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "feedback.jsonl"


def record_feedback(message_id: str, rating: int | None, pack: str, kb: str, question: str,
                    answer: dict[str, Any], history: list[dict[str, str]]) -> dict[str, Any]:
    """Append one rating (``rating`` None = the rating was withdrawn); returns the stored record."""
    record = {
        "id": message_id, "ts": time.time(), "pack": pack, "kb": kb,
        "rating": RATINGS.get(rating) if rating is not None else None,
        "question": question, "history": history,
        "standalone_question": answer.get("standalone_question") or question,
        "answer": answer.get("answer", ""), "citations": answer.get("citations", []),
        "sources": answer.get("sources", []),
        "model": answer.get("model"), "adapter": answer.get("adapter"), "cache_hit": answer.get("cache_hit"),
    }
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with _lock, feedback_path().open("a", encoding="utf-8") as stream:
        stream.write(line)
    return record


def load_feedback(path: Path | None = None) -> list[dict[str, Any]]:
    """The latest rating per answer (withdrawn ratings dropped), oldest first; bad lines are skipped."""
    path = path or feedback_path()
    latest: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "id" in record:
                latest.pop(record["id"], None)
                latest[record["id"]] = record
    return [r for r in latest.values() if r.get("rating")]
