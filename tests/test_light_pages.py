"""Light pages (issue 17): text compressed when the browser asks, event streams and slow
streams passed on as they come, and JupyterLab's and Notebook 7's files at one shared address
every student's page names, public and kept a year, from which no user's file can be read."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import posixpath
import re
import threading
import time
import zlib

import httpx
import pytest
import tornado.httpserver
import tornado.web
from browsing import expect_lesson, watch
from stack import Stack
from test_proxy_paths import run_proxy

from sabaq.devtools.bench_pageweight import LESSON_FOLDER, cold_and_warm, student_cookies
from sabaq.devtools.ports import free_port
from sabaq.hub.jupyterhub.hubconfig import proxy_command
from sabaq.hub.jupyterhub.sharedstatic import CACHE_CONTROL
from sabaq.settings import Settings

pytestmark = pytest.mark.e2e


SHARED = "/services/sabaq/static-shared/"
GZIP = {"Accept-Encoding": "gzip"}
PLAIN = {"Accept-Encoding": "identity"}
PAGE = {"Accept": "text/html,*/*"}  # as a browser asks for a page


def page_config(html: str) -> dict:
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.DOTALL)
    assert found, html[:500]
    return json.loads(found[1])


def lab_page(stack: Stack, name: str) -> tuple[httpx.Client, str]:
    """A logged-in student's JupyterLab page (her server started)."""
    stack.start_server(name)
    client = stack.browser(name)
    r = client.get(f"/user/{name}/lab")
    assert r.status_code == 200, r.text[:300]
    return client, r.text


def lesson_page(stack: Stack, name: str) -> tuple[httpx.Client, str]:
    """A logged-in student's lesson view: Notebook 7's page of a lesson, where the course page
    opens it (her server started)."""
    stack.start_server(name)
    client = stack.browser(name)
    folder = client.get(f"/user/{name}/api/contents/{LESSON_FOLDER}",
                        headers={"Authorization": f"token {stack.token(name)}"})
    assert folder.status_code == 200, folder.text[:300]
    lesson = min(f["path"] for f in folder.json()["content"] if f["name"].endswith(".ipynb"))
    r = client.get(f"/user/{name}/notebooks/{lesson}")
    assert r.status_code == 200, r.text[:300]
    return client, r.text


def main_script(html: str) -> str:
    return next(src for src in re.findall(r'<script[^>]+src="([^"]+)"', html) if "/main." in src)


def assert_compressed_only_when_asked(client: httpx.Client, url: str) -> tuple[bytes, bytes]:
    """(the text asked compressed, as httpx undid it; the text asked plain)."""
    asked = client.get(url, headers={**PAGE, **GZIP})
    assert asked.status_code == 200, (url, asked.status_code)
    assert asked.headers.get("content-encoding") == "gzip", (url, dict(asked.headers))
    plain = client.get(url, headers={**PAGE, **PLAIN})
    assert plain.status_code == 200
    assert "content-encoding" not in plain.headers, (url, dict(plain.headers))
    return asked.content, plain.content


def test_text_is_compressed_when_the_browser_asks_and_plain_when_not(stack):
    client, html = lab_page(stack, "aliya")
    unzipped, script = assert_compressed_only_when_asked(client, main_script(html))  # JupyterLab's JS
    assert unzipped == script and b"webpack" in script
    assert_compressed_only_when_asked(client, "/user/aliya/lab/api/settings")  # the student's own server
    assert_compressed_only_when_asked(client, "/services/sabaq/")  # sabaq's page
    assert_compressed_only_when_asked(client, "/hub/login")  # the hub's
    # the JupyterLab page itself, from the student's server
    assert client.get("/user/aliya/lab", headers=GZIP).headers.get("content-encoding") == "gzip"


