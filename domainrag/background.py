"""Warm-up work started in daemon threads, whose failures stay silent: the same error is raised, as one clear line,
where the part is used."""

from __future__ import annotations

import threading
from collections.abc import Callable


def in_background(job: Callable[[], object], name: str) -> threading.Thread:
    """Run ``job`` in a started daemon thread named ``domainrag-<name>``; its exceptions are dropped."""

    def run() -> None:
        try:
            job()
        except Exception:  # noqa: BLE001 - see the module docstring
            pass

    thread = threading.Thread(target=run, name=f"domainrag-{name}", daemon=True)
    thread.start()
    return thread
