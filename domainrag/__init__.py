"""domainrag: domain-specific retrieval-augmented assistants on Milvus."""

import os as _os
import warnings as _warnings

# OpenMP threads that spin while waiting collapse torch's CPU speed when other processes share the cores; sleeping
# waiters avoid that (README "Generators" has the measurement). Set before torch loads; an explicit
# OMP_WAIT_POLICY in the environment wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
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
