"""The course page's lesson link opens the lesson in the student's language of now, whatever
happened since her server started (issue 16's last gap, sabaq.lessons.lessonlink): her server got
its lessons in English; she switches to Russian; the link opens the Russian notebook, which is in
her home afterwards, from the same server (not restarted). And a student's attacks on the link:
names that leave ~/lessons, a course she is not in."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from browsing import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
STUDENT, COURSE, LESSON = "aliya", "demo", "ohms-law"
OTHER = "lessonlink-other"  # a course she is not in, with the same lesson


def server_started(stack) -> str:
    """When her Jupyter server started, as the server itself says (another start: another time)."""
    url, host = stack.server(STUDENT)
    r = httpx.get(f"{url}/api/status", headers={"Authorization": f"token {stack.token(STUDENT)}", **host}, timeout=60)
    r.raise_for_status()
    return r.json()["started"]


def a_course_she_is_not_in(stack) -> None:
    admin = stack.api("admin")
    if admin.get(f"/courses/{OTHER}").status_code == 404:
        assert admin.post("/courses", json={"id": OTHER, "title": "Other", "language": "en"}).status_code == 201
    folder = Path(__file__).resolve().parents[1] / "courses" / "lessons" / "physics" / LESSON
    files = [("files", (p.relative_to(folder).as_posix(), p.read_bytes(), "application/octet-stream"))
             for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    assert admin.put(f"/courses/{OTHER}/lessons/{LESSON}", files=files).status_code == 200


def test_the_lesson_link_opens_her_language_of_now_in_the_server_she_has(chromium, stack):
    api = stack.api(STUDENT)
    was = api.get("/me").json()["language"]
    home = stack.homes / stack.system_user(STUDENT)
    folder = home / "lessons" / COURSE / LESSON
    context = None
    try:
        assert api.patch("/me", json={"language": "en"}).status_code == 200
        stack.stop_server(STUDENT)  # a server another test started in her other language has no English lessons
        stack.start_server(STUDENT)  # her lessons come in English at its start
        assert (folder / f"{LESSON}.en.ipynb").is_file()
        (folder / f"{LESSON}.ru.ipynb").unlink(missing_ok=True)  # from another test's visit: not there, as at her start
        started = server_started(stack)

        assert api.patch("/me", json={"language": "ru"}).status_code == 200  # what sabaq's language switch does
        context, page = log_in(chromium, stack, STUDENT, locale="ru-RU", next_url=f"/services/sabaq/courses/{COURSE}")
        page.wait_for_url(f"**/services/sabaq/courses/{COURSE}**")
        href = page.locator(f'#lessons li[data-lesson="{LESSON}"] a.lab').get_attribute("href")
        assert href == f"/hub/user-redirect/sabaq/lessons/{COURSE}/{LESSON}?lang=ru&view=lab"
        # (&reset=1: JupyterLab's empty workspace, which the link passes on)
        response = page.goto(stack.url + href + "&reset=1", wait_until="commit", timeout=180_000)
        assert response.status == 200, (response.status, response.url)
        assert re.search(rf"/user/{STUDENT}/lab/tree/lessons/{COURSE}/{LESSON}/{LESSON}\.ru\.ipynb\?reset$",
                         unquote(response.url)), response.url
        russian = folder / f"{LESSON}.ru.ipynb"
        assert russian.is_file() and russian.stat().st_uid == (home.stat().st_uid)  # written as her
        opened = page.request.get(f"{stack.url}/user/{STUDENT}/api/contents/lessons/{COURSE}/{LESSON}/"
                                  f"{LESSON}.ru.ipynb?content=0")
        assert opened.status == 200, opened.text()  # what JupyterLab asks for the tab: no 404
        assert server_started(stack) == started  # the same server, not restarted

        # a student's attacks on the link, as curl with her token sends them (a browser drops '..')
        url, host = stack.server(STUDENT)
        token = {"Authorization": f"token {stack.token(STUDENT)}", **host}
        for attack in ("..%2f..%2f..%2fetc/passwd", "%2fetc/x", f"{COURSE}/..%2f..%2f.ssh", f"{COURSE}/-x"):
            r = httpx.get(f"{url}/sabaq/lessons/{attack}?view=lab&lang=en", headers=token, timeout=60)
            assert r.status_code == 422 and "is not allowed" in r.text, (attack, r.status_code, r.text[-300:])
        for attack in ("%2e%2e/%2e%2e", f"{COURSE}/%2E%2E"):  # the hub's proxy resolves these dots itself
            r = httpx.get(f"{url}/sabaq/lessons/{attack}?view=lab&lang=en", headers=token, timeout=60)
            assert r.status_code != 200 and "/tree/" not in r.headers.get("location", ""), (attack, r.headers)
        a_course_she_is_not_in(stack)
        r = page.request.get(f"{stack.url}/user/{STUDENT}/sabaq/lessons/{OTHER}/{LESSON}?lang=ru", max_redirects=0)
        # the service's no, in her language, and nothing opened
        assert r.status == 403 and "location" not in r.headers and "Вы не состоите в курсе" in r.text(), r.text()
        assert not (home / "lessons" / OTHER).exists()
    finally:
        api.patch("/me", json={"language": was})
        if context is not None:
            context.close()
