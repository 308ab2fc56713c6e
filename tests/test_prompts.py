"""The answer prompt: passage headers per the pack's [prompts] header, and its validation."""

from __future__ import annotations

import dataclasses

import pytest

from domainrag.errors import ConfigError
from domainrag.packs import load_pack
from domainrag.prompts import PromptTemplates, format_context, passage_header, prompt_header
from domainrag.retrieve import Hit

THEFT = Hit(rank=1, score=1.0, chunk_id="c1", text="第二百六十四条 盗窃公私财物，数额较大的……", source="刑法.md",
            title="中华人民共和国刑法", section="第二编 分则 / 第五章 侵犯财产罪")


def test_prompt_headers_drop_the_state_name_and_follow_the_style() -> None:
    assert passage_header(THEFT) == "中华人民共和国刑法 · 第五章 侵犯财产罪"  # sources shown to people: full
    assert prompt_header(THEFT) == "刑法 · 第五章 侵犯财产罪"
    assert prompt_header(THEFT, "title") == "刑法"
    assert prompt_header(THEFT, "none") == ""
    assert format_context([(1, THEFT, THEFT.text)], "title") == f"[1] 刑法\n{THEFT.text}"
    assert format_context([(2, THEFT, THEFT.text)], "none") == f"[2] {THEFT.text}"
    only_state = dataclasses.replace(THEFT, title="中华人民共和国", section="")
    assert prompt_header(only_state, "title") == "中华人民共和国"


def test_law_pack_prompt_keeps_fixed_text_in_the_system_message() -> None:
    templates = PromptTemplates.from_pack(load_pack("law"))
    assert templates.header == "title"
    assert "[n]" in templates.system and "[n]" not in templates.user
    messages = templates.chat_template().invoke({"system": templates.system, "context": "[1] 刑法\n……",
                                                 "question": "盗窃怎么处罚？"}).to_messages()
    assert messages[0].content == templates.system
    assert messages[1].content.endswith("问题：盗窃怎么处罚？")


def test_unknown_header_style_is_a_config_error() -> None:
    pack = load_pack("law")
    bad = dataclasses.replace(pack, prompts={**pack.prompts, "header": "chapter"})
    with pytest.raises(ConfigError, match=r"\[prompts\] header = 'chapter'.*title\+section, title, none"):
        PromptTemplates.from_pack(bad)
