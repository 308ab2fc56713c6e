"""Shared fixtures: an isolated DOMAINRAG_HOME per test session and a small real law knowledge base."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAW_CORPUS = REPO / "domains" / "law" / "corpus"
SMALL_LAW_FILES = ["民法商法/农民专业合作社法(2017-12-27).md", "民法商法/个人独资企业法(1999-08-30).md", "刑法/刑法.md"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# De-quantized local models are cached across test sessions (the first load of a GGUF takes ~20 s).
os.environ.setdefault("DOMAINRAG_MODEL_CACHE", str(Path.home() / ".cache" / "domainrag-test-models"))


@pytest.fixture(scope="session", autouse=True)
def domainrag_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test session gets its own DOMAINRAG_HOME (Milvus Lite file, caches, feedback)."""
    home = tmp_path_factory.mktemp("domainrag-home")
    os.environ["DOMAINRAG_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def small_law_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three real statutes (farmers' co-operatives, sole proprietorships, criminal law) in a temp folder."""
    folder = tmp_path_factory.mktemp("small-law")
    for relative in SMALL_LAW_FILES:
        target = folder / Path(relative).name
        shutil.copy(LAW_CORPUS / relative, target)
    return folder


@pytest.fixture(scope="session")
def law_rag(small_law_corpus: Path, domainrag_home: Path):
    """A DomainRAG for the law pack with the small corpus ingested into a real Milvus Lite file."""
    from domainrag import DomainRAG

    rag = DomainRAG.from_pack("law", uri=str(domainrag_home / "shared.db"), kb="law_small")
    rag.ingest(small_law_corpus)
    return rag
