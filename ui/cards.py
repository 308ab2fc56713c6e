"""Rendering pieces shared by the pages: answer badges and timings, citation source cards, search hits."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from domainrag.ui.ui_state import short_source

SNIPPET_CHARS = 700
_TIMING_LABELS = (("retrieve_ms", "retrieve"), ("first_token_ms", "first token"), ("generate_ms", "generate"),
                  ("total_ms", "total"))


def plain(text: str) -> str:
    """Text shown as-is in Markdown: no headings, lists or emphasis from the source document."""
    text = re.sub(r"^\s{0,3}#{1,6}\s*", "", text, flags=re.M)
    return re.sub(r"([\\`*_{}\[\]<>#|~$])", r"\\\1", text)


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rstrip() + " …"


def format_ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"


_MODE_BADGES = {"generated": ("generated", ":material/edit_note:", "blue"),
                "extractive": ("quoted from source", ":material/format_quote:", "orange"),
                "refused": ("no relevant source", ":material/block:", "gray")}


def answer_badges(answer: dict[str, Any]) -> None:
    """Mode badge (generated / extractive), cache-hit badge, model/adapter badge, the pack's disclaimer and the
    timings line under an answer."""
    with st.container(horizontal=True, gap="small"):
        mode = answer.get("mode")
        if mode in _MODE_BADGES:
            label, icon, color = _MODE_BADGES[mode]
            st.badge(label, icon=icon, color=color)
        if answer.get("cache_hit"):
            similarity = answer.get("similarity")
            label = "cache hit" + (f" · similarity {similarity:.2f}" if isinstance(similarity, (int, float)) else "")
            st.badge(label, icon=":material/bolt:", color="green")
        else:
            st.badge("fresh answer", icon=":material/auto_awesome:", color="gray")
        if mode == "generated" or (answer.get("timings") or {}).get("generate_ms"):  # the model was asked
            adapter = answer.get("adapter")
            st.badge(f"adapter: {adapter}" if adapter else "base model", icon=":material/tune:",
                     color="violet" if adapter else "gray")
    if answer.get("disclaimer"):
        st.caption(f":material/gavel: {answer['disclaimer']}")
    timings = answer.get("timings") or {}
    parts = [f"{label} {format_ms(timings.get(key))}" for key, label in _TIMING_LABELS if key in timings]
    if parts:
        st.caption(" · ".join(parts) + (f" · {answer['model']}" if answer.get("model") else ""))


def _source_card(citation: dict[str, Any], prefix: str) -> None:
    where = " · ".join(p for p in (citation.get("title"), citation.get("section")) if p) or citation.get("source", "")
    with st.expander(f"{prefix} {where}", icon=":material/description:"):
        st.markdown(plain(snippet(citation.get("text", ""))))
        st.caption(f"Source: `{short_source(citation.get('source', ''))}`")


def citation_cards(citations: list[dict[str, Any]], sources: list[dict[str, Any]] | None = None) -> None:
    """Expandable source cards: the cited passages ([n] as in the answer), then the retrieved but uncited ones."""
    cited = {c.get("n") for c in citations}
    others = [s for s in sources or [] if s.get("n") not in cited]
    if citations:
        st.markdown("**Sources**")
        for citation in citations:
            _source_card(citation, f"[{citation.get('n')}]")
    if others:
        if citations:
            st.caption(f"Also retrieved, not cited ({len(others)})")
        else:
            st.markdown(f"**Retrieved passages ({len(others)})** — the answer cites none of them")
        for source in others:
            _source_card(source, f"({source.get('n')})")


def hit_cards(hits: list[Any], expanded: int = 0) -> None:
    """Search hits as cards with rank, score, title · section, snippet and source."""
    for hit in hits:
        where = " · ".join(p for p in (hit.title, hit.section) if p)
        with st.expander(f"#{hit.rank}  {where}  —  score {hit.score:.4f}", expanded=hit.rank <= expanded):
            st.markdown(plain(snippet(hit.text)))
            cited = f" · cited by {hit.metadata['cited_by']}" if hit.metadata.get("cited_by") else ""
            st.caption(f"Source: `{short_source(hit.source)}` · chunk `{hit.chunk_id[:12]}`{cited}")
