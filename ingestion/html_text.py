"""HTML → text in one pass of the stdlib parser, in time linear in the page size and without recursion.

Scripts, styles and page chrome (nav, footer, noscript) are dropped, headings become Markdown headings
(``## Scope``) so the splitter sees the structure, and every paragraph, list item, table row, div and line
break ends with a newline. Open elements are tracked the way BeautifulSoup's ``html.parser`` tree does it
(no implicit closing; an end tag closes everything opened after its start tag; unknown end tags are ignored),
so normal pages give the same text as walking that tree.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser

DROPPED = frozenset({"script", "style", "noscript", "nav", "footer"})
BLOCKS = frozenset({"p", "li", "tr", "div", "br"})
HEADINGS = {f"h{level}": level for level in range(1, 7)}
# Elements that never have content: closed as soon as they open.
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "menuitem", "meta",
                  "param", "source", "track", "wbr", "basefont", "bgsound", "command", "frame", "image", "isindex",
                  "nextid", "spacer"})
PRESERVE_WHITESPACE = frozenset({"pre", "textarea"})
_ASCII_SPACES = " \n\t\f\r"
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass
class _Capture:
    """Strings collected inside one open element (a heading or the title)."""

    depth: int
    strings: list[str] = field(default_factory=list)

    def joined(self, separator: str) -> str:
        return separator.join(s.strip() for s in self.strings if s.strip())


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.open_counts: Counter[str] = Counter()
        self.parts: list[str] = []
        self.dropped = 0  # open elements whose text is left out
        self.heading: _Capture | None = None
        self.heading_level = 0
        self.title: _Capture | None = None
        self.title_text: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open(tag)
        if tag in VOID:
            self._pop()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open(tag)
        self._pop()

    def handle_endtag(self, tag: str) -> None:
        if self.open_counts[tag]:
            while self._pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self.dropped or not data:
            return
        if not data.strip(_ASCII_SPACES) and not any(self.open_counts[tag] for tag in PRESERVE_WHITESPACE):
            data = "\n" if "\n" in data else " "  # layout whitespace between tags collapses to one character
        if self.title is not None:
            self.title.strings.append(data)
        if self.heading is not None:
            self.heading.strings.append(data)
        else:
            self.parts.append(data)

    def unknown_decl(self, data: str) -> None:
        if data.startswith("CDATA["):
            self.handle_data(data[len("CDATA["):])

    def finish(self) -> None:
        """Close what the page left open (their block newlines still count)."""
        self.close()
        while self.stack:
            self._pop()

    def _open(self, tag: str) -> None:
        self.stack.append(tag)
        self.open_counts[tag] += 1
        if tag in DROPPED:
            self.dropped += 1
        elif self.dropped:
            return
        elif tag in HEADINGS and self.heading is None:
            self.heading, self.heading_level = _Capture(len(self.stack)), HEADINGS[tag]
        elif tag == "title" and self.title is None and self.title_text is None:
            self.title = _Capture(len(self.stack))

    def _pop(self) -> str:
        depth = len(self.stack)
        tag = self.stack.pop()
        self.open_counts[tag] -= 1
        if tag in DROPPED:
            self.dropped -= 1
        elif self.heading is not None and self.heading.depth == depth:
            self.parts.append(f"\n\n{'#' * self.heading_level} {self.heading.joined(' ')}\n\n")
            self.heading = None
        elif self.title is not None and self.title.depth == depth:
            self.title_text, self.title = self.title.joined(""), None
        if tag in BLOCKS and not self.dropped and self.heading is None:
            self.parts.append("\n")
        return tag


def html_to_text(html: str) -> tuple[str, str | None]:
    """The page's text and the text of its first ``<title>`` (None when it has none)."""
    extractor = _Extractor()
    extractor.feed(html)
    extractor.finish()
    return _BLANK_LINES.sub("\n\n", "".join(extractor.parts)), extractor.title_text
