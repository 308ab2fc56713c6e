"""Settings: defaults, overridden by the pack, then by ``DOMAINRAG_*`` environment variables."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from domainrag.errors import ConfigError

KB_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")


def domainrag_home() -> Path:
    """Folder for the embedded Milvus Lite file, caches and feedback (``DOMAINRAG_HOME``)."""
    home = Path(os.environ.get("DOMAINRAG_HOME") or Path.home() / ".domainrag").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def converted_model_dir(name: str, source: Path) -> Path:
    """Where a converted copy of the model file ``source`` is kept (``DOMAINRAG_MODEL_CACHE``, default
    ``DOMAINRAG_HOME/models``): ``<name>-<key>``, the key changing with the file's path, size and modification time."""
    stat = source.stat()
    key = hashlib.sha1(f"{source}|{stat.st_size}|{int(stat.st_mtime)}".encode()).hexdigest()[:12]
    root = Path(os.environ.get("DOMAINRAG_MODEL_CACHE") or domainrag_home() / "models").expanduser()
    return root / f"{name}-{key}"


def write_once(folder: Path, write: Callable[[Path], None]) -> None:
    """Make ``folder`` by ``write``-ing a temporary folder beside it and moving that into place, so a reader never
    sees half a folder; when another process got there first, its folder stays and this one is dropped."""
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    write(tmp)
    try:
        if not folder.exists():
            os.replace(tmp, folder)
    except OSError:
        if not folder.exists():
            raise
    shutil.rmtree(tmp, ignore_errors=True)


def default_uri() -> str:
    """``DOMAINRAG_MILVUS_URI`` if set, else the local Milvus server while it runs (``domainrag milvus start``),
    else the Milvus Lite file under the home folder."""
    explicit = os.environ.get("DOMAINRAG_MILVUS_URI")
    if explicit:
        return explicit
    from domainrag.milvus_local import DB_FILE, running

    home = domainrag_home()
    server = running(home)
    return server.uri if server else str(home / DB_FILE)


def resolve_uri(uri: str | None) -> str:
    """The URI to connect to: ``default_uri()`` for None; the local server's for the .db file it serves."""
    from domainrag.milvus_local import served_uri

    return served_uri(uri) if uri else default_uri()


def is_server_uri(uri: str) -> bool:
    """True for ``http(s)://`` or ``tcp://`` Milvus server URIs, False for a Lite ``.db`` file."""
    return bool(re.match(r"^(https?|tcp|grpc)://", uri))


def uri_slug(uri: str) -> str:
    """A short, filesystem-safe name for a URI (used to key local caches per store)."""
    return hashlib.sha1(uri.encode()).hexdigest()[:12]


def validate_kb_name(name: str) -> str:
    """Knowledge-base names become Milvus collection names: letters, digits and underscores."""
    if not KB_NAME_PATTERN.match(name) or "__" in name:
        raise ConfigError(
            f"invalid knowledge-base name {name!r}: use letters, digits and single underscores, "
            "starting with a letter (e.g. --kb law_statutes)"
        )
    return name


def env_override(key: str, default: str | None) -> str | None:
    """``DOMAINRAG_<KEY>`` from the environment, else the default."""
    return os.environ.get(f"DOMAINRAG_{key.upper()}") or default
