"""Citation following (domainrag/cited.py): the articles that the top hits cite join the results, on a real
Milvus Lite knowledge base holding the criminal law and an interpretation that cites it."""

from __future__ import annotations

import copy
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from domainrag.errors import ConfigError
from domainrag.lawref import parse_article_refs
from domainrag.numerals import article_labels, chinese_number, chinese_numeral

REPO = Path(__file__).resolve().parents[1]
# Two articles of a real judicial interpretation (最高人民法院, 2000): facts → the 刑法 article that governs them.
INTERPRETATION = """# 最高人民法院关于审理破坏森林资源刑事案件具体应用法律若干问题的解释

第九条 将国家、集体、他人所有并已经伐倒的树木窃为己有，以及偷砍他人房前屋后、自留地种植的零星树木，数额较大的，依照刑法第二百六十四条的规定，以盗窃罪定罪处罚。

第十条 刑法第三百四十五条规定的“非法收购明知是盗伐、滥伐的林木”中的“明知”，是指知道或者应当知道。
"""
FACTS = "张某趁夜偷砍邻居房前屋后、自留地种植的零星树木后卖掉，数额较大，应当依据哪条法律处理？"


@pytest.fixture(scope="module")
def cited_rag(tmp_path_factory: pytest.TempPathFactory, domainrag_home: Path):
    from domainrag import DomainRAG

    folder = tmp_path_factory.mktemp("cited-corpus")
    shutil.copy(REPO / "domains" / "law" / "corpus" / "刑法" / "刑法.md", folder / "刑法.md")
    (folder / "破坏森林资源解释.md").write_text(INTERPRETATION, encoding="utf-8")
    rag = DomainRAG.from_pack("law", uri=str(domainrag_home / "shared.db"), kb="law_cited")
    rag.ingest(folder)
    return rag


def _article(hit) -> tuple[str, str]:
    return hit.title, hit.metadata.get("article", "")


def test_the_law_pack_follows_citations(cited_rag) -> None:
    assert cited_rag.retriever.follower is not None
    assert cited_rag.retriever.follower.weight == cited_rag.pack.retrieval.cited_weight > 0


def test_case_facts_reach_the_article_their_interpretation_cites(cited_rag) -> None:
    plain = copy.copy(cited_rag.retriever)
    plain.follower = None
    governing = ("中华人民共和国刑法", "第二百六十四条")
    without = [_article(hit) for hit in plain.search(FACTS, k=3)]
    hits = cited_rag.search(FACTS, k=5)  # the two articles the interpretation cites join above it
    assert governing not in without  # the facts share too few words with the article itself
    assert "最高人民法院关于审理破坏森林资源刑事案件具体应用法律若干问题的解释" in [hit.title for hit in hits]
    found = next(hit for hit in hits if _article(hit) == governing)
    assert found.metadata["cited_by"] == "最高人民法院关于审理破坏森林资源刑事案件具体应用法律若干问题的解释"
    assert found.text.startswith("第二百六十四条 盗窃公私财物")


def test_a_top_hit_the_reranker_is_sure_of_stays_first(cited_rag) -> None:
    retriever = copy.copy(cited_rag.retriever)
    plain = copy.copy(retriever)
    plain.follower = None
    top = plain.search(FACTS, k=1)[0]
    assert 0 < top.score < 1  # the reranker's probability
    governing = ("中华人民共和国刑法", "第二百六十四条")
    retriever.cited_keep_top = 0.0
    assert retriever.search(FACTS, k=5)[0].chunk_id != top.chunk_id  # a cited article outranks it
    retriever.cited_keep_top = min(1.0, top.score + 1e-3)  # not sure enough
    assert retriever.search(FACTS, k=5)[0].chunk_id != top.chunk_id
    retriever.cited_keep_top = top.score - 1e-6
    kept = retriever.search(FACTS, k=5)
    assert kept[0].chunk_id == top.chunk_id
    assert governing in [_article(hit) for hit in kept[1:]]  # still followed, below it
    assert [hit.rank for hit in kept] == [1, 2, 3, 4, 5]


def test_statutes_and_articles_missing_from_the_kb_are_not_followed(cited_rag) -> None:
    follower = cited_rag.retriever.follower
    statute = cited_rag.search("盗窃公私财物，数额较大的", k=1)[0]
    assert statute.title == "中华人民共和国刑法"
    citing_statute = replace(statute, text="依照刑法第二百六十三条的规定处罚")
    interpretation = next(hit for hit in cited_rag.search(FACTS, k=5) if hit.title.startswith("最高人民法院"))
    references = [ref.label for ref, _ in follower.references([citing_statute, interpretation])]
    assert references == ["刑法第264条", "刑法第345条"]  # a statute's own text is not read for citations
    absent = parse_article_refs("依照刑法第九千九百条的规定")
    assert follower.fetch(absent) == {}
    beyond = replace(interpretation, text="依照刑法第一万零一条的规定")  # no statute numbers that far: not followed
    assert follower.references([beyond]) == []
    assert follower.expand([beyond]) == [beyond]
    assert follower.expand([]) == []


