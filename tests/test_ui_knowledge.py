"""Knowledge-base page through Streamlit's AppTest: upload and ingest, bad uploads, delete, search playground.

Runs the real app scripts against a real Milvus Lite file and the real embedding model.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from domainrag.ui import APP_FILE

KB = "ui_upload"
CO_OP = "# 合作社章程\n\n第一条 农民专业合作社成员大会由全体成员组成，是本社的权力机构。\n\n第二条 成员大会选举产生理事长。\n"
SOLE = "个人独资企业须知\n\n个人独资企业的投资人以其个人财产对企业债务承担无限责任。投资人可以自行管理企业事务。\n"


@pytest.fixture()
def app(monkeypatch: pytest.MonkeyPatch, domainrag_home: Path, law_rag) -> AppTest:
    """The app on the knowledge page of a fresh KB in the shared test Milvus file."""
    monkeypatch.setenv("DOMAINRAG_MILVUS_URI", law_rag.uri)
    monkeypatch.setenv("DOMAINRAG_KB", KB)
    monkeypatch.setenv("DOMAINRAG_UI_PACK", "law")
    at = AppTest.from_file(str(APP_FILE), default_timeout=120).run()
    at.switch_page("page_knowledge.py").run()
    assert not at.exception
    return at


def stored(law_rag) -> dict[str, int]:
    """File name → chunk count, read from Milvus directly."""
    return {Path(s).name: int(r["chunks"]) for s, r in law_rag.store.manifest(KB).items()}


def test_upload_ingest_bad_uploads_delete_and_search(app: AppTest, law_rag, domainrag_home: Path) -> None:
    uploads = domainrag_home / "uploads" / KB
    app.file_uploader[0].set_value([("合作社章程.md", CO_OP.encode(), "text/markdown"),
                                    ("docs/独资企业.txt", SOLE.encode(), "text/plain")]).run()
    ingest = next(b for b in app.button if b.label.startswith("Ingest 2 file"))
    ingest.click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert "Upload: 2 ingested" in app.success[0].value
    chunks = stored(law_rag)
    assert set(chunks) == {"合作社章程.md", "独资企业.txt"} and all(n >= 1 for n in chunks.values())
    listed = app.dataframe[0].value
    assert sorted(listed["file"]) == [f"uploads/{KB}/合作社章程.md", f"uploads/{KB}/独资企业.txt"]
    assert [m.value for m in app.sidebar.metric] == ["2", str(sum(chunks.values()))]

    # bad uploads: empty, binary behind .txt, traversal, a different file under an existing name
    before_files = {p.name: p.read_bytes() for p in uploads.iterdir()}
    before_count = law_rag.store.count(KB)
    app.file_uploader[0].set_value([("empty.txt", b"", "text/plain"),
                                    ("scan.txt", bytes(range(256)) * 16, "text/plain"),
                                    ("../../escape.md", CO_OP.encode(), "text/markdown"),
                                    ("合作社章程.md", b"# other\n\ncompletely different", "text/markdown")]).run()
    next(b for b in app.button if b.label.startswith("Ingest 4 file")).click().run()
    errors = [e.value for e in app.error]
    assert len(errors) == 4 and not app.success, errors
    assert any("empty.txt" in e and "empty" in e for e in errors)
    assert any("scan.txt" in e and "binary" in e for e in errors)
    assert any("'..'" in e for e in errors)
    assert any("合作社章程.md" in e and "different file with this name" in e for e in errors)
    assert {p.name: p.read_bytes() for p in uploads.iterdir()} == before_files  # nothing replaced or added
    assert not (domainrag_home / "escape.md").exists() and not (uploads.parent / "escape.md").exists()
    assert stored(law_rag) == chunks and law_rag.store.count(KB) == before_count  # nothing stored is lost

    # search playground: BM25 finds the uploaded co-op charter and shows its score
    app.text_input(key="kb-query").input("成员大会 权力机构").run()
    app.segmented_control(key="kb-mode").set_value("bm25").run()
    hits = app.dataframe[1].value
    assert hits["title"].iloc[0] == "合作社章程" and hits["score"].iloc[0] > 0
    assert any("score" in e.label for e in app.expander)

    # delete one document: asks for confirmation, then removes its chunks and the uploaded file
    target = next(s for s in law_rag.store.manifest(KB) if s.endswith("独资企业.txt"))
    app.multiselect(key="kb-selected").set_value([target]).run()
    next(b for b in app.button if b.label == "Delete selected").click().run()
    assert stored(law_rag) == chunks  # not before confirming
    next(b for b in app.button if b.label == "Yes, delete").click().run()
    assert stored(law_rag) == {"合作社章程.md": chunks["合作社章程.md"]}
    assert law_rag.store.chunk_ids_for_source(KB, target) == set()
    assert not Path(target).exists()
    assert "Delete:" in app.success[0].value

    # re-ingest all: the remaining document is rebuilt from disk and keeps its chunks
    next(b for b in app.button if b.label == "Re-ingest all").click().run()
    assert "Re-ingest all: 1 ingested" in app.success[0].value
    assert stored(law_rag) == {"合作社章程.md": chunks["合作社章程.md"]}
