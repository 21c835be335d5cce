"""ChatGPT web-UI HTML (as scraped into raw ShareGPT dumps) back to the markdown ChatGPT wrote.

Only whole turns that *look rendered* are converted: they open with the UI's wrapper
(``<div class="markdown prose ...">`` or ``<div><p>``). HTML that users or ChatGPT wrote as
content (a web page in an answer, ``<br>`` inside a markdown table cell) is left alone: on
ShareGPT V3 ("cleaned") no turn opens with the wrapper; its remaining tags are code and
``<br>`` in tables, so this step changes nothing there and matters for raw dumps.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_RENDERED = re.compile(
    r"^\s*<div(?:\s+class=\"[^\"]*\b(?:markdown|prose)\b[^\"]*\")?>\s*"
    r"(?:<div[^>]*>\s*)*<(?:p|ol|ul|pre|h[1-6]|table|blockquote)\b",
)
_BLOCKS = {"p", "div", "table", "blockquote", "ol", "ul", "pre", "h1", "h2", "h3", "h4", "h5", "h6"}
_INLINE_MARKS = {"strong": "**", "b": "**", "em": "*", "i": "*"}
_UI_CHROME = {"button", "svg", "style", "script"}  # copy buttons and icons in code-block headers


def looks_rendered(text: str) -> bool:
    """True when a turn is the web UI's rendering of markdown rather than HTML written as content."""
    return bool(_RENDERED.match(text))


def html_to_markdown(text: str) -> str:
    """Convert one rendered turn to markdown: paragraphs, lists, code blocks, tables, emphasis."""
    parser = _MarkdownWriter()
    parser.feed(text)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.out)).strip()


class _MarkdownWriter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.lists: list[list[int]] = []  # per open list: [next number] for <ol>, [] for <ul>
        self.skip_depth = 0
        self.in_pre = False
        self.in_code = False  # inside <pre><code>: text outside it is the UI's language label
        self.row: list[str] | None = None
        self.rows_written = 0
        self.link: str | None = None
        self.item_opened = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        opened, self.item_opened = self.item_opened, False
        if tag == "p" and opened:
            self.item_opened = True  # read once by _other_start, below
        if self.skip_depth or tag in _UI_CHROME:
            self.skip_depth += 1
            return
        if self.in_pre:
            self._code_start(tag, dict(attrs))
        elif tag == "pre":
            self.in_pre = True
        elif tag in ("ol", "ul"):
            self.lists.append([1] if tag == "ol" else [])
        elif tag == "li":
            self._list_item()
        elif tag in _INLINE_MARKS:
            self.out.append(_INLINE_MARKS[tag])
        else:
            self._other_start(tag, dict(attrs))

    def _other_start(self, tag: str, attrs: dict[str, str | None]) -> None:
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.out.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag == "blockquote":
            self.out.append("\n\n> ")
        elif tag == "p" and not self.item_opened:  # <li><p>: the marker already starts the line
            self.out.append("\n\n")
        elif tag == "br":
            self.out.append("\n")
        elif tag == "hr":
            self.out.append("\n\n---\n\n")
        elif tag == "code":
            self.out.append("`")
        elif tag == "a":
            self.link = attrs.get("href") or ""
            self.out.append("[")
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.row.append("")

    def _code_start(self, tag: str, attrs: dict[str, str | None]) -> None:
        if tag == "code":
            language = re.search(r"language-([\w+#.-]+)", attrs.get("class") or "")
            self.in_code = True
            self.out.append(f"\n\n```{language.group(1) if language else ''}\n")

    def _list_item(self) -> None:
        depth = max(len(self.lists) - 1, 0)
        counter = self.lists[-1] if self.lists else []
        marker = f"{counter[0]}." if counter else "-"
        if counter:
            counter[0] += 1
        self.out.append("\n" + "   " * depth + marker + " ")
        self.item_opened = True

    def handle_endtag(self, tag: str) -> None:
        if self.skip_depth:
            self.skip_depth -= 1
            return
        if self.in_pre:
            if tag == "code":
                self.in_code = False
                self.out.append("\n```\n\n")
            elif tag == "pre":
                self.in_pre = False
        elif tag in ("ol", "ul") and self.lists:
            self.lists.pop()
            self.out.append("\n")
        elif tag in _INLINE_MARKS:
            self.out.append(_INLINE_MARKS[tag])
        else:
            self._other_end(tag)

    def _other_end(self, tag: str) -> None:
        if tag == "code":
            self.out.append("`")
        elif tag == "a":
            self.out.append(f"]({self.link})" if self.link else "]")
            self.link = None
        elif tag == "tr" and self.row is not None:
            self._write_row(self.row)
            self.row = None
        elif tag == "table":
            self.rows_written = 0
            self.out.append("\n")
        elif tag in _BLOCKS:
            self.out.append("\n")

    def _write_row(self, cells: list[str]) -> None:
        prefix = "\n" if self.rows_written == 0 else ""
        self.out.append(prefix + "| " + " | ".join(c.strip() for c in cells) + " |\n")
        if self.rows_written == 0:
            self.out.append("|" + " --- |" * len(cells) + "\n")
        self.rows_written += 1

    def handle_data(self, data: str) -> None:
        self.item_opened = False
        if self.skip_depth:
            return
        if self.row is not None and self.row:
            self.row[-1] += data
        elif self.in_pre:
            if self.in_code:
                self.out.append(data)
        else:
            self.out.append(data)