def test_the_hubs_progress_stream_comes_uncompressed_event_by_event(stack):
    hub = stack.hub_api(stack.token("sofia"))
    hub.delete("/users/sofia/server")
    assert hub.post("/users/sofia/server").status_code in (201, 202)
    events = []
    with hub.stream("GET", "/users/sofia/server/progress",
                    headers={"Accept": "text/event-stream", **GZIP}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in r.headers
        for line in r.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
                if events[-1].get("ready"):
                    break
    assert events and events[-1]["ready"], events


def test_the_kernels_websocket_still_works(stack):
    stack.start_server("aliya")
    assert stack.run_code("aliya", "print(6 * 7)").strip() == "42"


class Trickle(tornado.web.RequestHandler):
    """An origin that compresses as the hub and users' servers do (compress_response) and
    sends its text a byte at a time: the next byte only once the client has the one before."""

    received: threading.Event

    async def get(self, kind):
        self.set_header("Content-Type", "text/event-stream" if kind == "events" else "text/html; charset=utf-8")
        for byte in b"ab":
            self.received.clear()
            self.write(bytes([byte]))
            await self.flush()
            if not await asyncio.to_thread(self.received.wait, 30):
                return  # the client never had it: held back on the way
        self.finish()


@pytest.fixture
def trickle():
    received = threading.Event()
    Trickle.received = received
    loop_ready, holder = threading.Event(), {}

    def serve():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        app = tornado.web.Application([(r"/(events|page)", Trickle)], compress_response=True)
        server = tornado.httpserver.HTTPServer(app)
        holder.update(port=free_port(), loop=loop, server=server)
        server.listen(holder["port"], "127.0.0.1")
        loop_ready.set()
        loop.run_forever()

    threading.Thread(target=serve, daemon=True).start()
    assert loop_ready.wait(10)
    yield holder["port"], received
    holder["loop"].call_soon_threadsafe(holder["loop"].stop)


@pytest.mark.parametrize("kind,accept,encoding", [
    ("events", "text/event-stream", None),  # an event stream: uncompressed
    ("page", "text/html", "gzip"),  # compressed, and still byte by byte
])
def test_a_slow_stream_through_the_proxy_arrives_as_it_is_sent(trickle, tmp_path, kind, accept, encoding):
    port, received = trickle
    proc, proxy_port = run_proxy(proxy_command(Settings.load(data_dir=str(tmp_path))), port)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=60)
        conn.request("GET", f"/{kind}", headers={"Accept": accept, "Accept-Encoding": "gzip"})
        r = conn.getresponse()
        assert r.getheader("Content-Encoding") == encoding
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding else None
        text = b""
        for expected in (b"a", b"ab"):
            while text != expected:
                chunk = r.read1(64)
                assert chunk, f"the stream ended with {text!r}"
                text += decoder.decompress(chunk) if decoder else chunk
            received.set()  # only now does the origin send the next byte
        conn.close()
    finally:
        proc.kill()
        proc.wait()


def test_two_students_pages_name_one_shared_address_public_and_kept_a_year(stack):
    _, first = lab_page(stack, "aliya")
    _, second = lab_page(stack, "timur")
    configs = [page_config(first), page_config(second)]
    static = {c["fullStaticUrl"] for c in configs}
    extensions = {posixpath.normpath(c["fullLabextensionsUrl"]) for c in configs}
    assert len(static) == 1 and static.pop().startswith(SHARED)
    assert len(extensions) == 1 and extensions.pop().startswith(SHARED)
    assert main_script(first) == main_script(second)

    anonymous = httpx.Client(base_url=stack.url, timeout=60)  # no login
    r = anonymous.get(main_script(first), headers=GZIP)
    assert r.status_code == 200 and r.headers["cache-control"] == CACHE_CONTROL
    assert r.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    lessons = next(e for e in configs[0]["federated_extensions"] if e["name"] == "sabaq-lessons")
    entry = anonymous.get(posixpath.normpath(configs[0]["fullLabextensionsUrl"]) + f"/{lessons['name']}/{lessons['load']}")
    assert entry.status_code == 200 and entry.headers["cache-control"] == CACHE_CONTROL


def test_two_students_lesson_views_load_notebooks_build_from_one_shared_address(stack):
    """The next student's first lesson on a classroom PC finds Notebook 7's files in the cache."""
    client, first = lesson_page(stack, "aliya")
    _, second = lesson_page(stack, "timur")
    static = {page_config(first)["fullStaticUrl"], page_config(second)["fullStaticUrl"]}
    assert len(static) == 1, static
    shared = static.pop()
    assert shared.startswith(SHARED) and shared.endswith("/notebook"), shared
    script = main_script(first)
    assert script.startswith(shared + "/main.") and script == main_script(second)

    anonymous = httpx.Client(base_url=stack.url, timeout=60)  # no login
    r = anonymous.get(script, headers=GZIP)
    assert r.status_code == 200 and r.headers["cache-control"] == CACHE_CONTROL
    assert r.headers["access-control-allow-origin"] == "*"
    own = client.get(f"/user/aliya/static/notebook/{script.rsplit('/', 1)[1]}")  # her server's own copy
    assert own.status_code == 200 and r.content == own.content and b"webpack" in r.content
    # JupyterLab's page of the same server is untouched: its own shared lab/ folder
    _, lab = lab_page(stack, "aliya")
    assert page_config(lab)["fullStaticUrl"].rstrip("/") == shared.rsplit("/", 1)[0] + "/lab"


