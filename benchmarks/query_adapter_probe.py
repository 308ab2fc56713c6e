"""Would a learnt query adapter help the law reranker? A probe; the law pack does not ship one.

A square matrix W near the identity moves each LawBench 3-2 question's multilingual-e5-small vector towards its gold
article's stored vector among its top ``depth`` fused candidates (softmax cross-entropy of 50 · cos(W q, p) over the
candidates, plus ``strength`` · ‖W − I‖²; Adam, full batch). LawBench's questions tell a scenario, the articles state
rules; W learns that shift. Two reranker features come from the adapted question's similarity to each candidate
(gap to the best, reciprocal rank), computed out of fold: each question's from a W fit on the other folds, so its own
gold never shapes them. The script prints the reranker's 5-fold cross-validated R@1/5 with and without them, same
candidates, same run, for each strength.

Needs the whole law/laws corpus in a KB built with the law pack (an e5 KB; benchmarks/retrieval.py builds one):

    python benchmarks/query_adapter_probe.py [--uri /tmp/bench-home/milvus.db] [--kb laws] [--strengths 0.1,1,10]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from semantic_probe import dev_candidates  # noqa: E402
from train_law_reranker import cross_validate  # noqa: E402


def stored_vectors(rag, questions: list[str], heads: list[list]):
    """The KB model's vector of each question, and the vectors stored at ingest for each question's candidates."""
    import numpy as np

    ids = sorted({hit.chunk_id for head in heads for hit in head})
    stored = {}
    for start in range(0, len(ids), 500):
        for row in rag.store.client.get(rag.kb, ids=ids[start:start + 500], output_fields=["dense"]):
            stored[row["id"]] = np.asarray(row["dense"], dtype=np.float32)
    queries = np.stack([np.asarray(rag.retriever.embedder.encode_query(q), dtype=np.float32) for q in questions])
    return queries, [np.stack([stored[hit.chunk_id] for hit in head]) for head in heads]


def fit_adapter(queries, passages, labels, strength: float, epochs: int = 200, temperature: float = 50.0):
    """W (see the module docstring); questions without the gold among their candidates are skipped."""
    import numpy as np
    import torch

    dim = queries.shape[1]
    matrix = torch.eye(dim, requires_grad=True)
    optimizer = torch.optim.Adam([matrix], lr=1e-3)
    data = [(torch.from_numpy(q), torch.from_numpy(p), torch.tensor([int(np.argmax(y))]))
            for q, p, y in zip(queries, passages, labels) if y.any()]
    for _ in range(epochs):
        loss = torch.zeros(())
        for q, p, gold in data:
            moved = matrix @ q
            loss = loss + torch.nn.functional.cross_entropy((temperature * (p @ moved) / moved.norm())[None], gold)
        loss = loss / len(data) + strength * ((matrix - torch.eye(dim)) ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return matrix.detach().numpy()


def out_of_fold(queries, passages, labels, strength: float, folds: int = 5):
    """Each question's adapted-similarity columns from a W fit on the other folds."""
    import numpy as np

    from domainrag.rerank import similarity_features

    order = list(range(len(queries)))
    random.Random(0).shuffle(order)
    columns: list = [None] * len(queries)
    for fold in range(folds):
        test = set(order[fold::folds])
        train = [i for i in order if i not in test]
        matrix = fit_adapter(queries[train], [passages[i] for i in train], [labels[i] for i in train], strength)
        for i in test:
            moved = matrix @ queries[i]
            columns[i] = np.column_stack(similarity_features(passages[i] @ (moved / np.linalg.norm(moved))))
    return columns


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", default="/tmp/bench-home/milvus.db")
    parser.add_argument("--kb", default="laws")
    parser.add_argument("--depth", type=int, default=30)
    parser.add_argument("--strengths", default="0.1,1,10")
    args = parser.parse_args()
    import numpy as np

    from _common import open_law_kb

    rows = dev_candidates(args.uri, args.kb, args.depth)
    if isinstance(rows, int):
        return rows
    rows = list(rows)
    rag = open_law_kb(args.uri, args.kb)
    labels = [y for _, _, _, y in rows]
    queries, passages = stored_vectors(rag, [q for q, _, _, _ in rows], [head for _, head, _, _ in rows])
    result = {"without adapter": cross_validate([(x, y) for _, _, x, y in rows])}
    for strength in map(float, args.strengths.split(",")):
        columns = out_of_fold(queries, passages, labels, strength)
        result[f"with adapter, strength {strength}"] = cross_validate(
            [(np.hstack([x, extra]), y) for (_, _, x, y), extra in zip(rows, columns)])
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
