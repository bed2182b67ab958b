"""A lesson that never shows its widget: `sabaq bench pageweight` says what the page was waiting
for (the lesson's state, a dialog in the way, the browser's messages and failed requests)."""

from __future__ import annotations

import http.server
import threading

import pytest

from sabaq.devtools.bench_pageweight import launch, measure_load

PAGE = b"""<!doctype html><html><head><title>stuck lesson</title></head><body>
<div class="jp-NotebookPanel" data-sabaq-lesson="starting" data-sabaq-kernel="Connecting"></div>
<div class="jp-Dialog">Select Kernel</div>
<script>console.warn("sabaq-lessons: the kernel's connection did not open; connecting again");
fetch("/missing.js");</script></body></html>"""


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path == "/":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(PAGE)
        else:
            self.send_error(404)

    def log_message(self, *_args):
        pass


@pytest.fixture
def stuck_page():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_a_widget_that_never_shows_is_reported_with_what_the_page_was_waiting_for(stuck_page):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            with pytest.raises(RuntimeError) as failed:
                measure_load(browser.new_context(), stuck_page, timeout=3)
        finally:
            browser.close()
    text = str(failed.value)
    assert "did not show within 3 s" in text
    assert "lesson=starting; kernel=Connecting" in text
    assert "dialog: Select Kernel" in text
    assert "warning: sabaq-lessons: the kernel's connection did not open" in text
    assert "HTTP 404: " + stuck_page + "missing.js" in text
