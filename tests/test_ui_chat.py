"""Chat page through Streamlit's AppTest: streamed answer with source cards, feedback, follow-up, clear chat.

Real app scripts, real Milvus Lite KB (the shared small law corpus), real local LLM with short generations.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from domainrag.ui import APP_FILE, ui_state
from domainrag.ui.feedback_log import load_feedback

QUESTION = "农民专业合作社成员大会选举和表决实行什么制度？"


@pytest.fixture()
def chat_app(monkeypatch: pytest.MonkeyPatch, law_rag) -> AppTest:
    monkeypatch.setenv("DOMAINRAG_MILVUS_URI", law_rag.uri)
    monkeypatch.setenv("DOMAINRAG_KB", law_rag.kb)
    monkeypatch.setenv("DOMAINRAG_UI_PACK", "law")
    monkeypatch.setenv("DOMAINRAG_UI_MAX_NEW_TOKENS", "24")
    at = AppTest.from_file(str(APP_FILE), default_timeout=300).run()
    assert not at.exception
    return at


def labels(block) -> list[str]:
    return [e.label for e in block.expander]


@pytest.mark.slow
def test_chat_answer_sources_feedback_followup_and_clear(chat_app: AppTest, law_rag) -> None:
    at = chat_app
    assert at.sidebar.selectbox[0].value == "law"
    assert any("不构成法律意见" in w.value for w in at.sidebar.warning)  # the pack's disclaimer
    at.chat_input[0].set_value(QUESTION).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    stored = at.session_state["chats"]["law"]
    answer = stored[1]["answer"]
    bubble = at.chat_message[1]
    assert answer["answer"].strip() and bubble.markdown[0].value == answer["answer"]
    # source cards: every passage given to the model, cited ones first as [n]
    assert answer["sources"], "the question should retrieve passages from the co-operatives law"
    cards = labels(bubble)
    assert len(cards) == len(answer["sources"])
    for citation in answer["citations"]:
        assert any(label.startswith(f"[{citation['n']}] {citation['title']}") for label in cards)
    assert any("农民专业合作社法" in label for label in cards)
    assert any("total" in c.value for c in bubble.caption)  # timings line
    assert any("fresh answer" in m.value or "cache hit" in m.value for m in bubble.markdown)  # badge
    # how the answer was written, and the pack's disclaimer beside (not inside) it
    assert answer["mode"] in ("generated", "extractive") and answer["answer"].startswith("根据《农民专业合作社法》")
    badge = {"generated": "generated", "extractive": "quoted from source"}[answer["mode"]]
    assert any(badge in m.value for m in bubble.markdown)
    assert any("不构成法律意见" in c.value for c in bubble.caption) and "不构成法律意见" not in answer["answer"]

    # thumbs up is stored with the question, answer, citations and passages
    at.feedback[0].set_value(1).run()
    saved = next(r for r in load_feedback() if r["id"] == stored[1]["id"])
    assert (saved["rating"], saved["question"], saved["pack"]) == ("up", QUESTION, "law")
    assert saved["answer"] == answer["answer"] and saved["sources"] == answer["sources"]

    # a follow-up is answered with the conversation so far
    at.chat_input[0].set_value("那理事长由谁选举产生？").run()
    assert not at.exception
    assert [m["role"] for m in stored] == ["user", "assistant", "user", "assistant"]
    assert len(at.chat_message) == 4 and at.chat_message[3].markdown[0].value == stored[3]["content"]

    next(b for b in at.button if b.label == "Clear chat").click().run()
    assert len(at.chat_message) == 0 and at.session_state["chats"]["law"] == []

    # the same question again comes from the semantic cache, and the badge says so
    at.chat_input[0].set_value(QUESTION).run()
    again = at.session_state["chats"]["law"][1]["answer"]
    assert again["cache_hit"] and again["answer"] == answer["answer"]
    assert any("cache hit" in m.value for m in at.chat_message[1].markdown)


def test_models_load_once_per_server(law_rag) -> None:
    """Sessions (browser tabs) share one DomainRAG, so models and the Milvus client load once."""
    first = ui_state.get_rag("law", law_rag.uri, law_rag.kb)
    assert ui_state.get_rag("law", law_rag.uri, law_rag.kb) is first
    assert first.embedder is ui_state.get_rag("law", law_rag.uri, law_rag.kb).embedder


def test_pack_selector_shows_description_disclaimer_and_keeps_chats_apart(monkeypatch: pytest.MonkeyPatch, law_rag,
                                                                          tmp_path: Path) -> None:
    folder = tmp_path / "civil_pack"
    folder.mkdir()
    (folder / "pack.toml").write_text('[pack]\nname = "civil"\ndescription = "Civil-code helper for tests."\n'
                                      'language = "zh"\ndisclaimer = "Test disclaimer: not advice."\n',
                                      encoding="utf-8")
    monkeypatch.setenv("DOMAINRAG_MILVUS_URI", law_rag.uri)
    monkeypatch.setenv("DOMAINRAG_KB", law_rag.kb)
    monkeypatch.setenv("DOMAINRAG_UI_PACK", str(folder))  # `domainrag ui --pack ./civil_pack`
    at = AppTest.from_file(str(APP_FILE), default_timeout=120).run()
    selector = at.sidebar.selectbox[0]
    assert selector.value == str(folder) and "law" in selector.options
    assert "Civil-code helper for tests." in [c.value for c in at.sidebar.caption]
    assert [w.value for w in at.sidebar.warning] == ["Test disclaimer: not advice."]
    assert at.title[0].value == "Civil assistant"
    at.session_state["chats"]["civil"].append({"role": "user", "content": "hello civil"})
    at.run()
    assert len(at.chat_message) == 1

    selector.set_value("law").run()
    assert at.title[0].value == "Law assistant" and len(at.chat_message) == 0  # each pack keeps its own chat
    assert any(c.value.startswith("中国法律助手") for c in at.sidebar.caption)
