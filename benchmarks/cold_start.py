"""Cold start: wall time of a fresh `domainrag ask` process, per embedding model of the knowledge base.

Ingests the law pack's sample corpus twice into a temporary DOMAINRAG_HOME: once with the pack's own model (its
static embedding, which model2vec computes without torch) and once with all-MiniLM-L6-v2 (`--embedding-model
default`, the law pack's model before, and the baseline here: a transformer, so asking imports torch and
sentence-transformers). Then, alternating between the two, it runs fresh `domainrag ask` processes (the law pack
answers extractively, so no generator loads): a cache miss (`--no-cache`) and a cache hit (the question answered
before). Prints the p50 / p95 wall time of each, in seconds, measured in the same run.

    python benchmarks/cold_start.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, p50_p95, print_result  # noqa: E402

QUESTION = "盗窃公私财物数额较大的，应当如何处罚？"
MODELS = {"pack model (static, model2vec)": None, "all-MiniLM-L6-v2 (baseline)": "default"}


def cli(*args: str) -> float:
    """Run ``domainrag ARGS`` in a fresh process; its wall time in seconds (a failure stops the benchmark)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "domainrag", *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"domainrag {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per model and case")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="cold-start-home-"))
    os.environ.update(DOMAINRAG_HOME=str(home), HF_HUB_OFFLINE="1")
    try:
        kbs = {}
        for index, (label, model) in enumerate(MODELS.items()):
            kb = f"cold{index}"
            extra = ["--embedding-model", model] if model else []
            seconds = cli("ingest", str(REPO / "domains" / "law" / "corpus"), "--pack", "law", "--kb", kb, *extra)
            print(f"{label}: ingested the pack corpus in {seconds:.1f} s", file=sys.stderr)
            cli("ask", QUESTION, "--pack", "law", "--kb", kb)  # stores the answer the hits are served from
            kbs[label] = kb
        times: dict[str, dict[str, list[float]]] = {label: {"miss": [], "hit": []} for label in MODELS}
        for run in range(args.runs):  # alternating, so a change in the machine's load affects both alike
            for label, kb in kbs.items():
                times[label]["miss"].append(cli("ask", QUESTION, "--pack", "law", "--kb", kb, "--no-cache"))
                times[label]["hit"].append(cli("ask", QUESTION, "--pack", "law", "--kb", kb))
            print(f"run {run + 1}/{args.runs}", file=sys.stderr)
        result = {f"{label}: {case} p50 / p95 s": [round(value, 2) for value in p50_p95(values)]
                  for label, cases in times.items() for case, values in cases.items()}
        result["runs"] = args.runs
        result["load_average"] = round(os.getloadavg()[0], 1)
        print_result(result, args.json, width=50)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
