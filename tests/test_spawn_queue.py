"""A class logging in at once waits in sabaq's start queue instead of getting the hub's 429
page: with one start at a time, three students asking at once all get their server, and the
hub's "starting" page (its progress event stream) tells each her place, in her language.

Needs root (system accounts), as CI runs it."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from stack import running_stack

from sabaq.hub.jupyterhub.spawner import QUEUE_LEFT, QUEUE_PLACE, QUEUE_TURN
from sabaq.i18n import translator

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: system accounts (CI is root)")]
STUDENTS = ("aliya", "timur", "sofia")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("queue") / "data",
                       extra_env={"SABAQ_HUB_CONCURRENT_SPAWN_LIMIT": "1"}) as s:
        yield s


def place_pattern(lang: str, place: int) -> re.Pattern:
    """The queue's message for ``place`` in ``lang``, whatever the estimated seconds."""
    text = translator(lang)(QUEUE_PLACE)
    before, _, after = text.partition("{seconds}")
    return re.compile(re.escape(before.format(place=place)) + r"\d+" + re.escape(after) + "$")


class Page:
    """A student's "starting" page: the hub's progress event stream, read in a thread until it ends."""

    def __init__(self, stack, name: str):
        self.stack, self.name, self.events = stack, name, []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        hub = self.stack.hub_api(self.stack.token(self.name))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # 400 until her spawn is pending
            with hub.stream("GET", f"/users/{self.name}/server/progress", timeout=120) as r:
                if r.status_code == 200:
                    for line in r.iter_lines():
                        if line.startswith("data:"):
                            self.events.append(json.loads(line[5:]))
                    return
            time.sleep(0.2)

    @property
    def messages(self) -> list[str]:
        return [e.get("message", "") for e in self.events]

    def wait_for(self, what: str, check, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check(self.messages):
                return
            if not self.thread.is_alive():
                break
            time.sleep(0.1)
        raise AssertionError(f"{self.name}'s page never showed {what}: {self.messages}")


def fork_server_of(stack) -> int:
    """The hub's fork server (warm starts), a child of this stack's hub."""
    hub = (stack.data_dir / "run" / "hub.pid").read_text().strip()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent = f.read().rsplit(")", 1)[1].split()[1]
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if parent == hub and b"sabaq.hub.jupyterhub.warmstart" in cmdline:
            return int(pid)
    raise AssertionError("the hub has no fork server")


def test_three_students_at_once_one_start_at_a_time_all_get_their_server_in_order(stack):
    stack.api("sofia").patch("/me", json={"language": "ru"}).raise_for_status()
    for name in STUDENTS:
        stack.token(name)  # logged in beforehand: only the starts race
    fork_server = fork_server_of(stack)

    def ask(name: str) -> int:
        return stack.hub_api(stack.token(name)).post(f"/users/{name}/server", timeout=300).status_code

    # the first start holds the one slot while the fork server is stopped: the line is deterministic
    os.kill(fork_server, signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(len(STUDENTS)) as pool:
            asked, pages = {}, {}
            asked["aliya"] = pool.submit(ask, "aliya")
            pages["aliya"] = Page(stack, "aliya")
            pages["aliya"].wait_for("her turn", lambda ms: translator("kk")(QUEUE_TURN) in ms)  # the demo course speaks Kazakh
            asked["timur"] = pool.submit(ask, "timur")
            pages["timur"] = Page(stack, "timur")
            pages["timur"].wait_for("place 1", lambda ms: any(place_pattern("kk", 1).match(m) for m in ms))
            asked["sofia"] = pool.submit(ask, "sofia")
            pages["sofia"] = Page(stack, "sofia")
            pages["sofia"].wait_for("place 2 in Russian", lambda ms: any(place_pattern("ru", 2).match(m) for m in ms))
            os.kill(fork_server, signal.SIGCONT)
            statuses = {name: f.result() for name, f in asked.items()}
    finally:
        os.kill(fork_server, signal.SIGCONT)
    assert all(code in (201, 202) for code in statuses.values()), statuses  # never 429

    for name in STUDENTS:
        page = pages[name]
        page.thread.join(300)
        assert page.events and page.events[-1].get("ready") is True, (name, page.events)
        assert stack.hub_api(stack.token(name)).get(f"/users/{name}").json()["servers"][""]["ready"]
    sofia = pages["sofia"].messages
    first_place_2 = next(i for i, m in enumerate(sofia) if place_pattern("ru", 2).match(m))
    later = sofia[first_place_2 + 1:]
    assert any(place_pattern("ru", 1).match(m) for m in later), sofia  # moved up when aliya's server answered
    assert translator("ru")(QUEUE_TURN) in later, sofia
    with httpx.Client(timeout=60) as client:  # her JupyterLab answers
        r = client.get(f"{stack.url}/user/sofia/api/status", headers={"Authorization": f"token {stack.token('sofia')}"})
        assert r.status_code == 200, r.text


def test_a_student_who_closes_the_starting_page_leaves_the_queue(stack):
    """Her page (the progress stream) closed while she waits: the hub notices at its next message
    (every 15 s) and she is out of the line 30 s later, her start refused with a translated
    message; the student ahead of her still gets her server."""
    stack.api("timur").patch("/me", json={"language": "kk"}).raise_for_status()
    hub = {name: stack.hub_api(stack.token(name)) for name in ("aliya", "timur")}
    for name, client in hub.items():  # servers of the test before, if it ran
        client.delete(f"/users/{name}/server")
    for name, client in hub.items():
        deadline = time.monotonic() + 120
        while client.get(f"/users/{name}").json().get("servers") and time.monotonic() < deadline:
            time.sleep(0.5)
    fork_server = fork_server_of(stack)
    os.kill(fork_server, signal.SIGSTOP)  # aliya's start holds the slot
    try:
        with ThreadPoolExecutor(2) as pool:
            asked = {"aliya": pool.submit(lambda: hub["aliya"].post("/users/aliya/server", timeout=300).status_code)}
            Page(stack, "aliya").wait_for("her turn", lambda ms: translator("kk")(QUEUE_TURN) in ms)  # the demo course speaks Kazakh
            asked["timur"] = pool.submit(lambda: hub["timur"].post("/users/timur/server", timeout=300).status_code)
            waited = None
            deadline = time.monotonic() + 60
            while waited is None and time.monotonic() < deadline:
                with hub["timur"].stream("GET", "/users/timur/server/progress", timeout=60) as r:
                    if r.status_code == 200:
                        for line in r.iter_lines():  # read until his place, then close the page
                            if line.startswith("data:") and place_pattern("kk", 1).match(json.loads(line[5:])["message"]):
                                waited = time.monotonic()
                                break
                if waited is None:
                    time.sleep(0.2)
            assert waited is not None, "timur's page never showed his place"
            deadline = time.monotonic() + 55
            while time.monotonic() < deadline and hub["timur"].get("/users/timur").json().get("pending"):
                time.sleep(0.5)
            os.kill(fork_server, signal.SIGCONT)
            assert not hub["timur"].get("/users/timur").json().get("servers"), "timur is still starting"
            assert asked["timur"].result() in (201, 202) and asked["aliya"].result() in (201, 202)
    finally:
        os.kill(fork_server, signal.SIGCONT)
    assert "timur left the start queue: the page was closed" in stack.output.read_text(errors="replace")
    with hub["timur"].stream("GET", "/users/timur/server/progress") as r:  # his page, opened again
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
    assert events[-1]["failed"] and translator("kk")(QUEUE_LEFT) in events[-1]["message"], events
    deadline = time.monotonic() + 180
    while not hub["aliya"].get("/users/aliya").json().get("servers", {}).get("", {}).get("ready"):
        assert time.monotonic() < deadline, "aliya's server did not start"
        time.sleep(0.5)
