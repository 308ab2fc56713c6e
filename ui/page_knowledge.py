"""Knowledge-base page: upload and ingest documents, list/delete/re-ingest them, and a search playground."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import streamlit as st

from domainrag.errors import DomainRAGError
from domainrag.ingestion.loaders import SUPPORTED_EXTENSIONS
from domainrag.ingestion.worker import FileParser
from domainrag.retrieve import MODES
from domainrag.ui import cards, kb_actions, ui_state
from domainrag.ui.upload_store import UploadError, max_upload_mb, save_upload, upload_dir

REPORT_KEY = "kb-report"
rag = ui_state.current_rag()
pack = rag.pack


def progress_bar() -> Any:
    bar = st.progress(0.0, text="Starting…")
    return lambda fraction, text: bar.progress(min(1.0, fraction), text=text)


def finish(title: str, summary: dict[str, Any], rejected: list[dict[str, str]] | None = None) -> None:
    """Keep the outcome for the next run (so the sidebar counts refresh) and rerun."""
    st.session_state[REPORT_KEY] = {"title": title, "summary": summary, "rejected": rejected or []}
    st.rerun()


def show_report() -> None:
    report = st.session_state.pop(REPORT_KEY, None)
    if not report:
        return
    summary, problems = report["summary"], report["rejected"] + report["summary"].get("skipped", [])
    done = summary.get("ingested", 0) + summary.get("unchanged", 0) + summary.get("removed", 0)
    parts = [f"{summary.get('ingested', 0)} ingested"]
    for key, label in (("unchanged", "unchanged"), ("removed", "deleted"), ("chunks_added", "chunks added"),
                       ("chunks_removed", "chunks removed")):
        if summary.get(key):
            parts.append(f"{summary[key]} {label}")
    if done:
        st.success(f"{report['title']}: {', '.join(parts)}.", icon=":material/check_circle:")
    for problem in problems:
        st.error(f"{Path(problem['source']).name}: {problem['reason']}", icon=":material/error:")
    for warning in summary.get("warnings", []):
        st.warning(f"{Path(warning['source']).name}: {warning['warning']}")


def upload_section() -> None:
    st.subheader("Add documents")
    counter = st.session_state.setdefault("uploader-counter", 0)
    files = st.file_uploader(
        f"Upload files (up to {max_upload_mb()} MB each)", accept_multiple_files=True,
        type=sorted(ext.lstrip(".") for ext in SUPPORTED_EXTENSIONS), key=f"uploader-{counter}",
        max_upload_size=max_upload_mb(),
        help=f"Files are kept in {upload_dir(rag.kb)} and ingested into `{rag.kb}`.",
    )
    replace = st.checkbox("Replace files with the same name", help="Off: a different file with the name of an "
                          "uploaded one is refused instead of overwriting it.")
    if st.button(f"Ingest {len(files or [])} file(s)", type="primary", disabled=not files, icon=":material/upload:"):
        folder = upload_dir(rag.kb)
        saved, rejected = [], []
        with FileParser() as parser:  # one parser process checks the batch, under the ingest's per-file limits
            for upload in files:
                try:
                    saved.append(save_upload(folder, upload.name, upload.getvalue(), replace=replace, parser=parser))
                except UploadError as exc:
                    rejected.append({"source": upload.name, "reason": str(exc).split(": ", 1)[-1]})
                except Exception as exc:  # e.g. a full disk: this file fails, the rest of the batch goes on
                    rejected.append({"source": upload.name,
                                     "reason": f"could not be stored ({type(exc).__name__}: {exc})"})
        summary = kb_actions.ingest_with_progress(rag, [s.path for s in saved], progress_bar()) if saved else {}
        st.session_state["uploader-counter"] = counter + 1  # empties the uploader
        finish("Upload", summary, rejected)
    corpus = pack.corpus_dir
    if corpus.is_dir():
        with st.expander(f"Sample corpus of the {pack.name} pack", icon=":material/inventory_2:"):
            st.caption(f"`{corpus}` — already ingested files are skipped.")
            if st.button("Ingest the sample corpus", icon=":material/playlist_add:"):
                finish("Sample corpus", kb_actions.ingest_with_progress(rag, [corpus], progress_bar()))


def documents_section(manifest: dict[str, dict[str, Any]]) -> None:
    st.subheader(f"Documents ({len(manifest)})")
    if not manifest:
        st.info("No documents yet: upload some, or ingest the pack's sample corpus, under *Add documents*.",
                icon=":material/info:")
        return
    sources = sorted(manifest, key=lambda s: manifest[s]["ingested_at"], reverse=True)
    rows = [{"title": manifest[s]["title"], "file": ui_state.short_source(s), "chunks": int(manifest[s]["chunks"]),
             "ingested": datetime.fromtimestamp(manifest[s]["ingested_at"])} for s in sources]
    st.dataframe(rows, hide_index=True, width="stretch", height=min(400, 38 + 35 * len(rows)), column_config={
        "title": st.column_config.TextColumn("Title", width="medium"),
        "file": st.column_config.TextColumn("File"),
        "chunks": st.column_config.NumberColumn("Chunks", format="%d"),
        "ingested": st.column_config.DatetimeColumn("Ingested", format="YYYY-MM-DD HH:mm"),
    })
    chosen = st.multiselect("Select documents", sources, key="kb-selected",
                            format_func=lambda s: f"{manifest[s]['title']} ({ui_state.short_source(s)})")
    pending = st.session_state.get("kb-confirm-delete")
    with st.container(horizontal=True):
        if st.button("Re-ingest selected", disabled=not chosen, icon=":material/refresh:"):
            finish("Re-ingest", kb_actions.reingest(rag, chosen, progress_bar()))
        if st.button("Delete selected", disabled=not chosen, icon=":material/delete:"):
            st.session_state["kb-confirm-delete"] = pending = list(chosen)
        if st.button("Re-ingest all", icon=":material/sync:",
                     help="Re-read every document from disk and rebuild its chunks."):
            finish("Re-ingest all", kb_actions.reingest(rag, sources, progress_bar()))
    if pending:
        st.warning(f"Delete {len(pending)} document(s) and their chunks from `{rag.kb}`? "
                   "Uploaded files are removed as well.", icon=":material/warning:")
        with st.container(horizontal=True):
            if st.button("Yes, delete", type="primary"):
                removed = sum(kb_actions.delete_document(rag, source) for source in pending if source in manifest)
                del st.session_state["kb-confirm-delete"]
                st.session_state.pop("kb-selected", None)
                finish("Delete", {"removed": len(pending), "chunks_removed": removed})
            if st.button("Cancel"):
                del st.session_state["kb-confirm-delete"]
                st.rerun()


def search_section() -> None:
    st.subheader("Search playground")
    query = st.text_input("Query", placeholder="e.g. 农民专业合作社的成员大会如何表决？", key="kb-query")
    left, right = st.columns([3, 2])
    mode = left.segmented_control("Retrieval mode", MODES, default=pack.retrieval.mode, key="kb-mode",
                                  required=True, help="hybrid = dense + BM25 fused by reciprocal rank")
    k = right.slider("Results", 1, 20, pack.retrieval.k, key="kb-k")
    if not query.strip():
        return
    try:
        with st.spinner("Searching…"):
            hits = rag.search(query, k=k, mode=mode)
    except DomainRAGError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    if not hits:
        st.info("No hits.")
        return
    top = max(h.score for h in hits) or 1.0
    rows = [{"rank": h.rank, "score": h.score, "title": h.title, "section": h.section,
             "text": cards.snippet(h.text, 120)} for h in hits]
    if any(h.metadata.get("cited_by") for h in hits):  # citation following brought or moved a passage
        for row, hit in zip(rows, hits):
            row["cited by"] = hit.metadata.get("cited_by", "")
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={"rank": st.column_config.NumberColumn("#", width="small"),
                                "score": st.column_config.ProgressColumn("Score", min_value=0.0, max_value=top,
                                                                         format="%.4f"),
                                "title": "Title", "section": "Section", "text": "Text"})
    cards.hit_cards(hits, expanded=1)


st.title("Knowledge base")
overview = ui_state.kb_overview(rag)
st.caption(f"`{rag.kb}` · documents: {overview['documents']} · chunks: {overview['chunks']} · {rag.uri}")
show_report()
documents_tab, add_tab, search_tab = st.tabs(["Documents", "Add documents", "Search playground"])
with documents_tab:
    documents_section(overview.get("manifest", {}))
with add_tab:
    upload_section()
with search_tab:
    search_section()
