"""The phone check of ``sabaq lesson check``: every notebook opened as a student's phone would.

A copy of the lessons is served by a Notebook 7 server of this environment (with sabaq's
lessons extension, which runs the set-up cells) on 127.0.0.1; headless Chromium opens each
notebook in the single-document view at a phone's size (390 × 844, touch) and waits until
the lesson has started. The lesson fails if the page then scrolls sideways, if any part of
a cell's text or output reaches past the screen's edge or scrolls sideways itself, or if the
text column is narrower than 85 % of the screen. It runs only where Chromium and Playwright
are installed (:func:`available`); the copy keeps the course's notebooks free of outputs.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sabaq.i18n import N_
from sabaq.lessons.meta import LessonError
from sabaq.lessons.pagestate import listen, page_state

PHONE = {"width": 390, "height": 844}
MIN_COLUMN = 0.85  # of the screen's width
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")

_PICTURES_SHOWN = """() => [...document.querySelectorAll('img.widget-image')].every(i => i.complete && i.naturalWidth > 0)
  && !document.querySelector('.jp-OutputArea-output .jupyter-widgets-disconnected')"""

# What a reader sees once the lesson has started: the page's width, the text column's, and
# the parts of cells (code inputs aside: a long line of code may scroll) past the edge.
_MEASURE = """() => {
  const inner = window.innerWidth;
  const text = document.querySelector('.jp-MarkdownCell .jp-RenderedMarkdown');
  const wide = [];
  for (const el of document.querySelectorAll('.jp-Cell *')) {
    if (el.closest('.jp-InputArea') || wide.length >= 5) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    const style = getComputedStyle(el);
    const scrolls = ['auto', 'scroll'].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1;
    if (box.right > inner + 1 || scrolls) {
      wide.push((el.tagName.toLowerCase() + '.' + [...el.classList].join('.')).slice(0, 80) +
                ' (' + Math.round(scrolls ? el.scrollWidth : box.right) + ' px)');
    }
  }
  return {page: document.documentElement.scrollWidth, inner, wide,
          column: text ? text.getBoundingClientRect().width : 0,
          state: (document.querySelector('[data-sabaq-lesson]') || {getAttribute: () => null}).getAttribute('data-sabaq-lesson')};
}"""


def chromium_path() -> str | None:
    return next((p for p in CHROMIUM_PATHS if os.access(p, os.X_OK)), None) or shutil.which("chromium")


def available() -> bool:
    """True where the phone check can run: Chromium and Playwright are installed."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return chromium_path() is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def notebook_server(root: Path, timeout: float = 120, log_path: Path | None = None):
    """A Notebook 7 server of this Python on 127.0.0.1 serving ``root``: yields (url, token).
    Its output goes to ``log_path`` (default: ``root/.server.log``)."""
    import httpx

    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("SABAQ_SERVICE_URL", "JUPYTERHUB_API_TOKEN")}
    env.update(MPLBACKEND="Agg", PYDEVD_DISABLE_FILE_VALIDATION="1")
    args = [sys.executable, "-m", "notebook", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--ServerApp.open_browser=False", "--LanguageServerManager.autodetect=False"]
    if hasattr(os, "getuid") and os.getuid() == 0:
        args.append("--allow-root")
    log_path = Path(log_path) if log_path is not None else root / ".server.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(args, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{url}/api/status", params={"token": token}, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace").strip().splitlines()[-1:]
                raise LessonError(N_("The phone check could not start a Notebook server: {error}"),
                                  error=tail[0][:200] if tail else f"exit code {proc.poll()}")
            time.sleep(0.5)
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _stop_kernels(url: str, token: str) -> None:
    import httpx

    for session in httpx.get(f"{url}/api/sessions", params={"token": token}, timeout=30).json():
        httpx.delete(f"{url}/api/sessions/{session['id']}", params={"token": token}, timeout=30)


def measure(browser, url: str, token: str, rel: str, timeout: float) -> dict:
    """Open one notebook in the phone view, wait for its lesson to start; what a reader sees.
    ``state`` is the lesson's (started, failed, none) or timeout; for failed ``detail`` is
    the failing set-up cell's error, for timeout what the page showed (:func:`page_state`)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        page = context.new_page()
        log = listen(page)
        page.set_default_timeout(timeout * 1000)
        page.goto(f"{url}/notebooks/{quote(rel)}?token={token}")
        try:
            page.wait_for_selector("[data-sabaq-lesson=started], [data-sabaq-lesson=failed], [data-sabaq-lesson=none]")
        except PlaywrightTimeout:
            return {**page_state(page, log), "state": "timeout"}
        seen = page_state(page, log)
        if seen["state"] == "failed":
            return {**seen, "detail": seen["error"] or seen["detail"]}
        if seen["state"] != "started":
            return seen
        try:  # the pictures the set-up cells drew are on the page before anything is measured
            page.wait_for_function(_PICTURES_SHOWN)
        except PlaywrightTimeout:
            seen = page_state(page, log)
            return {**seen, "state": "timeout", "detail": "the set-up cells ran but their pictures were not shown; " + seen["detail"]}
        return page.evaluate(_MEASURE)
    finally:
        context.close()


def problems_of(seen: dict, notebook: str, timeout: float = 120) -> list[LessonError]:
    """What keeps a lesson from being read on a phone, from :func:`measure`'s answer."""
    if seen["state"] == "failed":
        return [LessonError(N_("{notebook}: a set-up cell failed as the lesson opened in the phone view: {detail}. Run the notebook to see the whole error, and correct the cell."),
                            notebook=notebook, detail=seen.get("detail") or "?")]
    if seen["state"] == "timeout":
        return [LessonError(N_("{notebook}: the lesson had not started in the phone view after {seconds} s; the page showed: {detail}. If the computer was busy, run the check again with a larger --timeout; if sabaq-lessons is not loaded, install sabaq again."),
                            notebook=notebook, seconds=round(timeout), detail=seen.get("detail") or "?")]
    if seen["state"] != "started":
        return [LessonError(N_("{notebook}: the lesson did not start by itself in the phone view (is sabaq's lessons extension installed, and are its cells tagged?)."),
                            notebook=notebook)]
    problems = []
    if seen["page"] > seen["inner"] or seen["wide"]:
        problems.append(LessonError(N_("{notebook}: on a phone ({width} px wide) the lesson scrolls sideways; make these fit the screen: {parts}"),
                                    notebook=notebook, width=seen["inner"],
                                    parts="; ".join(seen["wide"]) or f"the page ({seen['page']} px)"))
    if seen["column"] < MIN_COLUMN * seen["inner"]:
        problems.append(LessonError(N_("{notebook}: on a phone the text column is {column} px of {width}; it should take at least {share} % of the screen."),
                                    notebook=notebook, column=round(seen["column"]), width=seen["inner"],
                                    share=round(MIN_COLUMN * 100)))
    return problems


def check_phone(notebooks: list[Path], timeout: float = 120, browser=None,
                server_log: Path | None = None) -> dict[Path, list[LessonError]]:
    """Open each notebook (a copy of its folder) in the phone view; the problems of each.
    ``browser``: a Playwright Chromium already running in this process (Playwright's
    synchronous API runs one at a time), else one is started here. ``server_log``: where
    the Notebook server's output is kept (else in the copy's folder, deleted afterwards)."""
    found: dict[Path, list[LessonError]] = {}
    with tempfile.TemporaryDirectory(prefix="sabaq-phone-check-") as tmp:
        root = Path(tmp)
        copies = {}
        for i, notebook in enumerate(notebooks):
            # in lessons/, as sabaq delivers them (only there does a lesson start by itself);
            # a lesson's folder is named by its id
            folder = root / "lessons" / str(i) / notebook.parent.name
            shutil.copytree(notebook.parent, folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
            copies[notebook] = f"lessons/{i}/{notebook.parent.name}/{notebook.name}"
        with notebook_server(root, log_path=server_log) as (url, token), _browser(browser) as chromium:
            for notebook, rel in copies.items():
                found[notebook] = problems_of(measure(chromium, url, token, rel, timeout), notebook.name, timeout)
                _stop_kernels(url, token)
    return found


@contextlib.contextmanager
def _browser(running=None):
    """The browser given, or a headless Chromium of its own for the check."""
    if running is not None:
        yield running
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"])
        try:
            yield browser
        finally:
            browser.close()
