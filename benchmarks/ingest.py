"""Ingest throughput: the whole law/laws corpus, compared with raw embedding of the same chunks.

Prints files/s and chunks/s of the pipeline, the raw embedding throughput of a random sample of the
same chunks (measured in the same run, before and after the ingest, averaged), their ratio, and the
time of a re-ingest of the unchanged tree.

    python benchmarks/ingest.py [--uri /tmp/bench-home/milvus.db] [--kb laws] [--limit-files N] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import quiet, shared_path  # noqa: E402


def raw_embedding_rate(embedder, texts: list[str]) -> float:
    """Chunks per second of embedder.encode alone (same batch size as the pipeline)."""
    started = time.perf_counter()
    for start in range(0, len(texts), 256):
        embedder.encode(texts[start:start + 256], batch_size=64)
    return len(texts) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", default="/tmp/bench-home/milvus.db")
    parser.add_argument("--kb", default="laws")
    parser.add_argument("--limit-files", type=int, default=0, help="ingest only the first N files (0 = all)")
    parser.add_argument("--raw-sample", type=int, default=2000, help="chunks embedded raw for the baseline")
    parser.add_argument("--reuse", action="store_true", help="keep an existing KB (default: start from empty)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet()
    corpus = shared_path("law", "laws")
    if corpus is None:
        return 0

    from domainrag import DomainRAG
    from domainrag.ingestion import load_file, split_document
    from domainrag.ingestion.scan import scan

    files = scan([corpus]).files
    if args.limit_files:
        files = files[: args.limit_files]
    rag = DomainRAG.from_pack("law", uri=args.uri, kb=args.kb)
    if not args.reuse:
        rag.store.drop_kb(args.kb)
    settings = rag.pack.retrieval
    chunks = [c for f in files for c in split_document(load_file(f), settings.chunk_size, settings.chunk_overlap)]
    sample = random.Random(0).sample([c.search_text for c in chunks], min(args.raw_sample, len(chunks)))
    embedder = rag.embedder
    embedder.encode(sample[:64])  # warm-up
    raw_before = raw_embedding_rate(embedder, sample)

    paths = [str(f) for f in files] if args.limit_files else [str(corpus)]
    summary = rag.ingest(paths, progress=True)
    pipeline_seconds = summary.seconds
    raw_after = raw_embedding_rate(embedder, sample)
    raw_rate = (raw_before + raw_after) / 2

    reingest = rag.ingest(paths, progress=False)
    figures = {
        "files": summary.files_seen, "files_ingested": summary.ingested, "skipped": len(summary.skipped),
        "chunks": summary.chunks_added, "seconds": round(pipeline_seconds, 1),
        "files_per_s": round(summary.ingested / pipeline_seconds, 2),
        "chunks_per_s": round(summary.chunks_added / pipeline_seconds, 1),
        "raw_embedding_chunks_per_s": round(raw_rate, 1),
        "raw_before_after": [round(raw_before, 1), round(raw_after, 1)],
        "pipeline_vs_raw_embedding": round(summary.chunks_added / pipeline_seconds / raw_rate, 3),
        "reingest_seconds": round(reingest.seconds, 2),
        "reingest_unchanged": reingest.unchanged, "reingest_chunks_added": reingest.chunks_added,
        "reingest_share_of_first": round(reingest.seconds / pipeline_seconds, 4),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:30} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
