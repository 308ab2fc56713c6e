"""Helpers shared by the benchmark scripts: locating ../shared/data and printing figures."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DOMAINRAG_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path | None:
    """A path under ../shared/data, or None (with a note on stderr) when it is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        print(f"skip: {path} not found (benchmarks read ../shared/data when it is present)", file=sys.stderr)
        return None
    return path


def open_kb(pack: str, uri: str, kb: str | None, first: str = "ingest it first"):
    """The pack's DomainRAG on the existing KB ``kb`` at ``uri``; exits with an error naming it (and ``first``, what
    makes it) when there is none."""
    from domainrag import DomainRAG

    rag = DomainRAG.from_pack(pack, uri=uri, kb=kb)
    if not rag.store.has_kb(rag.kb):
        raise SystemExit(f"error: no knowledge base {rag.kb!r} at {uri}; {first}")
    return rag


def open_law_kb(uri: str, kb: str):
    """The law pack's DomainRAG on an existing whole-corpus KB (``open_kb``)."""
    return open_kb("law", uri, kb, "run benchmarks/retrieval.py first (it ingests the whole law/laws corpus)")


def pack_kb(pack: str, uri: str | None, kb: str | None, corpus: Path | None, sample_kb: str):
    """The pack's DomainRAG and a line naming its corpus: the existing KB ``kb`` at ``uri`` (``open_kb``), else
    ``corpus`` ingested into a temporary KB named ``sample_kb``."""
    from domainrag import DomainRAG

    if uri:
        rag = open_kb(pack, uri, kb)
        return rag, f"{uri} kb={rag.kb}"
    if corpus is None:
        raise SystemExit("error: name the documents to ingest, or --uri/--kb of a knowledge base holding them")
    home = Path(tempfile.mkdtemp(prefix="domainrag-bench-"))
    rag = DomainRAG.from_pack(pack, uri=str(home / "milvus.db"), kb=sample_kb)
    print(f"ingesting {corpus} into a temporary KB …", file=sys.stderr)
    rag.ingest([corpus])
    shown = corpus.relative_to(REPO) if corpus.is_relative_to(REPO) else corpus
    return rag, f"{shown} (temporary KB)"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def p50_p95(values: list[float]) -> tuple[float, float]:
    return statistics.median(values) if values else float("nan"), percentile(values, 95)


def quiet() -> None:
    """Offline models and no library chatter on stderr."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from domainrag.cli.common import quiet_libraries

    quiet_libraries()


def print_result(result: dict, as_json: bool, width: int = 30) -> None:
    """The benchmark's figures: JSON with ``--json``, else one ``name  value`` line each."""
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    for key, value in result.items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
        print(f"{key:{width}} {shown}")
