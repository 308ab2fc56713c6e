"""Eval set loading (formats, kinds, bad lines named file:line) and the sets shipped with every pack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domainrag.evaluate.gold import squeeze
from domainrag.lawref import ArticleRef, normalize_law_name
from domainrag.evaluate.sets import SetError, load_eval_set, pack_sets, resolve_set
from domainrag.packs import load_pack

DATA = Path(__file__).parent / "data" / "eval"
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
PACKS = ("law", "finance", "medical", "education", "math")


def test_bad_json_line_is_named(tmp_path: Path) -> None:
    with pytest.raises(SetError, match=r"bad_json\.jsonl:3: invalid JSON"):
        load_eval_set(DATA / "bad_json.jsonl")


@pytest.mark.parametrize("content,line,reason", [
    ('{"question": "a", "answer": "b"}\n{"answer": "no question"}\n', 2, "missing or empty 'question'"),
    ('{"question": "a", "kind": "mcq", "answer": "不知道"}\n', 1, "needs 'answer' with option letters"),
    ('{"question": "a", "kind": "essay"}\n', 1, "unknown kind 'essay'"),
    ('{"question": "a"}\n', 1, "no 'answer' and no retrieval gold"),
    ('{"id": "x", "question": "a", "answer": "b"}\n\n{"id": "x", "question": "c", "answer": "d"}\n', 3, "duplicate id 'x'"),
    ('{"question": "a", "gold_articles": ["某某规定的内容"]}\n', 1, "'gold_articles' entry 1"),
    ('["not", "an", "object"]\n', 1, "expected a JSON object"),
])
def test_malformed_records_name_their_line(tmp_path: Path, content: str, line: int, reason: str) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SetError) as info:
        load_eval_set(path)
    assert str(info.value).startswith(f"{path}:{line}: ") and reason in str(info.value)


def test_json_array_errors_name_the_line_of_the_item() -> None:
    with pytest.raises(SetError, match=r"lawbench_style\.json:6: missing or empty 'question'"):
        load_eval_set(DATA / "lawbench_style.json")


def test_skip_invalid_warns_and_keeps_the_rest() -> None:
    warnings: list[str] = []
    loaded = load_eval_set(DATA / "bad_fields.jsonl", skip_invalid=True, warn=warnings.append)
    assert [item.line for item in loaded.items] == [1]
    assert [w.split(": ")[0].rsplit(":", 1)[1] for w in warnings] == ["2", "3"]


def test_empty_missing_and_unsupported_files(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(SetError, match="no questions"):
        load_eval_set(tmp_path / "empty.jsonl")
    with pytest.raises(SetError, match="not found"):
        load_eval_set(tmp_path / "nope.jsonl")
    (tmp_path / "set.csv").write_text("q,a\n", encoding="utf-8")
    with pytest.raises(SetError, match="unsupported eval set type .csv"):
        load_eval_set(tmp_path / "set.csv")


def test_kinds_and_gold_are_inferred(tmp_path: Path) -> None:
    loaded = load_eval_set(DATA / "law_small.jsonl")
    by_id = {item.id: item for item in loaded.items}
    assert by_id["coop-56"].gold.articles == [ArticleRef("农民专业合作社法", "56")]
    assert by_id["sole-2"].gold.articles == [ArticleRef("个人独资企业法", "2")]  # parsed from the answer
    assert by_id["theft-264"].kind == "retrieval" and by_id["theft-264"].gold.articles == [ArticleRef("中华人民共和国刑法", "264")]
    assert by_id["drunk-133-1"].gold.keys() == ["article:刑法:133-1", "span:0"]
    path = tmp_path / "kinds.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"instruction": "从A,B,C,D中选出一个正确的答案。", "question": "哪个?A:甲;B:乙", "answer": "正确答案：B。"},
        {"question": "多少?", "answer": "Janet makes 9 * 2 = 18.\n#### 1,018"},
        {"question": "哪些?", "answer": ["AC"]},
        {"question": "几?", "answer": 3, "tolerance": 0.01},
        {"question": "TAT?", "answer": ["$1,496.5"]},
    ]), encoding="utf-8")
    items = load_eval_set(path).items
    assert [i.kind for i in items] == ["mcq", "numeric", "mcq", "numeric", "text"]
    assert items[0].choices == ["B"] and items[0].ask_text.startswith("从A,B,C,D中选出") and items[0].question == "哪个?A:甲;B:乙"
    assert items[1].number == 1018 and items[2].choices == ["AC"] and items[3].tolerance == 0.01
    assert items[2].ask_text.startswith("哪些?\n") and "答案：选项字母" in items[2].ask_text
    assert "答案：数值" in items[3].ask_text and items[4].ask_text == "TAT?"
    assert items[4].answer == "$1,496.5" and items[0].id == "kinds:1"


# ---- shipped sets --------------------------------------------------------------------------------------------
class _PackStub:
    def __init__(self, name: str) -> None:
        self.name, self.path = name, REPO / "domains" / name

    def section(self, name: str) -> dict:
        return {}


@pytest.mark.parametrize("pack", PACKS)
def test_every_pack_ships_small_valid_sets_with_sources(pack: str) -> None:
    stub = _PackStub(pack)
    sets = pack_sets(stub)
    assert sets, f"domains/{pack}/eval/ has no eval set"
    source = (stub.path / "eval" / "SOURCE.md").read_text(encoding="utf-8")
    for name, path in sets.items():
        assert path.stat().st_size < 1_000_000
        loaded = load_eval_set(path)
        assert 50 <= len(loaded) <= 300
        assert f"{name}.jsonl ({len(loaded)} questions)" in source
        assert "licence:" in source and "@ " in source
    assert resolve_set(stub).name == next(iter(sets))


def test_resolve_set_by_name_path_and_unknown() -> None:
    pack = load_pack("law")
    assert resolve_set(pack, "mcq_lawbench_1-2").name == "mcq_lawbench_1-2"
    assert resolve_set(pack, str(DATA / "law_small.jsonl")).name == "law_small"
    with pytest.raises(SetError, match="no eval set 'nope' in pack law: choose one of articles_lawbench_3-2"):
        resolve_set(pack, "nope")


def test_law_gold_articles_exist_in_the_pack_corpus() -> None:
    corpus = {normalize_law_name(p.stem): p for p in (REPO / "domains/law/corpus").glob("**/*.md")}
    items = load_eval_set(REPO / "domains/law/eval/articles_lawbench_3-2.jsonl").items
    shipped = [i for i in items if i.meta["in_pack_corpus"] and i.gold.articles[0].law in corpus]
    assert len(shipped) >= 150
    for item in shipped:
        ref = item.gold.articles[0]
        text = corpus[ref.law].read_text(encoding="utf-8")
        from domainrag.lawref import ARTICLE, article_key

        assert any(article_key(m.group(0)) == ref.article for m in ARTICLE.finditer(text)), item.id


@pytest.mark.parametrize("pack,name", [("medical", "medical_qa"), ("finance", "fineval_rigor")])
def test_gold_spans_occur_in_the_pack_corpus(pack: str, name: str) -> None:
    corpus = squeeze("".join(p.read_text(encoding="utf-8") for p in (REPO / "domains" / pack / "corpus").glob("**/*.*")))
    items = load_eval_set(REPO / "domains" / pack / "eval" / f"{name}.jsonl").items
    assert sum(bool(item.gold.spans) for item in items) >= len(items) // 2
    for item in items:
        assert all(squeeze(span) in corpus for span in item.gold.spans), item.id


def test_eval_questions_are_not_in_any_pack_corpus() -> None:
    from domainrag.evaluate.build_sets import corpus_questions

    seen = corpus_questions(REPO / "domains")
    for pack in ("education", "math"):
        for path in pack_sets(_PackStub(pack)).values():
            leaked = [i.id for i in load_eval_set(path).items if squeeze(i.question) in seen]
            assert not leaked, f"{pack}: eval questions found in a corpus: {leaked[:5]}"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data not present")
def test_shipped_sets_rebuild_identically(tmp_path: Path) -> None:
    from domainrag.evaluate.build_sets import build

    build(SHARED, tmp_path, list(PACKS), domains=REPO / "domains")
    for pack in PACKS:
        for built in (tmp_path / pack / "eval").iterdir():
            shipped = REPO / "domains" / pack / "eval" / built.name
            assert built.read_bytes() == shipped.read_bytes(), f"{shipped} differs from a rebuild"
