"""domainrag: domain-specific retrieval-augmented assistants on Milvus."""

from domainrag.answer import Answer, AnswerStream, Citation
from domainrag.errors import ConfigError, DomainRAGError, ModelError, StoreError
from domainrag.packs import Pack, available_packs, load_pack
from domainrag.rag import DomainRAG
from domainrag.retrieve import Hit

__version__ = "0.1.0"
__all__ = ["DomainRAG", "Answer", "AnswerStream", "Citation", "Hit", "Pack", "load_pack", "available_packs", "DomainRAGError", "ConfigError",
           "ModelError", "StoreError", "__version__"]
