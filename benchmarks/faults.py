"""Crash safety under random kills: every kill followed by a clean re-run must leave exactly a clean run's chunks.

Each round copies a base knowledge base (an older version of a few law files), starts ``domainrag ingest`` of
the current version (one file changed, one new, one removed: upserts, stale deletes, a prune, a flush) with
DOMAINRAG_FAULT set to a random plan: a step the clean run reaches, the N-th time it is reached, a delay (none
for half the plans, else random up to 50 ms, so the kill lands inside the requests to Milvus that follow) and
the ingest process or its Milvus Lite server as the victim. A round whose ingest ends before the kill lands is
not counted and is drawn again. After each kill the ingest is re-run in this process and compared
with a clean run measured at the start: chunks lost, chunks stored twice, stale chunks left, manifest entries
that differ.

    python benchmarks/faults.py [--kills 20] [--seed 0] [--max-delay 0.05] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, quiet  # noqa: E402

LAW = REPO / "domains" / "law" / "corpus" / "民法商法"
CHANGED = "个人独资企业法(1999-08-30).md"  # one article amended
NEW = "农民专业合作社法(2017-12-27).md"  # not in the base
REMOVED = "合伙企业法(2006-08-27).md"  # in the base only: pruned (more chunks than one delete request)
KB = "faults"


def write_corpus(folder: Path, current: bool) -> None:
    """The base (``current=False``) or the current version of the corpus, in place."""
    for name in (CHANGED, NEW, REMOVED):
        (folder / name).unlink(missing_ok=True)
    text = (LAW / CHANGED).read_text(encoding="utf-8")
    if current:
        text = text.replace("第二条 本法所称个人独资企业", "第二条 本法所称（已修订）个人独资企业")
        shutil.copy(LAW / NEW, folder / NEW)
    else:
        shutil.copy(LAW / REMOVED, folder / REMOVED)
    (folder / CHANGED).write_text(text, encoding="utf-8")


def ingest_here(db: Path, corpus: Path) -> Any:
    """Ingest ``corpus`` into ``db`` in this process; the KB's state, then the file is released."""
    from domainrag import DomainRAG
    from domainrag.ingestion.faults import KBState, release_lite

    rag = DomainRAG.from_pack("law", uri=str(db), kb=KB)
    rag.ingest(corpus, batch_size=16)
    state = KBState.read(rag.store, KB)
    release_lite(str(db))
    return state


def count_steps(base_db: Path, work: Path, corpus: Path) -> tuple[Any, Counter[str]]:
    """The clean run (base → current version) and how often it reaches each fault step."""
    from domainrag.ingestion import faults

    db = work / "clean.db"
    shutil.copy(base_db, db)
    steps: Counter[str] = Counter()
    previous, faults.hit = faults.hit, lambda step: steps.update([step])
    try:
        clean = ingest_here(db, corpus)
    finally:
        faults.hit = previous
    return clean, steps


def kill_round(plan: str, base_db: Path, work: Path, corpus: Path, clean: Any) -> dict[str, Any] | None:
    """One ingest killed by ``plan`` and one re-run; None when the ingest ended before the kill landed."""
    from domainrag.ingestion.faults import FAULT_ENV, wait_released

    db = work / "round.db"
    shutil.copy(base_db, db)
    env = {**os.environ, FAULT_ENV: plan}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "domainrag.cli.main", "ingest", str(corpus), "--pack", "law",
                           "--uri", str(db), "--kb", KB, "--batch-size", "16", "--json"],
                          env=env, capture_output=True, timeout=300)
    wait_released(db)
    killed = proc.returncode != 0
    result = None
    if killed:
        state = ingest_here(db, corpus)
        result = {"plan": plan, "exit": proc.returncode, "ingest_s": round(time.perf_counter() - started, 1),
                  "lost": state.lost(clean), "duplicated": state.duplicated(), "stale": state.extra(clean),
                  "manifest_diff": len(set(state.manifest.items()) ^ set(clean.manifest.items()))}
    db.unlink()
    return result


def random_plan(rng: random.Random, steps: Counter[str], max_delay: float) -> str:
    step = rng.choice(sorted(steps))
    delay = round(rng.uniform(0, max_delay), 3) if rng.random() < 0.5 else 0
    return f"{step}:{rng.randint(1, steps[step])}:{delay:g}:{rng.choice(['self', 'milvus'])}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-delay", type=float, default=0.05,
                        help="longest delay (s) between step and kill: it lands inside the requests that follow")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet()
    started = time.perf_counter()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="domainrag-faults-") as tmp:
        work = Path(tmp)
        os.environ["DOMAINRAG_HOME"] = str(work / "home")
        corpus = work / "corpus"
        corpus.mkdir()
        write_corpus(corpus, current=False)
        base_db = work / "base.db"
        ingest_here(base_db, corpus)
        write_corpus(corpus, current=True)
        clean, steps = count_steps(base_db, work, corpus)
        rounds: list[dict[str, Any]] = []
        attempts = 0
        while len(rounds) < args.kills and attempts < 3 * args.kills:
            attempts += 1
            result = kill_round(random_plan(rng, steps, args.max_delay), base_db, work, corpus, clean)
            if result is not None:
                rounds.append(result)
                if not args.json:
                    print(f"  kill {len(rounds):2d}  {result['plan']:<28} exit {result['exit']:>4}"
                          f"  lost {result['lost']}  duplicated {result['duplicated']}  stale {result['stale']}",
                          file=sys.stderr)
    summary = {
        "kills": len(rounds), "attempts": attempts,
        "victims": dict(Counter(r["plan"].rsplit(":", 1)[1] for r in rounds)),
        "steps": dict(Counter(r["plan"].split(":", 1)[0] for r in rounds)),
        "lost_chunks": sum(r["lost"] for r in rounds), "duplicated_chunks": sum(r["duplicated"] for r in rounds),
        "stale_chunks": sum(r["stale"] for r in rounds),
        "manifest_diffs": sum(r["manifest_diff"] for r in rounds),
        "clean_run_chunks": sum(clean.ids.values()), "clean_run_step_hits": dict(steps),
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.json:
        print(json.dumps({**summary, "rounds": rounds}, ensure_ascii=False, indent=1))
    else:
        print(f"kills done        {summary['kills']} ({summary['attempts']} tries; victims {summary['victims']}; "
              f"steps {summary['steps']})")
        print(f"lost chunks       {summary['lost_chunks']}")
        print(f"duplicated chunks {summary['duplicated_chunks']}")
        print(f"stale chunks left {summary['stale_chunks']}  manifest entries differing {summary['manifest_diffs']}")
        print(f"clean run         {summary['clean_run_chunks']} chunks (step hits {summary['clean_run_step_hits']})")
        print(f"seconds           {summary['seconds']}")
    failed = any(summary[key] for key in ("lost_chunks", "duplicated_chunks", "stale_chunks", "manifest_diffs"))
    return 1 if failed or len(rounds) < args.kills else 0


if __name__ == "__main__":
    sys.exit(main())
