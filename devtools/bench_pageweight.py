"""`sabaq bench pageweight`: what a student's browser downloads to open a lesson.

Against its own `sabaq up` (a temporary data folder, free loopback ports), a demo student
opens a lesson notebook in headless Chromium (Debian's, through Playwright), in the lesson
view (Notebook 7's page, where sabaq's course page links a lesson) or in JupyterLab,
until its first widget shows: cold (an empty cache), then warm (the same browser context
again, as on a classroom PC). Counted from Chromium's own network log (CDP): the bytes on
the wire (each response's encodedDataLength: headers and the body as sent, compressed or
not, nothing for a file the cache served) and the requests, also per JupyterLab extension
(its remoteEntry.js and chunks); and the time to that widget
on an emulated mobile link (1.6 Mbit/s, 300 ms). Then the same notebook in stock
JupyterLab (`jupyter lab`, no hub, no sabaq in between) in the same run, for the ratio.
Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from sabaq.devtools.bench_deadline import LocalSabaq
from sabaq.devtools.bench_storm import remove_accounts
from sabaq.devtools.ports import free_port
from sabaq.lessons.pagestate import listen, page_state

# in courses/lessons; delivered to the demo course's students as ~/lessons/demo/projectile-motion/
LESSON = "physics/projectile-motion/projectile-motion.en.ipynb"
LESSON_FOLDER = "lessons/demo/projectile-motion"
LESSON_PATH = f"{LESSON_FOLDER}/projectile-motion.en.ipynb"  # stock JupyterLab's copy
# a page of each view, below a server's address: the lesson view (as sabaq's course page links a
# lesson) and JupyterLab
VIEWS = {"lesson": "notebooks", "lab": "lab/tree"}
# an extension's files: /lab/extensions/<name>/static/… of a server, …/ext/<name>/static/… shared
EXTENSION_FILE = re.compile(r"/(?:lab/extensions|ext)/((?:@[^/]+/)?[^/@][^/]*)/static/")
FIRST_WIDGET = ".jp-OutputArea-output .jupyter-widgets"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-dev-shm-usage"]
# the mobile link: 1.6 Mbit/s both ways, 300 ms round trip
SLOW_LINK = {"offline": False, "latency": 300, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 1.6e6 / 8}
# issue 17's targets
TARGET_COLD_BYTES = 2.5e6
TARGET_WARM_BYTES = 300e3
TARGET_COLD_SECONDS = 20.0
TARGET_WARM_SECONDS = 6.0


@dataclass
class Load:
    """One page load, until the first widget showed."""

    bytes: int  # on the wire
    requests: int  # every request the page made, those the cache answered included
    from_cache: int  # of which the cache answered
    seconds: float
    extensions: dict[str, list[int]] = field(default_factory=dict)  # {extension: [bytes, requests]}

    def line(self, label: str, target_bytes: float | None = None, target_seconds: float | None = None) -> str:
        mb = f"{self.bytes / 1e6:.2f} MB" + (f" (target ≤ {target_bytes / 1e6:.2f} MB)" if target_bytes else "")
        s = f"{self.seconds:.1f} s" + (f" (target ≤ {target_seconds:g} s)" if target_seconds else "")
        return f"{label:>22}: {mb} on the wire, {self.requests} requests ({self.from_cache} from the cache), " \
               f"first widget {s}"

    def extension_lines(self) -> list[str]:
        """What each JupyterLab extension's files cost this load, the heaviest first."""
        return [f"{'':>24}{name}: {size / 1e3:.1f} kB, {count} requests"
                for name, (size, count) in sorted(self.extensions.items(), key=lambda item: -item[1][0])]


def extension_of(url: str) -> str | None:
    """The JupyterLab extension a file belongs to (its remoteEntry.js, chunks, styles), if any."""
    found = EXTENSION_FILE.search(url)
    return found[1] if found else None


def run_all_cells(page) -> None:
    """What a student does in stock JupyterLab, where no cell runs by itself: the toolbar's
    "restart the kernel and run all cells", confirmed."""
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible")
    page.locator(".jp-NotebookPanel-toolbar [data-command='notebook:restart-run-all']").first.click()
    page.locator(".jp-Dialog .jp-mod-accept").first.click()