def raw_get(stack: Stack, path: str) -> tuple[int, bytes]:
    """As sent, without a client's clean-up of the path."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    conn.request("GET", path, headers=PLAIN)
    r = conn.getresponse()
    return r.status, r.read()


def test_the_service_keeps_an_idle_connection_open_for_the_proxys_next_request(stack):
    """The proxy reuses its idle connections to the service without a time limit; one the service
    closed after 5 s idle (uvicorn's default) failed the request the proxy sent on it just then
    (503 "socket hang up": a chunk of Notebook 7 from the shared address, and the lesson never
    opened). A connection idle longer than that still answers."""
    import socket

    port = int(stack.env["SABAQ_SERVICE_PORT"])
    ask = b"GET /services/sabaq/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        replies = conn.makefile("rb")
        for pause in (0, 7):
            time.sleep(pause)
            conn.sendall(ask)
            status = replies.readline()
            assert status.startswith(b"HTTP/1.1 200"), (pause, status)
            length = 0
            while (line := replies.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            replies.read(length)


def test_no_users_file_can_be_read_through_the_shared_address(stack):
    _, html = lab_page(stack, "aliya")
    base = page_config(html)["fullStaticUrl"].rsplit("/", 1)[0] + "/"  # .../static-shared/<version>/
    secret = "a-secret-of-aliya-" + os.urandom(4).hex()
    home = stack.run_code("aliya", f"""
import json, os, pathlib
home = pathlib.Path.home()
(home / "secret.txt").write_text({secret!r})
own = home / ".local/share/jupyter/labextensions/evil"
(own / "static").mkdir(parents=True, exist_ok=True)
(own / "package.json").write_text(json.dumps({{"name": "evil"}}))
(own / "static" / "secret.txt").write_text({secret!r})
link = own / "static" / "link.js"
if not link.is_symlink():
    link.symlink_to(home / "secret.txt")
print(home)
""").strip()
    up = "../" * 12
    tries = [
        f"{base}lab/{up}{home.lstrip('/')}/secret.txt",
        f"{base}lab/{up.replace('..', '%2e%2e')}{home.lstrip('/')}/secret.txt",
        f"{base}lab/{up.replace('../', '..%2f')}{home.lstrip('/')}/secret.txt",
        f"{base}ext/{up}{home.lstrip('/')}/secret.txt",
        f"{base}ext/evil/static/secret.txt",  # her own extension folder
        f"{base}ext/evil/static/link.js",  # a link to her file
        f"{base}lab/%2fetc%2fpasswd",
        f"{base}notebook/{up}{home.lstrip('/')}/secret.txt",
        f"{base}notebook/{up.replace('..', '%2e%2e')}{home.lstrip('/')}/secret.txt",
        f"{base}notebook/{up.replace('../', '..%2f')}{home.lstrip('/')}/secret.txt",
        f"{base}notebook/../app.py",  # Notebook's server beside its static folder
        f"{base}notebook/%2e%2e/app.py",
    ]
    for path in tries:
        status, body = raw_get(stack, path)
        assert secret.encode() not in body and b"root:" not in body, path
        assert status != 200, (path, status)


@pytest.mark.browser
def test_a_warm_load_of_a_lesson_transfers_far_less_than_a_cold_one(stack, chromium):
    cookies, lesson = student_cookies(stack.url, "timur", stack.logins["timur"])
    context = chromium.new_context()
    try:
        context.add_cookies(cookies)
        cold, warm = cold_and_warm(context, f"{stack.url}/user/timur/lab/tree/{lesson}", timeout=240)
    finally:
        context.close()
    assert cold.requests > 10 and cold.bytes > 500_000, cold  # JupyterLab itself came over the wire
    assert warm.bytes * 5 < cold.bytes, (cold, warm)


@pytest.mark.browser
def test_a_lesson_in_notebook_7s_view_gets_sabaq_lessons_from_the_shared_address(stack, chromium):
    """The phone's view (Notebook 7) loads its extensions from the shared address as JupyterLab
    does: sabaq-lessons is there, and the lesson starts by itself. Notebook's own build too: its
    main script and the chunks webpack loads after it, none from the server's /static/notebook/."""

    cookies, lesson = student_cookies(stack.url, "timur", stack.logins["timur"])
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    try:
        context.add_cookies(cookies)
        page = watch(context.new_page())
        loaded, notebook = [], []
        page.on("response", lambda r: loaded.append((r.url, r.status)) if "/sabaq-lessons/" in r.url else None)
        page.on("response", lambda r: notebook.append((r.url, r.status)) if "/notebook/" in r.url else None)
        page.goto(f"{stack.url}/user/timur/notebooks/{lesson}")
        expect_lesson(page, timeout_ms=240_000, stack=stack)
    finally:
        context.close()
    assert loaded and all(SHARED in url and status == 200 for url, status in loaded), loaded
    own = [url for url, _ in notebook if "/user/timur/static/notebook/" in url]
    shared = [url for url, status in notebook if SHARED in url and "/notebook/" in url and status == 200]
    assert not own and len(shared) > 1 and any("/main." not in url for url in shared), notebook
