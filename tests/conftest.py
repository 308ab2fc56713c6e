"""Shared fixtures: an isolated DOMAINRAG_HOME per test session and a small real law knowledge base."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def milvus_server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Milvus server process on loopback (milvus-lite's engine over gRPC) for the whole session."""
    from loopback import milvus_server

    with milvus_server(str(tmp_path_factory.mktemp("milvus-server") / "server.db")) as uri:
        yield uri


@pytest.fixture(params=["lite", "server", "external"], scope="session")
def milvus_uri(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Each Milvus the storage tests run against: a Lite file, a server on loopback and, when
    ``DOMAINRAG_TEST_MILVUS_URI`` is set, that Milvus (its token from ``DOMAINRAG_TEST_MILVUS_TOKEN``)."""
    if request.param == "lite":
        return str(tmp_path_factory.mktemp("milvus-lite") / "lite.db")
    if request.param == "server":
        return request.getfixturevalue("milvus_server_uri")
    external = os.environ.get("DOMAINRAG_TEST_MILVUS_URI")
    if not external:
        pytest.skip("set DOMAINRAG_TEST_MILVUS_URI to also run against that Milvus")
    return external


@pytest.fixture(scope="session")
def milvus_token(milvus_uri: str) -> str | None:
    """The token for ``milvus_uri`` (only an external Milvus has one)."""
    return os.environ.get("DOMAINRAG_TEST_MILVUS_TOKEN") if milvus_uri == os.environ.get("DOMAINRAG_TEST_MILVUS_URI") else None
