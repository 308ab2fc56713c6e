"""Upload safety: names, traversal, size limit, no silent overwrite, bad files refused before they replace good ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from domainrag.ui.feedback_log import load_feedback, record_feedback
from domainrag.ui.upload_store import UploadError, safe_name, save_upload, upload_dir

from docx_files import damaged, docx_with_body

GOOD = "# 合作社章程\n\n第一条 成员大会由全体成员组成，是本社的权力机构。\n".encode()


@pytest.mark.parametrize("raw, expected", [
    ("章程.md", "章程.md"),
    ("docs/sub/notes.txt", "notes.txt"),
    ("C:\\Users\\me\\report.pdf", "report.pdf"),
])
def test_safe_name_strips_directories(raw: str, expected: str) -> None:
    assert safe_name(raw) == expected


@pytest.mark.parametrize("raw, reason", [
    ("../../etc/cron.md", "'..'"),
    ("..\\secret.txt", "'..'"),
    ("", "empty"),
    (".bashrc.md", "hidden"),
    ("a\x00b.md", "control"),
    ("payload.exe", "unsupported file type .exe"),
    ("noext", "unsupported file type (none)"),
    ("\u202eevil\u202dtxt.exe.txt", "invisible control or formatting characters (U+202D, U+202E)"),
    ("report\u200b.md", "invisible control or formatting characters (U+200B)"),
    ("line\u2028break.md", "invisible"),
])
def test_safe_name_refuses(raw: str, reason: str) -> None:
    with pytest.raises(UploadError, match=re.escape(reason)):
        safe_name(raw)


def test_save_checks_size_content_and_existing_files(tmp_path: Path) -> None:
    saved = save_upload(tmp_path, "dir/章程.md", GOOD)
    assert (saved.status, saved.path) == ("new", tmp_path.resolve() / "章程.md")
    assert save_upload(tmp_path, "章程.md", GOOD).status == "unchanged"

    newer = GOOD + "第二条 新条文。\n".encode()
    with pytest.raises(UploadError, match="different file with this name"):
        save_upload(tmp_path, "章程.md", newer)
    assert saved.path.read_bytes() == GOOD
    assert save_upload(tmp_path, "章程.md", newer, replace=True).status == "replaced"
    assert saved.path.read_bytes() == newer

    with pytest.raises(UploadError, match="empty"):
        save_upload(tmp_path, "empty.txt", b"")
    with pytest.raises(UploadError, match="over the 1 MiB upload limit"):
        save_upload(tmp_path, "big.txt", b"x" * (2**20 + 1), max_bytes=2**20)
    # a binary file with a text extension must not replace the good document of the same name
    with pytest.raises(UploadError, match="binary"):
        save_upload(tmp_path, "章程.md", bytes(range(256)) * 8, replace=True)
    assert saved.path.read_bytes() == newer
    assert sorted(p.name for p in tmp_path.iterdir()) == ["章程.md"]  # no staging leftovers, nothing else written


def test_a_file_that_breaks_its_parser_is_one_error_and_the_next_file_is_stored(tmp_path: Path) -> None:
    corrupt = damaged(docx_with_body(b"<w:p><w:r><w:t>hello world</w:t></w:r></w:p>", 2000), "word/document.xml")
    with pytest.raises(UploadError, match=r"^broken\.docx: corrupt \.docx"):
        save_upload(tmp_path, "broken.docx", corrupt)
    deep = ("[" * 100_000 + "]" * 100_000 + "\n").encode()
    with pytest.raises(UploadError, match=r"^deep\.jsonl: no text found"):
        save_upload(tmp_path, "deep.jsonl", deep)
    mixed = save_upload(tmp_path, "mixed.jsonl", deep + '{"text": "成员大会选举理事长。"}\n'.encode())
    assert mixed.status == "new" and save_upload(tmp_path, "章程.md", GOOD).status == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixed.jsonl", "章程.md"]


def test_upload_dir_is_per_kb_under_home(domainrag_home: Path) -> None:
    assert upload_dir("law_small") == domainrag_home / "uploads" / "law_small"
    with pytest.raises(Exception, match="invalid knowledge-base name"):
        upload_dir("../x")


def test_feedback_keeps_latest_rating_per_answer(domainrag_home: Path) -> None:
    answer = {"answer": "依据 [1]。", "citations": [{"n": 1, "chunk_id": "c", "source": "s", "title": "t",
                                                    "section": "第一条", "text": "x"}], "model": "m"}
    record_feedback("a1", 1, "law", "law_small", "问题一", answer, [])
    record_feedback("a2", 1, "law", "law_small", "问题二", answer, [{"role": "user", "content": "问题一"}])
    record_feedback("a1", 0, "law", "law_small", "问题一", answer, [])
    record_feedback("a2", None, "law", "law_small", "问题二", answer, [])
    rows = [r for r in load_feedback() if r["id"] in ("a1", "a2")]  # other tests may rate answers too
    assert [(r["id"], r["rating"], r["question"]) for r in rows] == [("a1", "down", "问题一")]
    assert rows[0]["citations"][0]["section"] == "第一条" and rows[0]["pack"] == "law"


def test_an_upload_is_checked_under_the_parser_limits(tmp_path: Path) -> None:
    """The check runs in the ingest's parser process: a file that takes too long is refused, the web app's own
    process never parses it, and the same parser process checks the next upload."""
    from domainrag.ingestion.worker import FileParser

    slow = "".join(f"## Section {i}\n\nDeposits are insured up to {i} yuan.\n\n" for i in range(200_000)).encode()
    with FileParser(timeout_s=0.5) as parser:
        with pytest.raises(UploadError, match=r"^slow\.md: parsing took longer than the 0\.5 s per-file limit"):
            save_upload(tmp_path, "slow.md", slow, parser=parser)
        assert save_upload(tmp_path, "章程.md", GOOD, parser=parser).status == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["章程.md"]
