"""The text of an HTTP answer as a browser shows it: tags stripped, scripts and styles dropped,
character references decoded (stdlib ``html.parser``)."""

from __future__ import annotations

from collections.abc import Mapping
from html.parser import HTMLParser

HIDDEN = frozenset({"script", "style", "template"})
"""Elements whose content a browser does not show as text."""
BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "footer"}
    | {"form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav"}
    | {"ol", "p", "pre", "section", "table", "td", "th", "title", "tr", "ul", "body", "head"}
)
"""Elements that start a new line: their text is never glued to their neighbours'."""


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self.hidden += 1
        elif tag in BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_text(markup: str) -> str:
    """The visible text of an HTML document (lines kept; never raises on broken markup)."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def is_html(headers: Mapping[str, str], body: str) -> bool:
    """The answer is an HTML page: its Content-Type says so, or it has none and starts with a
    tag (a browser would sniff it as HTML)."""
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    if content_type is not None:
        return "html" in content_type.lower()
    return body.lstrip().startswith("<")


def page_text(headers: Mapping[str, str], body: str) -> str:
    """What a browser shows of an answer: an HTML page's visible text, another body as is."""
    return html_text(body) if is_html(headers, body) else body
