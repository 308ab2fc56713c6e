"""Parallel ingest against a Milvus server: chunks/s with 1 and 2 worker processes (``domainrag ingest --workers``),
and whether the two runs stored the same thing (chunk ids, manifest: no lost or duplicated chunks).

Starts the local server (``domainrag milvus start``'s engine) on a temporary DOMAINRAG_HOME, ingests the first
``--limit-files`` files of law/laws into one KB per worker count, then stops it.

    python benchmarks/parallel_ingest.py [--limit-files 40] [--workers 1,2] [--json]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_result, quiet, shared_path  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit-files", type=int, default=40)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet()
    laws = shared_path("law", "laws")
    if laws is None:
        return 0
    from domainrag import DomainRAG
    from domainrag.ingestion.parallel import ingest_in_parallel
    from domainrag.milvus_local import start, stop

    home = Path(tempfile.mkdtemp(prefix="domainrag-bench-parallel-"))
    corpus = home / "corpus"
    corpus.mkdir()
    for path in sorted(laws.rglob("*.md"))[: args.limit_files]:
        shutil.copy(path, corpus / path.name)
    server = start(home)
    result: dict = {"files": args.limit_files, "server": server.uri}
    stored = {}
    try:
        for workers in (int(n) for n in args.workers.split(",")):
            rag = DomainRAG.from_pack("law", uri=server.uri, kb=f"workers_{workers}")
            rag.embedder  # loaded before the clock starts, as a long-running ingest would have it
            summary = (rag.ingest([str(corpus)]) if workers == 1
                       else ingest_in_parallel(rag, [str(corpus)], workers))
            ids = sorted(r["id"] for r in rag.store.iter_chunks(rag.kb, ["id"]))
            manifest = {s: (e["file_hash"], e["chunks"]) for s, e in rag.store.manifest(rag.kb).items()}
            stored[workers] = (ids, manifest)
            result[f"workers={workers}"] = {"chunks": summary.chunks_total, "seconds": summary.seconds,
                                            "chunks_per_s": round(summary.chunks_total / summary.seconds, 1),
                                            "duplicated_ids": len(ids) - len(set(ids))}
        first, *others = stored.values()
        result["same_chunks_and_manifest_as_one_worker"] = all(other == first for other in others)
    finally:
        stop(home)
        shutil.rmtree(home, ignore_errors=True)
    print_result(result, args.json, 40)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
