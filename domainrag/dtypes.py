"""The floating-point type models compute in on this machine."""

from __future__ import annotations

from typing import Any

from domainrag.errors import ModelError


def check_dtype_name(name: str, setting: str = "[generation] dtype") -> str:
    """``name`` if it is one ``runtime_dtype`` knows (checked without importing torch), else a ``ModelError``
    naming ``setting``, where it came from."""
    if name not in ("auto", "float32", "fp32", "bfloat16", "bf16"):
        raise ModelError(f"unknown {setting} {name!r}: use auto, float32 or bfloat16")
    return name


def runtime_dtype(name: str = "auto", setting: str = "[generation] dtype") -> Any:
    """``auto``: bfloat16 where the CPU computes it natively (AVX512-BF16/AMX: half the memory traffic of float32,
    and faster), else float32. ``setting`` names where ``name`` came from, for the error."""
    check_dtype_name(name, setting)
    import torch

    if name in ("float32", "fp32"):
        return torch.float32
    if name in ("bfloat16", "bf16"):
        return torch.bfloat16
    try:
        native = torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    return torch.bfloat16 if native else torch.float32
