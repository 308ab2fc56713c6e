"""domainrag web app: ``domainrag ui [--pack NAME]`` or ``streamlit run ui/app.py -- --pack NAME``.

The sidebar holds the pack selector (with its description and disclaimer) and the knowledge-base status;
the pages are Chat, Knowledge base and Evaluate.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from domainrag.cli.common import quiet_libraries
from domainrag.ui import ui_state

quiet_libraries()
HERE = Path(__file__).parent
st.set_page_config(page_title="domainrag", page_icon=":material/menu_book:", layout="wide")

pages = [
    st.Page(HERE / "page_chat.py", title="Chat", icon=":material/forum:", url_path="chat", default=True),
    st.Page(HERE / "page_knowledge.py", title="Knowledge base", icon=":material/library_books:", url_path="knowledge"),
    st.Page(HERE / "page_evaluate.py", title="Evaluate", icon=":material/monitoring:", url_path="evaluate"),
]

with st.sidebar:
    st.markdown("## :material/menu_book: domainrag")
    choices = ui_state.pack_choices()
    if not choices:
        st.error("No domain packs installed: add one under domains/ or pass a pack folder with --pack ./my_pack")
        st.stop()
    if st.session_state.get(ui_state.PACK_KEY) not in choices:
        st.session_state[ui_state.PACK_KEY] = choices[0]
    st.selectbox("Domain pack", choices, key=ui_state.PACK_KEY, help="Each pack brings its corpus, prompts, "
                 "retrieval settings and adapter; each keeps its own knowledge base and chat.")
    rag = ui_state.current_rag()
    if rag.pack.description:
        st.caption(rag.pack.description)
    if rag.pack.disclaimer:
        st.warning(rag.pack.disclaimer, icon=":material/gavel:")
    overview = ui_state.kb_overview(rag)
    left, right = st.columns(2)
    left.metric("Documents", overview["documents"])
    right.metric("Chunks", overview["chunks"])
    st.caption(f"Knowledge base `{rag.kb}` · retrieval {rag.pack.retrieval.mode}, k={rag.pack.retrieval.k}")

st.navigation(pages, position="top").run()
