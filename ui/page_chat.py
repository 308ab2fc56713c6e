"""Chat page: multi-turn, streamed, cited answers with cache badge, timings and thumbs feedback."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import streamlit as st

from domainrag.errors import DomainRAGError
from domainrag.llm.base import GenerationSettings
from domainrag.ui import cards, ui_state
from domainrag.ui.feedback_log import record_feedback

rag = ui_state.current_rag()
pack = rag.pack
messages = ui_state.chat_messages(pack.name)


def default_max_tokens() -> int:
    """``domainrag ui --max-new-tokens`` (DOMAINRAG_UI_MAX_NEW_TOKENS), else the pack's [generation] setting."""
    try:
        return int(os.environ["DOMAINRAG_UI_MAX_NEW_TOKENS"])
    except (KeyError, ValueError):
        return GenerationSettings.from_pack(pack).max_new_tokens


def model_history(upto: int) -> list[dict[str, str]]:
    """The conversation before message ``upto`` as chat messages (failed turns left out)."""
    turns = [m for m in messages[:upto] if not m.get("error")]
    return [{"role": m["role"], "content": m["content"]} for m in turns]


def save_feedback(message_id: str) -> None:
    """on_change of a thumbs widget: append the rating with the question, answer, citations and context."""
    index = next(i for i, m in enumerate(messages) if m.get("id") == message_id)
    rating = st.session_state.get(f"feedback-{message_id}")
    question = messages[index - 1]["content"] if index else ""
    record_feedback(message_id, rating, pack.name, rag.kb, question, messages[index]["answer"],
                    model_history(index - 1))
    st.toast("Thanks, feedback saved" if rating is not None else "Feedback withdrawn", icon=":material/check:")


def render_answer_details(message: dict[str, Any]) -> None:
    answer = message["answer"]
    for warning in answer.get("warnings") or []:
        st.caption(f":material/info: {warning}")
    cards.answer_badges(answer)
    cards.citation_cards(answer.get("citations") or [], answer.get("sources") or [])
    st.feedback("thumbs", key=f"feedback-{message['id']}", on_change=save_feedback, args=(message["id"],))


def render_message(message: dict[str, Any]) -> None:
    with st.chat_message(message["role"]):
        if message.get("error"):
            st.error(message["content"], icon=":material/error:")
            return
        st.markdown(message["content"])
        if message["role"] == "assistant":
            render_answer_details(message)


def _first_then_rest(stream: Any) -> Iterator[str]:
    """Wait for the first delta under a spinner (retrieval and prompt processing), then stream the rest."""
    deltas = iter(stream)
    with st.spinner("Searching the knowledge base and drafting…", show_time=True):
        first = next(deltas, "")
    if first:
        yield first
    yield from deltas


def answer_question(question: str, options: dict[str, Any]) -> None:
    """Stream the answer to ``question`` into an assistant bubble and keep it in the history."""
    history = model_history(len(messages))
    messages.append({"role": "user", "content": question})
    render_message(messages[-1])
    with st.chat_message("assistant"):
        try:
            stream = rag.stream(question, history=history, **options)
            st.write_stream(_first_then_rest(stream))
            result = stream.answer
        except DomainRAGError as exc:
            st.error(str(exc), icon=":material/error:")
            messages.append({"role": "assistant", "content": str(exc), "error": True})
            return
        answer = result.to_dict() | {"question": question, "standalone_question": result.standalone_question,
                                     "warnings": list(result.warnings),
                                     "sources": [s.to_dict() for s in result.sources]}
        message = {"role": "assistant", "content": result.answer, "answer": answer, "id": uuid.uuid4().hex}
        messages.append(message)
        render_answer_details(message)


def answer_settings() -> dict[str, Any]:
    """The popover with generation and retrieval options; returns keyword arguments for ``rag.stream``."""
    with st.popover("Settings", icon=":material/tune:", width="stretch"):
        max_tokens = st.number_input("Answer length (max new tokens)", 8, 2048, default_max_tokens(), step=16,
                                     key="chat-max-tokens")
        k = st.slider("Passages to retrieve", 1, 20, pack.retrieval.k, key="chat-k")
        use_cache = st.toggle("Use the semantic cache", True, key="chat-cache",
                              help="Answer a question seen before (or one close to it) from the cache.")
        use_adapter = st.toggle("Use the pack's adapter", pack.adapter_dir is not None, key="chat-adapter",
                                disabled=pack.adapter_dir is None,
                                help="The pack's fine-tuned LoRA adapter" if pack.adapter_dir else
                                "This pack has no trained adapter yet (`domainrag tune`).")
    options: dict[str, Any] = {"max_new_tokens": int(max_tokens), "k": k, "use_cache": use_cache}
    if pack.adapter_dir is not None and not use_adapter:
        options["adapter"] = "none"
    return options


header, settings_col, clear_col = st.columns([6, 1.2, 1.2], vertical_alignment="bottom")
header.title(f"{pack.name.capitalize()} assistant")
with settings_col:
    options = answer_settings()
if clear_col.button("Clear chat", icon=":material/delete_sweep:", width="stretch"):
    ui_state.clear_chat(pack.name)
    st.rerun()

overview = ui_state.kb_overview(rag)
if not overview["documents"]:
    st.info("This knowledge base is empty. Add documents or the pack's sample corpus first.", icon=":material/info:")
    st.page_link("page_knowledge.py", label="Open the knowledge base", icon=":material/library_books:")
elif not messages:
    count = overview["documents"]
    st.caption(f"Ask about the {count} document{'s' if count != 1 else ''} in `{rag.kb}`. Answers cite their "
               "sources as [n]; follow-up questions use the conversation so far.")

for message in messages:
    render_message(message)

question = st.chat_input(f"Ask the {pack.name} assistant…", disabled=not overview["documents"], max_chars=2000)
if question:
    answer_question(question, options)
