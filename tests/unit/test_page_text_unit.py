"""grader/stages/page_text.py and http.root_text on real answers of a server on 127.0.0.1 (issue
16.2): the page is read as a browser shows it, well beyond its first 4 kB."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from checks.test_http import test_root_text as root_text_check
from grader.grading.rubric import Grade
from grader.labs.spec import load_lab
from grader.stages import probe
from grader.stages.page_text import html_text, is_html, page_text

CSS = "<style>" + "body { color: #333; margin: 0 auto; }\n" * 200 + "</style>"
PAGES = {
    "/css-first": (f"<html><head>{CSS}</head><body><h1>Hello Docker!</h1></body></html>", "html"),
    "/entities": ("<p>Hello&nbsp;Docker&#33;</p>", "html"),
    "/split": ("<h1>Hello <b>Docker</b>!</h1>", "html"),
    "/script-only": ('<script>document.write("Hello Docker!")</script><p>Loading</p>', "html"),
    "/plain-tags": ("<h1>Hello Docker!</h1>", "plain"),
    "/late": ("<p>" + "filler " * 20_000 + "</p><h1>Hello Docker!</h1>", "html"),
}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        text, kind = PAGES[self.path]
        body = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", f"text/{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def root_text_passes(url: str) -> bool:
    spec = load_lab("tp6").check("http.root_text")
    assert spec is not None
    try:
        root_text_check(probe.get(url, 5.0), Grade("http.root_text", spec.params, "en", None))
    except pytest.fail.Exception:
        return False
    return True


@pytest.mark.parametrize(
    ("path", "passes"),
    [
        ("/css-first", True),
        ("/entities", True),
        ("/split", True),
        ("/late", True),
        ("/script-only", False),
        ("/plain-tags", True),
    ],
)
def test_root_text_reads_the_page_as_a_browser_shows_it(
    server: str, path: str, passes: bool
) -> None:
    assert root_text_passes(server + path) is passes


def test_the_evidence_stays_bounded_while_the_whole_page_is_read(server: str) -> None:
    result = probe.get(server + "/css-first", 5.0)
    assert len(result.body) == probe.BODY_LIMIT
    assert result.text is not None
    assert "Hello Docker!" in result.text
    assert "color" not in result.text


def test_a_page_without_tags_is_kept_as_is_and_markup_in_plain_text_too() -> None:
    assert page_text({"Content-Type": "text/plain"}, "<h1>x</h1>") == "<h1>x</h1>"
    assert page_text({}, "Hello Docker!") == "Hello Docker!"
    assert is_html({}, "  <h1>x</h1>")
    assert " ".join(html_text("<p>a</p><p>b</p>").split()) == "a b"
    assert html_text("<p>unclosed <b>tags &amp; stray < signs") == "\nunclosed tags & stray < signs"
