"""What a browser page that should show a lesson shows, for whoever reads why it did not.

A lesson that never starts (in the phone check, a benchmark or a test) is reported with the
lesson's and its kernel's state (set by sabaq-lessons on the notebook's panel), the cells on the
page, the set-up cells run of all (and "sent" once they went to the kernel), the outputs shown,
whether the page lists and loaded sabaq-lessons, any dialog in the way (a kernel chooser),
and the browser's last messages: console lines, page errors, failed requests and HTTP errors,
collected from the page's start by :func:`listen`.
"""

from __future__ import annotations

_PAGE_STATE = """() => {
  const panel = document.querySelector('[data-sabaq-lesson]');
  let listed = 'unknown';
  try {
    const config = JSON.parse(document.getElementById('jupyter-config-data').textContent);
    listed = (config.federated_extensions || []).some(e => e.name === 'sabaq-lessons') ? 'listed' : 'not listed';
  } catch (e) { listed = 'no page config'; }
  const loaded = window._JUPYTERLAB && window._JUPYTERLAB['sabaq-lessons'] ? 'loaded' : 'not loaded';
  return {state: panel ? panel.getAttribute('data-sabaq-lesson') : null,
          kernel: panel ? panel.getAttribute('data-sabaq-kernel') : null,
          error: panel ? panel.getAttribute('data-sabaq-lesson-error') : null,
          panels: document.querySelectorAll('.jp-NotebookPanel').length,
          cells: document.querySelectorAll('.jp-Notebook .jp-Cell').length,
          setup: panel ? panel.getAttribute('data-sabaq-setup') : null,
          outputs: document.querySelectorAll('.jp-Notebook .jp-OutputArea-output').length,
          dialogs: [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText.slice(0, 300)),
          extension: listed + ', ' + loaded, title: document.title};
}"""


def listen(page) -> list[str]:
    """The page's messages from now on, newest last: console lines (``type: text``), uncaught
    errors, failed requests and HTTP errors; the list grows as the page runs."""
    log: list[str] = []
    page.on("console", lambda m: log.append(f"{m.type}: {m.text}"[:300]))
    page.on("pageerror", lambda e: log.append(f"page error: {e}"[:300]))
    page.on("requestfailed", lambda r: log.append(f"request failed: {r.url} {r.failure}"[:300]))
    page.on("response", lambda r: r.status >= 400 and log.append(f"HTTP {r.status}: {r.url}"[:300]))
    return log


def page_state(page, log: list[str] = (), lines: int = 3) -> dict:
    """What the page shows (the keys of :data:`_PAGE_STATE`) and ``detail``, the same in one
    line for a message, ending with the last ``lines`` of ``log`` (from :func:`listen`)."""
    try:
        seen = page.evaluate(_PAGE_STATE)
    except Exception as e:  # noqa: BLE001 - a page that is gone or still navigating says so
        seen = {"state": None, "kernel": None, "error": None, "panels": 0, "cells": 0, "setup": None, "outputs": 0, "dialogs": [],
                "extension": f"page not readable: {e}"[:200], "title": ""}
    parts = [f"url={page.url}", f"title={seen['title']!r}", f"lesson={seen['state'] or 'no attribute'}",
             f"kernel={seen['kernel'] or 'unknown'}", f"notebook panels={seen['panels']}",
             f"cells shown={seen['cells']}", f"set-up cells run={seen['setup'] or 'none yet'}",
             f"outputs={seen['outputs']}", f"sabaq-lessons {seen['extension']}"]
    parts += [f"dialog: {d}" for d in seen["dialogs"]]
    if log:
        parts.append("the browser's last messages: " + " | ".join(log[-lines:]))
    return {**seen, "detail": "; ".join(parts)}
