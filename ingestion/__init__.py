"""Ingestion: load files, split them into chunks, embed and upsert into Milvus (``domainrag.ingestion``)."""

from domainrag.ingestion.documents import Chunk, Document, LoadError
from domainrag.ingestion.loaders import SUPPORTED_EXTENSIONS, load_file
from domainrag.ingestion.splitters import split_document

__all__ = ["Chunk", "Document", "LoadError", "SUPPORTED_EXTENSIONS", "load_file", "split_document"]
