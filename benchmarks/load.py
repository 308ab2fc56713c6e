"""Load test of ``domainrag serve`` on loopback: N clients for T seconds of mixed traffic.

Each client loops over: a cached question (the same one each time), a fresh one (cache off), a streamed one, a
bad request (expects 400) and a client that leaves after ``--leave-after`` s; a separate probe times ``/health``.
Prints the status counts, 5xx, hung requests (no reply within ``--timeout``), ``/health`` p50/p99, throughput and
latency percentiles per kind. With more clients than ``--max-concurrent`` + ``--max-queue`` the overflow should
show as 429s, not timeouts.

    domainrag serve --pack law --max-tokens-limit 32 &          # start the server first (loopback only)
    python benchmarks/load.py --url http://127.0.0.1:8000 [--clients 16] [--seconds 300] [--api-key KEY]
"""

from __future__ import annotations

import argparse
import collections
import ipaddress
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentile  # noqa: E402

QUESTION = "盗窃公私财物数额较大的怎么处罚？"
FRESH = ["抢劫罪怎么处罚？", "什么是正当防卫？", "诈骗罪的量刑标准是什么？", "故意伤害罪判几年？", "贪污罪如何认定？"]
BAD = [{"messages": [{"role": "user", "content": QUESTION}], "k": "abc"}, {"model": ["law"], "messages": []},
       {"messages": [{"role": "user", "content": QUESTION}], "max_tokens": -5}]
KINDS = ("cached", "fresh", "streamed", "bad", "leaves")


def loopback_url(url: str) -> str:
    """``url`` without a trailing slash; refuses anything but a loopback host (this sends a lot of traffic)."""
    host = urlparse(url).hostname or ""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if not local:
        raise SystemExit(f"error: {url} is not on loopback; the load test only targets 127.0.0.1 / ::1 / localhost")
    return url.rstrip("/")


class Results:
    """Counts and latencies, shared by the client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.status: collections.Counter[str] = collections.Counter()
        self.latency: dict[str, list[float]] = collections.defaultdict(list)
        self.hung = 0

    def add(self, kind: str, status: str, seconds: float) -> None:
        with self.lock:
            self.status[status] += 1
            self.latency[kind].append(seconds * 1000)
            self.hung += status == "hung"


def request(client: Any, url: str, kind: str, n: int, args: argparse.Namespace) -> tuple[str, float]:
    """One request of ``kind``: (its status code as text, "left" or "hung"; the Retry-After of a 429 in s)."""
    import httpx

    messages = [{"role": "user", "content": QUESTION if kind == "cached" else FRESH[n % len(FRESH)]}]
    body: dict[str, Any] = {"model": args.model, "messages": messages, "max_tokens": args.max_tokens,
                            "use_cache": kind == "cached", "user": uuid.uuid4().hex}
    if kind == "bad":
        body = BAD[n % len(BAD)]
    try:
        if kind == "streamed":
            with client.stream("POST", f"{url}/v1/chat/completions", json={**body, "stream": True}) as response:
                for _ in response.iter_lines():
                    pass
        else:
            timeout = args.leave_after if kind == "leaves" else args.timeout
            response = client.post(f"{url}/v1/chat/completions", json=body, timeout=timeout)
    except httpx.TimeoutException:
        return ("left" if kind == "leaves" else "hung"), 0.0
    except httpx.TransportError as exc:
        return f"error:{type(exc).__name__}", 0.0
    retry = response.headers.get("Retry-After", "0") if response.status_code == 429 else "0"
    return str(response.status_code), float(retry) if retry.isdigit() else 1.0


def client_loop(url: str, args: argparse.Namespace, deadline: float, results: Results, offset: int) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    with httpx.Client(headers=headers, timeout=args.timeout) as client:
        for n in range(args.max_requests):
            if time.monotonic() >= deadline:
                return
            kind = KINDS[(n + offset) % len(KINDS)]
            started = time.monotonic()
            status, retry_after = request(client, url, kind, n, args)
            results.add(kind, status, time.monotonic() - started)
            time.sleep(max(0.0, min(retry_after, args.max_backoff, deadline - time.monotonic())))  # as clients do


def health_loop(url: str, deadline: float, every_s: float, out: list[float]) -> None:
    import httpx

    with httpx.Client(timeout=10) as client:
        while time.monotonic() < deadline and len(out) < 100_000:
            started = time.monotonic()
            try:
                client.get(f"{url}/health")
                out.append((time.monotonic() - started) * 1000)
            except httpx.HTTPError:
                out.append(float("inf"))
            time.sleep(every_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server (loopback only)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--model", default=None, help="pack name (default: the served one)")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=60.0, help="a request with no reply by then counts as hung")
    parser.add_argument("--leave-after", type=float, default=1.0, help="when the leaving client hangs up (s)")
    parser.add_argument("--max-backoff", type=float, default=5.0, help="longest wait on a 429's Retry-After (s)")
    parser.add_argument("--max-requests", type=int, default=10_000, help="per client, whatever the time left")
    args = parser.parse_args()
    url = loopback_url(args.url)

    results, health = Results(), []
    deadline = time.monotonic() + args.seconds
    threads = [threading.Thread(target=client_loop, args=(url, args, deadline, results, i), daemon=True)
               for i in range(args.clients)]
    threads.append(threading.Thread(target=health_loop, args=(url, deadline, 0.2, health), daemon=True))
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(args.seconds + args.timeout + 30)
    elapsed = time.monotonic() - started

    total = sum(results.status.values())
    server_errors = sum(count for status, count in results.status.items() if status.startswith("5"))
    print(f"{args.clients} clients × {args.seconds:.0f} s against {url}: {total} requests in {elapsed:.1f} s "
          f"({total / elapsed:.2f}/s)")
    print("status:", ", ".join(f"{status} {count}" for status, count in sorted(results.status.items())))
    print(f"5xx: {server_errors}   hung: {results.hung}   429: {results.status.get('429', 0)}")
    finite = [ms for ms in health if ms != float("inf")]
    print(f"/health: {len(health)} probes, {len(health) - len(finite)} failed, "
          f"p50 {percentile(finite, 50):.1f} ms, p99 {percentile(finite, 99):.1f} ms")
    for kind in KINDS:
        values = results.latency.get(kind, [])
        if values:
            print(f"  {kind:9s} n={len(values):5d}  p50 {percentile(values, 50):8.0f} ms  "
                  f"p95 {percentile(values, 95):8.0f} ms  p99 {percentile(values, 99):8.0f} ms")
    sys.exit(1 if server_errors or results.hung else 0)


if __name__ == "__main__":
    main()
