"""Loaders and encoding detection on real files written in each format and encoding."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from domainrag.ingestion import LoadError, load_file
from domainrag.ingestion.archives import check_zip
from domainrag.ingestion.splitters import split_document
from domainrag.ingestion.encoding import decode_bytes

from docx_files import damaged, docx_with_body

ZH = "第一条 为了规范农民专业合作社的组织和行为，制定本法。\n第二条 本法所称农民专业合作社，是指在农村家庭承包经营基础上设立的互助性经济组织。"
ZH_TRAD = "第一條 為了規範農民專業合作社的組織和行為，鼓勵、支持、引導農民專業合作社的發展，制定本法。"


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("encoding,text", [
    ("utf-8", ZH), ("utf-8-sig", ZH), ("gbk", ZH), ("gb18030", ZH), ("big5", ZH_TRAD),
    ("utf-16", ZH), ("utf-16-le", "Plain English text about contracts.\nSecond line."),
])
def test_text_encodings_are_detected(tmp_path: Path, encoding: str, text: str) -> None:
    path = _write(tmp_path, f"doc-{encoding}.txt", text.encode(encoding))
    assert load_file(path).text.strip() == text


def test_markdown_title_front_matter_and_comments(tmp_path: Path) -> None:
    path = _write(tmp_path, "law.md", "---\ntags: x\n---\n# 中华人民共和国示例法\n<!-- INFO END -->\n## 第一章 总则\n第一条 内容。\n".encode())
    doc = load_file(path)
    assert doc.title == "中华人民共和国示例法"
    assert "INFO END" not in doc.text and "tags:" not in doc.text


def test_html_keeps_headings_and_drops_scripts(tmp_path: Path) -> None:
    html = "<html><head><title>Guide</title><script>var x=1;</script></head><body><h2>Scope</h2><p>Applies to banks.</p></body></html>"
    doc = load_file(_write(tmp_path, "guide.html", html.encode()))
    assert doc.title == "Guide"
    assert "## Scope" in doc.text and "Applies to banks." in doc.text and "var x" not in doc.text


def test_docx_headings_and_tables(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Deposit insurance", level=1)
    document.add_paragraph("Deposits are insured up to a limit.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "limit", "500000"
    path = tmp_path / "policy.docx"
    document.save(str(path))
    doc = load_file(path)
    assert "# Deposit insurance" in doc.text and "limit | 500000" in doc.text


@pytest.mark.timeout(60)
def test_docx_zip_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    paragraph = b"<w:p><w:r><w:t>all work and no play makes a dull document</w:t></w:r></w:p>"
    bomb = _write(tmp_path, "bomb.docx", docx_with_body(paragraph, 400_000))  # ~32 MB of XML in ~100 KB
    assert bomb.stat().st_size < 200_000
    started = time.perf_counter()
    with pytest.raises(LoadError, match=r"zip bomb guard: word/document.xml expands \d+x .* over the 100x limit"):
        load_file(bomb)
    assert time.perf_counter() - started < 2
    with pytest.raises(LoadError, match=r"the .docx expands to \d+ MiB, over the 1 MiB limit on unzipped size"):
        check_zip(bomb, max_unzipped_bytes=2**20)
    normal = _write(tmp_path, "normal.docx", docx_with_body(paragraph, 1000))
    assert "all work and no play" in load_file(normal).text


def test_docx_with_damaged_compressed_data_is_a_load_error(tmp_path: Path) -> None:
    data = damaged(docx_with_body(b"<w:p><w:r><w:t>hello world</w:t></w:r></w:p>", 2000), "word/document.xml")
    with pytest.raises(LoadError, match="corrupt .docx"):
        load_file(_write(tmp_path, "damaged.docx", data))


def _minimal_pdf(text: str) -> bytes:
    """A valid one-page PDF with a Helvetica text line, built by hand (offsets computed)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_pdf_text_is_extracted(tmp_path: Path) -> None:
    doc = load_file(_write(tmp_path, "notice.pdf", _minimal_pdf("Capital adequacy ratio must exceed eight percent")))
    assert "Capital adequacy ratio" in doc.text


