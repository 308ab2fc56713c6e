"""Loaders by file type. Each turns one file into a Document or raises LoadError with the reason."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from domainrag.ingestion.archives import ZIP_FORMATS, check_zip
from domainrag.ingestion.documents import Document, LoadError
from domainrag.ingestion.encoding import decode_bytes
from domainrag.ingestion.html_text import html_to_text

MAX_FILE_BYTES = 200 * 1024 * 1024
_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*\n", re.S)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.M)


def _read_text(path: Path) -> str:
    return decode_bytes(path.read_bytes(), str(path))


def _title_from_markdown(text: str, path: Path) -> str:
    match = _H1.search(text)
    return match.group(1).strip() if match else re.sub(r"\(\d{4}-\d{2}-\d{2}\)$", "", path.stem)


def load_markdown(path: Path) -> Document:
    text = _HTML_COMMENT.sub("", _FRONT_MATTER.sub("", _read_text(path)))
    return Document(source=str(path), title=_title_from_markdown(text, path), text=text)


def load_text(path: Path) -> Document:
    text = _read_text(path)
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    title = first_line if 0 < len(first_line) <= 60 else path.stem
    return Document(source=str(path), title=title, text=text)


def load_html(path: Path) -> Document:
    text, title = html_to_text(_read_text(path))
    if title is None:
        title = _title_from_markdown(text, path)
    return Document(source=str(path), title=title or path.stem, text=text)


def load_pdf(path: Path) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise LoadError("encrypted PDF: decrypt it first (e.g. qpdf --decrypt)")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or path.stem
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError) as exc:
        raise LoadError(f"corrupt PDF ({type(exc).__name__}: {str(exc)[:80]})") from None
    text = "\n\n".join(pages)
    if not text.strip():
        raise LoadError("PDF has no extractable text (scanned images?): run OCR first")
    return Document(source=str(path), title=str(title), text=text, metadata={"pages": len(pages)})


def load_docx(path: Path) -> Document:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise LoadError(f"corrupt .docx ({type(exc).__name__})") from None
    except zlib.error as exc:
        raise LoadError(f"corrupt .docx (damaged compressed data: {exc})") from None
    lines: list[str] = []
    for paragraph in document.paragraphs:
        style = (paragraph.style.name or "") if paragraph.style is not None else ""
        text = paragraph.text.strip()
        if not text:
            continue
        level = re.match(r"Heading (\d)", style)
        lines.append(f"{'#' * int(level.group(1))} {text}" if level else text)
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    title = document.core_properties.title or next((l.lstrip("# ") for l in lines if l.startswith("#")), path.stem)
    return Document(source=str(path), title=title, text="\n\n".join(lines))


def load_csv(path: Path) -> Document:
    text = _read_text(path)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    doc = Document(source=str(path), title=path.stem, records=[], record_ids=[])
    for row in csv.DictReader(io.StringIO(text), dialect=dialect):
        record = "；".join(f"{key}: {value}" for key, value in row.items() if key and value not in (None, ""))
        if record.strip():
            doc.add_record(record, record_id(row))
    return doc


_JSON_TEXT_KEYS = ("text", "content", "body", "passage", "document")
_ID_KEYS = ("id", "doc_id", "_id")


def record_id(record: dict) -> str:
    """A record's own id (``id``, ``doc_id`` or ``_id``, a string or an integer); "" when it has none."""
    for key in _ID_KEYS:
        value = record.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return ""


def _record_text(obj: dict) -> str:
    for key in _JSON_TEXT_KEYS:
        if isinstance(obj.get(key), str) and obj[key].strip():
            return obj[key]
    if "question" in obj or "instruction" in obj:
        parts = [str(obj.get(k, "")) for k in ("instruction", "question", "input", "answer", "output")]
        return "\n".join(p for p in parts if p.strip())
    return json.dumps(obj, ensure_ascii=False)


def load_jsonl(path: Path) -> Document:
    doc = Document(source=str(path), title=path.stem, records=[], record_ids=[])
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            doc.warnings.append(f"line {number}: invalid JSON ({exc.msg}); line skipped")
            continue
        except RecursionError:
            doc.warnings.append(f"line {number}: JSON nested too deeply to read; line skipped")
            continue
        text = _record_text(obj) if isinstance(obj, dict) else str(obj)
        if isinstance(obj, dict) and isinstance(obj.get("title"), str):
            text = f"{obj['title']}\n{text}"
        doc.add_record(text, record_id(obj) if isinstance(obj, dict) else "")
    return doc


LOADERS: dict[str, Callable[[Path], Document]] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".csv": load_csv,
    ".jsonl": load_jsonl,
}
SUPPORTED_EXTENSIONS = frozenset(LOADERS)


def load_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Document:
    """Load one file; LoadError says why it cannot be ingested."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoadError(f"unsupported file type {path.suffix or '(none)'}; supported: {', '.join(sorted(LOADERS))}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LoadError(f"cannot read ({exc.strerror})") from None
    if size == 0:
        raise LoadError("empty file")
    if size > max_bytes:
        raise LoadError(f"file too large ({size // 2**20} MiB > {max_bytes // 2**20} MiB); split it or raise --max-file-mb")
    try:
        if path.suffix.lower() in ZIP_FORMATS:
            check_zip(path)
        document = loader(path)
    except PermissionError:
        raise LoadError("permission denied: make the file readable (chmod +r)") from None
    except OSError as exc:
        raise LoadError(f"cannot read ({exc.strerror or exc})") from None
    if not document.text.strip() and not document.records:
        raise LoadError("no text found in the file")
    return document