def measure_load(context, url: str, selector: str = FIRST_WIDGET, link: dict | None = None,
                 timeout: float = 300, then=None) -> Load:
    """Open url in a new page of the browser context and wait for selector to be visible
    (``then(page)`` first, if given); Chromium's network log says what went over the wire.
    ``link``: CDP's Network.emulateNetworkConditions (e.g. SLOW_LINK), else the loopback's own speed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = context.new_page()
    cdp = context.new_cdp_session(page)
    counts = {"bytes": 0, "requests": 0, "cached": 0}
    extensions: dict[str, list[int]] = {}
    owners: dict[str, str] = {}  # request id: extension

    def finished(event):
        size = int(event.get("encodedDataLength", 0))
        counts["bytes"] += size
        if event["requestId"] in owners:
            extensions[owners[event["requestId"]]][0] += size

    def sent(event):
        counts["requests"] += 1
        if (name := extension_of(event.get("request", {}).get("url", ""))) is not None:
            owners[event["requestId"]] = name
            extensions.setdefault(name, [0, 0])[1] += 1

    def cached(_event):  # from the memory cache
        counts["cached"] += 1

    def received(event):  # from the disk cache
        counts["cached"] += bool(event.get("response", {}).get("fromDiskCache"))

    log = listen(page)
    cdp.on("Network.loadingFinished", finished)
    cdp.on("Network.requestWillBeSent", sent)
    cdp.on("Network.requestServedFromCache", cached)
    cdp.on("Network.responseReceived", received)
    cdp.send("Network.enable")
    if link:
        cdp.send("Network.emulateNetworkConditions", link)
    try:
        start = time.monotonic()
        page.set_default_timeout(timeout * 1000)
        page.goto(url)
        if then is not None:
            then(page)
        try:
            page.locator(selector).first.wait_for(state="visible", timeout=timeout * 1000)
        except PlaywrightTimeout as e:
            raise RuntimeError(f"{selector} did not show within {timeout:g} s at {url}\n"
                               f"{page_state(page, log, lines=40)['detail']}") from e
        seconds = time.monotonic() - start
    finally:
        page.close()
    return Load(counts["bytes"], counts["requests"], counts["cached"], seconds, extensions)


def cold_and_warm(context, url: str, selector: str = FIRST_WIDGET, link: dict | None = None,
                  timeout: float = 300, then=None) -> tuple[Load, Load]:
    """The first load in an empty cache, then the same again in the same context."""
    page = context.new_page()
    context.new_cdp_session(page).send("Network.clearBrowserCache")
    page.close()
    cold = measure_load(context, url, selector, link, timeout, then)
    warm = measure_load(context, url, selector, link, timeout, then)
    return cold, warm


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)


def student_cookies(base_url: str, name: str, password: str) -> tuple[list[dict], str]:
    """The hub's login cookie, as the login form sets it (the page itself is not weighed:
    JupyterLab is), with the student's server started and ready; and the path of the lesson
    in her language in her server (LESSON_FOLDER)."""
    with httpx.Client(base_url=base_url, timeout=120) as client:
        client.get("/hub/login")
        r = client.post("/hub/login", data={"username": name, "password": password,
                                            "_xsrf": client.cookies.get("_xsrf", "")})
        if r.status_code not in (200, 302):
            raise RuntimeError(f"login of {name}: {r.status_code}")
        token = client.post(f"/hub/api/users/{name}/tokens", json={"note": "pageweight"},
                            headers={"X-XSRFToken": client.cookies.get("_xsrf", "")}).json()["token"]
        api = httpx.Client(base_url=base_url + "/hub/api", headers={"Authorization": f"token {token}"}, timeout=60)
        api.post(f"/users/{name}/server")
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if (api.get(f"/users/{name}").json().get("servers", {}).get("") or {}).get("ready"):
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"the server of {name} did not start")
        folder = httpx.get(f"{base_url}/user/{name}/api/contents/{LESSON_FOLDER}", timeout=60,
                           headers={"Authorization": f"token {token}"}).json()
        lesson = min(f["path"] for f in folder["content"] if f["name"].endswith(".ipynb"))
        return [{"name": c.name, "value": c.value, "url": base_url} for c in client.cookies.jar], lesson


def weigh(cookies: list[dict], url: str, link: dict | None, then=None,
          next_student: tuple[list[dict], str] | None = None) -> tuple[Load, ...]:
    """Cold and warm loads; with ``next_student`` (her cookies and page), then her first load
    on the same browser, as the next student at a classroom PC."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            context = browser.new_context()
            context.add_cookies(cookies)
            loads = cold_and_warm(context, url, link=link, then=then)
            if next_student is not None:
                context.clear_cookies()
                context.add_cookies(next_student[0])
                loads += (measure_load(context, next_student[1], link=link, then=then),)
            return loads
        finally:
            browser.close()


def students(sabaq: LocalSabaq) -> list[tuple[str, str]]:
    """The demo students' logins and passwords."""
    found = []
    for line in (sabaq.data / "demo-logins.txt").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) >= 3 and not line.startswith("#") and fields[2].startswith("(student"):
            found.append((fields[0], fields[1]))
    if len(found) < 2:
        raise RuntimeError("fewer than two demo students in demo-logins.txt")
    return found


