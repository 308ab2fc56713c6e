"""The thin layer GPTCache 0.1.44 (its last release, 2024) needs to behave inside domainrag.

GPTCache's own pieces (``Cache``, ``get_data_manager``, ``CacheBase("sqlite")``, the faiss and Milvus stores,
``adapter.api.get/put``, ``SimilarityEvaluation``) import and run unchanged with numpy 2, SQLAlchemy 2 and
pymilvus 3. Three things around them are fixed here, once, before first use:

1. ``gptcache.utils`` *pip-installs* a missing optional dependency at run time (``prompt_install`` runs
   ``pip install``). An offline server must fail with one clear line instead: the shim makes it raise.
2. ``gptcache.utils.log`` calls ``logging.basicConfig()`` on import, which would give the whole application
   a root log handler (every library's warnings on stderr, in GPTCache's format). It is imported with a
   placeholder root handler, so that call does nothing, and GPTCache's own logger is limited to errors.
3. Its SQL store uses ``sqlalchemy.ext.declarative`` and its Milvus store the pymilvus ORM, both deprecated:
   those deprecation warnings are silenced for GPTCache's modules only.

GPTCache's LangChain adapter (``gptcache.adapter.langchain_models``) targets ``langchain`` < 0.1 and cannot
import with langchain-core 1.x; domainrag does not need it, because the cache sits in front of the whole
answer chain (lookup before retrieval), not inside LangChain's LLM call.
"""

from __future__ import annotations

import logging
import threading
import warnings

from domainrag.errors import ConfigError

_ready = False
_lock = threading.Lock()


def _refuse_install(package: str, warn: bool = False) -> None:  # noqa: ARG001 (GPTCache's signature)
    raise ConfigError(f"the semantic cache needs the Python package {package!r}: pip install {package} "
                      "(or set [cache] enabled = false in pack.toml)")


def prepare_gptcache() -> None:
    """Import GPTCache without side effects on the host application (idempotent, thread-safe)."""
    global _ready
    with _lock:
        if _ready:
            return
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"gptcache(\..*)?$")
        warnings.filterwarnings("ignore", message=r".*(declarative_base|ORM-style PyMilvus).*")
        root = logging.getLogger()
        placeholder = None if root.handlers else logging.NullHandler()
        if placeholder is not None:
            root.addHandler(placeholder)
        try:
            import gptcache
            import gptcache.utils
            import gptcache.utils.dependency_control
        finally:
            if placeholder is not None:
                root.removeHandler(placeholder)
        gptcache.utils.dependency_control.prompt_install = _refuse_install
        gptcache.utils.prompt_install = _refuse_install
        logging.getLogger(f"gptcache:{gptcache.__version__}").setLevel(logging.ERROR)
        _ready = True
