"""Fault injection for crash tests and the faults benchmark.

``DOMAINRAG_FAULT=STEP[:N[:DELAY_S[:TARGET]]]`` SIGKILLs this process (TARGET ``self``, the default) or its
Milvus Lite server (``milvus``) the N-th time (default 1) the ingest pipeline reaches STEP, DELAY_S seconds
later (default 0: at once, so the state it leaves is known). Steps (``STEPS``):

    after_upsert  a batch's chunks are written; its files' stale chunks and manifest entries are not
    mid_delete    between two batches of one file's chunk deletes (a changed or a removed file)
    after_record  one file is recorded in the manifest, the rest of its batch is not
    flush         a flush of the written data begins

The variable is read once, at import; unset, ``hit`` is a function that returns at once.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FAULT_ENV = "DOMAINRAG_FAULT"
STEPS = ("after_upsert", "mid_delete", "after_record", "flush")
TARGETS = ("self", "milvus")


@dataclass(frozen=True)
class FaultPlan:
    """Where and how to crash: the N-th arrival at ``step``, ``delay_s`` later, killing ``target``."""

    step: str
    count: int = 1
    delay_s: float = 0.0
    target: str = "self"

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        parts = spec.split(":")
        plan = cls(parts[0], int(parts[1] or 1) if len(parts) > 1 else 1,
                   float(parts[2] or 0) if len(parts) > 2 else 0.0, parts[3] if len(parts) > 3 else "self")
        if plan.step not in STEPS or plan.target not in TARGETS or plan.count < 1 or plan.delay_s < 0:
            raise ValueError(f"{FAULT_ENV}={spec!r}: expected STEP[:N[:DELAY_S[:TARGET]]] with STEP one of "
                             f"{', '.join(STEPS)} and TARGET self or milvus")
        return plan

    def __str__(self) -> str:
        return f"{self.step}:{self.count}:{self.delay_s:g}:{self.target}"


def milvus_pids(parent: int) -> list[int]:
    """The Milvus Lite server processes started by process ``parent`` (Linux: read from /proc)."""
    found = []
    for task in Path(f"/proc/{parent}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for pid in map(int, children):
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "milvus":
                    found.append(pid)
            except OSError:
                continue
    return found


def kill(target: str, pid: int | None = None) -> list[int]:
    """SIGKILL process ``pid`` (default: this one) or, for target ``milvus``, its Milvus Lite servers."""
    pid = pid or os.getpid()
    victims = milvus_pids(pid) if target == "milvus" else [pid]
    for victim in victims:
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return victims


class _Armed:
    """Counts arrivals at the planned step and kills on the planned one."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.seen = 0
        self.lock = threading.Lock()

    def __call__(self, step: str) -> None:
        if step != self.plan.step:
            return
        with self.lock:
            self.seen += 1
            if self.seen != self.plan.count:
                return
        if self.plan.delay_s <= 0:
            kill(self.plan.target)
            return
        timer = threading.Timer(self.plan.delay_s, kill, args=(self.plan.target,))
        timer.daemon = True
        timer.start()


def _noop(step: str) -> None:
    """No fault planned."""


def _armed_from_env() -> _Armed | None:
    spec = os.environ.get(FAULT_ENV, "").strip()
    return _Armed(FaultPlan.parse(spec)) if spec else None


_ARMED = _armed_from_env()
hit: Callable[[str], None] = _ARMED if _ARMED is not None else _noop  # the pipeline calls hit("<step>")


class SimulatedCrash(RuntimeError):
    """Raised by ``hit`` inside ``raise_at``."""


@contextmanager
def raise_at(step: str) -> Iterator[None]:
    """In-process fault for tests: while the block runs, reaching ``step`` raises ``SimulatedCrash`` (the
    ingest stops there, as a crash would, without a subprocess)."""
    global hit

    def crash(reached: str) -> None:
        if reached == step:
            raise SimulatedCrash(f"simulated crash at {step}")

    previous, hit = hit, crash
    try:
        yield
    finally:
        hit = previous


def release_lite(uri: str) -> None:
    """Close this process's client of a Milvus Lite file and stop its server, so another process can open it."""
    from milvus_lite.server_manager import server_manager_instance

    from domainrag.store import disconnect

    disconnect(uri)
    server_manager_instance.release_server(uri)


def lite_servers(db: str | Path) -> list[int]:
    """Milvus Lite server processes serving ``db``, whoever started them (Linux: read from /proc)."""
    wanted = str(Path(db).absolute()).encode()
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"/milvus") and wanted in args:
            found.append(int(cmdline.parent.name))
    return found


def wait_released(db: str | Path, timeout_s: float = 30.0) -> None:
    """Wait until no Milvus Lite server holds ``db`` (one left by a killed ingest stops once it sees its
    owner gone); opening the file earlier would start a second server on it."""
    deadline = time.monotonic() + timeout_s
    while lite_servers(db):
        if time.monotonic() > deadline:
            raise TimeoutError(f"a Milvus Lite server still holds {db} after {timeout_s:g} s")
        time.sleep(0.1)


@dataclass
class KBState:
    """What a knowledge base holds: every stored chunk id (with repeats) and the manifest."""

    ids: Counter[str]
    manifest: dict[str, tuple[str, int]]  # source → (file hash, chunks)
    by_source: Counter[str]

    @classmethod
    def read(cls, store: Any, kb: str) -> KBState:
        rows = list(store.iter_chunks(kb, ["id", "source"]))
        manifest = {source: (row["file_hash"], row["chunks"]) for source, row in store.manifest(kb).items()}
        return cls(Counter(r["id"] for r in rows), manifest, Counter(r["source"] for r in rows))

    def lost(self, clean: KBState) -> int:
        """Chunks of the clean run missing here."""
        return len(set(clean.ids) - set(self.ids))

    def duplicated(self) -> int:
        """Stored rows beyond the first of each chunk id."""
        return sum(self.ids.values()) - len(self.ids)

    def extra(self, clean: KBState) -> int:
        """Chunks stored here that a clean run does not have (stale chunks that survived)."""
        return len(set(self.ids) - set(clean.ids))
