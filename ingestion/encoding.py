"""Decode text files whatever their encoding: UTF-8, UTF-16 (BOM or not), GBK/GB18030, Big5."""

from __future__ import annotations

import codecs

from domainrag.ingestion.documents import LoadError

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CJK_CANDIDATES = ("gb18030", "big5")


def _bom_encoding(data: bytes) -> str | None:
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return None


def _utf16_without_bom(data: bytes) -> str | None:
    """Spot BOM-less UTF-16 by where its zero bytes fall (ASCII-heavy text)."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even_zero = sample[0::2].count(0) / max(1, len(sample[0::2]))
    odd_zero = sample[1::2].count(0) / max(1, len(sample[1::2]))
    if odd_zero > 0.3 and even_zero < 0.05:
        return "utf-16-le"
    if even_zero > 0.3 and odd_zero < 0.05:
        return "utf-16-be"
    return None


def _looks_binary(text: str) -> bool:
    """Control characters other than whitespace mean this is not text."""
    sample = text[:20000]
    if not sample:
        return False
    bad = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\n\r\f\v") or ch == "\ufffd")
    return bad / len(sample) > 0.02 or "\x00" in sample


def _cjk_score(text: str) -> float:
    """Share of common CJK ideographs and ASCII: higher means a more plausible decoding."""
    if not text:
        return 0.0
    good = sum(1 for ch in text if ch.isascii() or "\u4e00" <= ch <= "\u9fff" or ch in "，。、；：？！“”‘’（）《》【】")
    return good / len(text)


def decode_bytes(data: bytes, source: str = "") -> str:
    """Bytes → text, or LoadError naming why (binary, undecodable)."""
    encoding = _bom_encoding(data) or _utf16_without_bom(data)
    if encoding:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            raise LoadError(f"undecodable bytes: looks like {encoding} but is not valid; re-save as UTF-8") from None
        if _looks_binary(text):
            raise LoadError("binary content behind a text extension")
        return text.lstrip("\ufeff")
    if b"\x00" in data[:8192]:
        raise LoadError("binary content behind a text extension (NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_legacy_cjk(data)
    if _looks_binary(text):
        raise LoadError("binary content behind a text extension")
    return text


def _decode_legacy_cjk(data: bytes) -> str:
    """Pick among GB18030 (covers GBK/GB2312) and Big5, using charset-normalizer as a tie-breaker."""
    candidates: list[tuple[float, str]] = []
    for name in _CJK_CANDIDATES:
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            continue
        candidates.append((_cjk_score(text), name))
    if len(candidates) == 2 and abs(candidates[0][0] - candidates[1][0]) < 0.02:
        from charset_normalizer import from_bytes

        best = from_bytes(data, cp_isolation=["gb18030", "big5", "gbk"]).best()
        if best is not None:
            return str(best)
    if candidates:
        return data.decode(max(candidates)[1])
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.chaos > 0.5:
        raise LoadError("undecodable bytes: not UTF-8, UTF-16, GBK/GB18030 or Big5; re-save the file as UTF-8")
    return str(best)