@contextlib.contextmanager
def stock_jupyterlab(notebook: Path, view: str = "lesson"):
    """`jupyter lab` of this environment on a free port, the lesson's folder (the notebook and
    what it reads) in lessons/ of its root; yields the lesson's address in the view."""
    root = Path(tempfile.mkdtemp(prefix="sabaq-bench-stock-"))
    shutil.copytree(notebook.parent, (root / LESSON_PATH).parent)
    port, token = free_port(), secrets.token_hex(16)
    proc = subprocess.Popen(
        [str(Path(sys.prefix) / "bin" / "jupyter"), "lab", "--no-browser", "--allow-root", f"--port={port}",
         "--ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--ServerApp.jpserver_extensions=sabaq.lessons.lessonview=False"],  # stock: every extension on the page
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env=dict(os.environ, HOME=str(root)))
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/api/status?token={token}", timeout=2).status_code == 200:
                    break
            time.sleep(0.5)
        yield f"{url}/{VIEWS[view]}/{LESSON_PATH}?token={token}"
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(20)
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)


def report(label: str, loads: tuple[Load, ...], slow: bool, view: str = "lesson") -> tuple[Load, ...]:
    """Prints one server's loads as soon as they are measured, with the issue's targets for sabaq's,
    and what each extension's files cost the cold load."""
    cold, warm = loads[:2]
    ours = label == "sabaq"
    where = "the lesson view (Notebook 7)" if view == "lesson" else "JupyterLab"
    print(f"{label}: a lesson in {where} until its first widget shows"
          f"{' (1.6 Mbit/s, 300 ms)' if slow else ''}; load average {os.getloadavg()[0]:.1f}", flush=True)
    print(cold.line("cold", TARGET_COLD_BYTES if ours else None, TARGET_COLD_SECONDS if ours and slow else None))
    print("\n".join(cold.extension_lines()))
    print(warm.line("warm", TARGET_WARM_BYTES if ours else None, TARGET_WARM_SECONDS if ours and slow else None),
          flush=True)
    if len(loads) > 2:
        print(loads[2].line("next student, same PC"), flush=True)
    return loads


def bench_pageweight(stock: bool = True, slow: bool = True, view: str = "lesson",
                     shared_static: bool = True) -> dict[str, tuple[Load, ...]]:
    """Prints, for sabaq (and stock JupyterLab), the cold and warm loads of a lesson in the view
    ("lesson" or "lab", VIEWS) (and for sabaq the next student's first load on the same
    browser); returns them. ``shared_static``: sabaq with [hub] shared_static (on, as by default)."""
    from sabaq.courses import __file__ as courses_init

    link = SLOW_LINK if slow else None
    results = {}
    sabaq = LocalSabaq(env={"SABAQ_SABAQ_DEFAULT_LANGUAGE": "en",  # the lesson in English, as stock's
                            "SABAQ_HUB_SHARED_STATIC": str(shared_static).lower()})
    os.chmod(sabaq.root, 0o755)  # the student's home is below it (its data folder stays 0700)
    try:
        print(f"starting sabaq up in {sabaq.root} …", flush=True)
        sabaq.start()
        (name, password), (other, other_password) = students(sabaq)[:2]
        cookies, lesson = student_cookies(sabaq.url, name, password)
        other_cookies, other_lesson = student_cookies(sabaq.url, other, other_password)
        url = f"{sabaq.url}/user/{name}/{VIEWS[view]}/{lesson}"
        next_student = (other_cookies, f"{sabaq.url}/user/{other}/{VIEWS[view]}/{other_lesson}")
        results["sabaq"] = report("sabaq", weigh(cookies, url, link, next_student=next_student), slow, view)
    except Exception:
        print(sabaq.log_tail(60), flush=True)
        raise
    finally:
        sabaq.stop()
        remove_accounts(sabaq.env["SABAQ_SPAWNER_USER_PREFIX"])
        sabaq.cleanup()
    if stock:
        notebook = Path(courses_init).parent / "lessons" / LESSON
        with stock_jupyterlab(notebook, view) as url:
            results["stock JupyterLab"] = report("stock JupyterLab", weigh([], url, link, then=run_all_cells), slow,
                                                 view)
    if "stock JupyterLab" in results:
        (cold, warm, *_), (stock_cold, stock_warm) = results["sabaq"], results["stock JupyterLab"]
        print(f"{'stock / sabaq':>22}: cold {stock_cold.bytes / max(cold.bytes, 1):.1f}x the bytes, "
              f"warm {stock_warm.bytes / max(warm.bytes, 1):.1f}x")
    return results
