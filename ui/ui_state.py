"""What the pages share: server-wide cached DomainRAG objects, the chosen pack and per-session chat state."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path
from typing import Any

import streamlit as st

from domainrag.config import default_uri, env_override
from domainrag.errors import DomainRAGError
from domainrag.packs import Pack, available_packs, load_pack
from domainrag.rag import DomainRAG

PACK_ENV = "DOMAINRAG_UI_PACK"
PACK_KEY = "pack"


def launch_pack() -> str | None:
    """The pack given to ``domainrag ui --pack`` (``streamlit run app.py -- --pack NAME``, or DOMAINRAG_UI_PACK)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--pack")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return args.pack or os.environ.get(PACK_ENV) or None


def pack_choices() -> list[str]:
    """Installed pack names, plus a pack folder given at launch; the launch pack comes first."""
    names = list(available_packs())
    first = launch_pack()
    if first and first not in names:
        names.insert(0, first)
    elif first:
        names.remove(first)
        names.insert(0, first)
    return names


@st.cache_resource(show_spinner=False)
def _pack(name: str) -> Pack:
    return load_pack(name)


@st.cache_resource(show_spinner="Loading the knowledge base and models…")
def get_rag(pack: str, uri: str, kb: str | None) -> DomainRAG:
    """One DomainRAG per (pack, Milvus URI, KB) per server: every tab and session shares its models and client."""
    return DomainRAG.from_pack(_pack(pack), uri=uri, kb=kb)


def current_pack_name() -> str:
    """The pack chosen in the sidebar (defaults to the launch pack)."""
    name = st.session_state.get(PACK_KEY)
    return name or (pack_choices() or ["law"])[0]


def current_rag() -> DomainRAG:
    """The DomainRAG for the chosen pack; stops the page with one clear error when the pack cannot be loaded."""
    try:
        return get_rag(current_pack_name(), default_uri(), env_override("KB", None))
    except DomainRAGError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()
        raise  # unreachable: st.stop() raises


def kb_overview(rag: DomainRAG) -> dict[str, Any]:
    """Documents and chunks in the pack's knowledge base ({"exists": False} before the first ingest)."""
    if not rag.store.has_kb(rag.kb):
        return {"exists": False, "documents": 0, "chunks": 0}
    manifest = rag.store.manifest(rag.kb)
    return {"exists": True, "documents": len(manifest), "chunks": sum(int(r["chunks"]) for r in manifest.values()),
            "manifest": manifest}


def chat_messages(pack: str) -> list[dict[str, Any]]:
    """This session's conversation with one pack (each pack keeps its own)."""
    chats = st.session_state.setdefault("chats", {})
    return chats.setdefault(pack, [])


def clear_chat(pack: str) -> None:
    st.session_state.setdefault("chats", {})[pack] = []


@functools.lru_cache(maxsize=1)
def _corpus_roots() -> tuple[tuple[str, Path], ...]:
    return tuple((f"{name}/corpus", path / "corpus") for name, path in available_packs().items())


def short_source(source: str) -> str:
    """A source path shortened for display: relative to DOMAINRAG_HOME, or ``<pack>/corpus/…`` for pack corpora."""
    from domainrag.config import domainrag_home

    path = Path(source)
    for label, root in (("", domainrag_home()), *_corpus_roots()):
        if root in path.parents:
            return str(Path(label) / path.relative_to(root)) if label else str(path.relative_to(root))
    return source