def test_csv_and_jsonl_become_records(tmp_path: Path) -> None:
    csv_doc = load_file(_write(tmp_path, "rates.csv", "term,rate\n1y,1.5%\n3y,2.6%\n".encode()))
    assert csv_doc.records == ["term: 1y；rate: 1.5%", "term: 3y；rate: 2.6%"]
    jsonl = '{"title": "Q1", "text": "What is APR?"}\nnot json\n{"question": "何为年化利率？", "answer": "按年计算的利率。"}\n'
    jsonl_doc = load_file(_write(tmp_path, "faq.jsonl", jsonl.encode()))
    assert jsonl_doc.records == ["Q1\nWhat is APR?", "何为年化利率？\n按年计算的利率。"]
    assert jsonl_doc.warnings == ["line 2: invalid JSON (Expecting value); line skipped"]


def test_records_keep_their_own_ids_as_doc_id_metadata(tmp_path: Path) -> None:
    jsonl = ('{"id": "scifact-7", "title": "T", "text": "Aspirin lowers fever."}\n'
             '{"doc_id": 42, "text": "Ibuprofen relieves pain."}\n{"text": "No id here."}\n')
    doc = load_file(_write(tmp_path, "corpus.jsonl", jsonl.encode()))
    assert doc.record_ids == ["scifact-7", "42", ""]
    chunks = split_document(doc)
    assert [c.metadata.get("doc_id") for c in chunks] == ["scifact-7", "42", None]
    assert [c.metadata["record"] for c in chunks] == [1, 2, 3]
    csv_doc = load_file(_write(tmp_path, "rates.csv", "id,term,rate\nr1,1y,1.5%\n,3y,2.6%\n".encode()))
    assert csv_doc.record_ids == ["r1", ""]


@pytest.mark.parametrize("name,data,reason", [
    ("empty.md", b"", "empty file"),
    ("binary.txt", bytes(range(256)) * 20, "binary content"),
    ("corrupt.pdf", b"%PDF-1.4\n this is not really a pdf", "corrupt PDF"),
    ("corrupt.docx", b"PK\x03\x04 broken zip", "corrupt .docx"),
    ("blank.md", b"   \n\n  ", "no text found"),
    ("notes.xyz", b"hello", "unsupported file type"),
])
def test_bad_files_raise_load_error_with_reason(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    with pytest.raises(LoadError, match=reason):
        load_file(_write(tmp_path, name, data))


def test_undecodable_bytes_are_reported() -> None:
    with pytest.raises(LoadError, match="undecodable|binary"):
        decode_bytes(b"\xff\xfe\x00\xd8\x00\xd8" + b"\x81\x30\xff\xff" * 50)


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "big.txt", b"a" * 2048)
    with pytest.raises(LoadError, match="too large"):
        load_file(path, max_bytes=1024)


@pytest.mark.timeout(120)
def test_html_with_many_or_deeply_nested_blocks_loads_in_linear_time(tmp_path: Path) -> None:
    flat = _write(tmp_path, "flat.html", ("<html><body>" + "".join(f"<p>para {i}</p>" for i in range(40000))
                                          + "</body></html>").encode())
    deep = _write(tmp_path, "deep.html", ("<div>" * 100000 + "<h2>Bottom</h2>deep text" + "</div>" * 100000).encode())
    started = time.perf_counter()
    flat_doc = load_file(flat)
    deep_doc = load_file(deep)
    assert time.perf_counter() - started < 10
    assert flat_doc.text.startswith("para 0\npara 1\n") and flat_doc.text.endswith("para 39999\n")
    assert deep_doc.text == "\n\n## Bottom\n\ndeep text\n\n"


def test_html_block_and_whitespace_layout(tmp_path: Path) -> None:
    """Blocks end with a newline, layout whitespace collapses, <pre> keeps its own (as BeautifulSoup's tree did)."""
    html = ("<html>\n  <head>\n    <title> Rates &amp; fees </title>\n  </head>\n  <body>\n"
            "    <nav><p>Home</p></nav>\n    <h1>Fees <b>2024</b></h1>\n    <ul><li>one<li>two</ul>\n"
            "    <pre>  keep\n  this</pre><table><tr><td>a<td>b</table>line<br>break\n  </body>\n</html>")
    doc = load_file(_write(tmp_path, "fees.html", html.encode()))
    assert doc.title == "Rates & fees"
    assert doc.text == "\n\n Rates & fees \n\n# Fees 2024\n\nonetwo\n\n  keep\n  thisab\nline\nbreak\n  \n"
