"""Real .docx files built in memory for the tests: one with a huge repetitive body, one with damaged data."""

from __future__ import annotations

import io
import struct
import zipfile


def docx_with_body(paragraph: bytes, repeat: int) -> bytes:
    """A python-docx document whose word/document.xml holds ``paragraph`` ``repeat`` times (deflated)."""
    import docx

    template = io.BytesIO()
    docx.Document().save(template)
    out = io.BytesIO()
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            if item.filename != "word/document.xml":
                target.writestr(item, source.read(item))
                continue
            head, tail = source.read(item).split(b"<w:body>", 1)
            with target.open("word/document.xml", "w", force_zip64=True) as stream:
                stream.write(head + b"<w:body>")
                block = paragraph * 1000
                for _ in range(max(1, repeat // 1000)):
                    stream.write(block)
                stream.write(tail)
    return out.getvalue()


def damaged(data: bytes, member: str) -> bytes:
    """``data`` with eight bytes of ``member``'s deflated stream flipped (unzipping it fails in zlib)."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        offset = archive.getinfo(member).header_offset
    name_length, extra_length = struct.unpack("<HH", out[offset + 26:offset + 30])
    start = offset + 30 + name_length + extra_length + 5  # a few bytes into the deflated stream
    out[start:start + 8] = bytes(b ^ 0xFF for b in out[start:start + 8])
    return bytes(out)