def test_a_search_without_citations_is_unchanged(cited_rag) -> None:
    plain = copy.copy(cited_rag.retriever)
    plain.follower = None
    question = "盗窃公私财物数额较大的，应当如何处罚？"
    assert [h.chunk_id for h in cited_rag.search(question, k=5)] == [h.chunk_id for h in plain.search(question, k=5)]


def test_article_labels_spell_every_number_the_way_statutes_do() -> None:
    assert all(chinese_numeral(chinese_number(n)) == n for n in range(1, 10_000))
    assert chinese_number(10) == "十" and chinese_number(110) == "一百一十" and chinese_number(1001) == "一千零一"
    assert article_labels(133, 1) == ["第一百三十三条之一", "第133条之一"]
    with pytest.raises(ValueError):
        chinese_number(0)


def test_references_after_fuhe_name_the_law() -> None:
    assert [ref.label for ref in parse_article_refs("符合刑法第三百一十二条规定的，以掩饰、隐瞒犯罪所得罪定罪处罚")] \
        == ["刑法第312条"]


def test_a_bad_cited_setting_is_one_config_error(tmp_path: Path) -> None:
    from domainrag.packs import load_pack

    pack = tmp_path / "p"
    pack.mkdir()
    (pack / "pack.toml").write_text('[pack]\nname = "p"\n[retrieval]\ncited_weight = -1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape("cited_weight must be a number >= 0")):
        load_pack(str(pack))
    (pack / "pack.toml").write_text('[pack]\nname = "p"\n[retrieval]\ncited_keep_top = 1.5\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="cited_keep_top a probability from 0 to 1"):
        load_pack(str(pack))


def test_charges_named_by_a_hit_or_the_question_are_followed(cited_rag) -> None:
    table = cited_rag.retriever.follower.charges
    assert [ref.label for ref in table.references("以合同诈骗罪定罪处罚")] == ["刑法第224条"]  # not 诈骗罪's 266
    assert [ref.label for ref in table.references("犯危险驾驶罪，同时构成其他犯罪的")] == ["刑法第133-1条"]
    question = "盗窃罪的立案标准是什么？"
    hits = cited_rag.search(question, k=3)
    governing = next(hit for hit in hits if _article(hit) == ("中华人民共和国刑法", "第二百六十四条"))
    assert governing.metadata["cited_by"] == "question"


def test_a_broken_charge_table_is_one_config_error(tmp_path: Path) -> None:
    from domainrag.cited import ChargeTable

    path = tmp_path / "charges.json"
    path.write_text('{"law": "刑法"}', encoding="utf-8")
    with pytest.raises(ConfigError, match="not a charge table.*build_charges.py"):
        ChargeTable.load(path)


def test_the_shipped_charge_table_is_what_its_script_builds_from_the_charge_lists() -> None:
    import importlib.util
    import json

    lists = REPO.parent / "shared" / "data" / "law" / "laws" / "司法解释"
    if not lists.is_dir():
        pytest.skip(f"{lists} not found (the shared data set)")
    spec = importlib.util.spec_from_file_location("build_charges", REPO / "domains" / "law" / "build_charges.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.charge_table(lists)
    shipped = json.loads((REPO / "domains" / "law" / "charges.json").read_text(encoding="utf-8"))["charges"]
    assert built == shipped
    assert built["盗窃罪"] == ["264"] and built["放火罪"] == ["114", "115"]
    assert built["投毒罪"] == ["114", "115"] and built["投放危险物质罪"] == ["114"]  # renamed: both names kept


def test_search_shows_which_document_cited_a_passage(cited_rag) -> None:
    import json

    from typer.testing import CliRunner

    from domainrag.cli.main import app

    args = ["search", FACTS, "--pack", "law", "--kb", "law_cited", "--uri", cited_rag.store.uri, "--k", "3"]
    shown = CliRunner().invoke(app, args)
    assert shown.exit_code == 0, shown.output
    assert "cited by 最高人民法院关于审理破坏森林资源刑事案件具体应用法律若干问题的解释" in shown.output
    listed = json.loads(CliRunner().invoke(app, [*args, "--json"]).stdout)
    assert [hit.get("cited_by") for hit in listed if hit["title"] == "中华人民共和国刑法"][0] \
        == "最高人民法院关于审理破坏森林资源刑事案件具体应用法律若干问题的解释"


def test_the_search_playground_shows_which_document_cited_a_passage(cited_rag, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from domainrag.ui import APP_FILE

    monkeypatch.setenv("DOMAINRAG_MILVUS_URI", cited_rag.uri)
    monkeypatch.setenv("DOMAINRAG_KB", "law_cited")
    monkeypatch.setenv("DOMAINRAG_UI_PACK", "law")
    app = AppTest.from_file(str(APP_FILE), default_timeout=120).run()
    app.switch_page("page_knowledge.py").run()
    app.text_input(key="kb-query").input(FACTS).run()
    assert not app.exception
    hits = app.dataframe[-1].value
    cited = hits[hits["title"] == "中华人民共和国刑法"]["cited by"].tolist()
    assert "最高人民法院关于审理破坏森林资源刑事案件具体应用法律若干问题的解释" in cited
    assert any("cited by 最高人民法院" in caption.value for caption in app.caption)
