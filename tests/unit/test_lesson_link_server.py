"""The lesson link in a student's server (sabaq.lessons.lessonlink): the lesson in her language
of now merged into ~/lessons by pull's rule, what opens when the service is away or says no, and
a student's attacks on the names (the e2e test sends them through the hub as a browser would)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import ClassVar

import pytest

from sabaq.archive import pack
from sabaq.client import ServiceError, ServiceUnreachable
from sabaq.errors import Invalid, SabaqError
from sabaq.lessons import lessonlink
from sabaq.lessons.lessonlink import bring_lesson, fetch_from_service, lesson_folder, open_lesson

EN, RU = b'{"cells": [], "lang": "en"}', b'{"cells": [], "lang": "ru"}'


def never(*_):
    raise AssertionError("the service was asked")


@pytest.mark.parametrize("course, lesson", [
    ("..", "ohms-law"), ("demo", ".."), ("../..", "etc"), ("demo", "../../.ssh"), ("/etc", "x"), ("demo", "a/b"),
    ("", "ohms-law"), ("demo", "a\\b"), ("demo", "-rf"), ("demo", "x\x00y"),
])
def test_a_name_that_is_not_one_folder_below_lessons_is_refused_before_anything_is_asked_or_written(
        tmp_path, course, lesson):
    # what tornado hands the handler after decoding: %2e%2e is '..', %2f is '/'
    with pytest.raises(Invalid):
        open_lesson(tmp_path, "lessons", course, lesson, "en", fetch=never)
    assert list(tmp_path.iterdir()) == []


def test_a_link_on_the_way_is_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home = tmp_path / "home"
    (home / "lessons").mkdir(parents=True)
    (home / "lessons" / "demo").symlink_to(elsewhere)
    with pytest.raises(Invalid) as refused:
        open_lesson(home, "lessons", "demo", "ohms-law", "en", fetch=lambda: {"ohms-law.en.ipynb": EN})
    assert "link" in refused.value.translated("en")
    assert list(elsewhere.iterdir()) == []
    (home / "lessons" / "demo").unlink()
    (home / "lessons").rmdir()
    (home / "lessons").symlink_to(elsewhere)  # ~/lessons itself
    with pytest.raises(Invalid):
        open_lesson(home, "lessons", "demo", "ohms-law", "en", fetch=lambda: {"ohms-law.en.ipynb": EN})
    assert list(elsewhere.iterdir()) == []


def test_the_lesson_of_now_is_merged_and_her_edited_copy_stays(tmp_path):
    served = {"ohms-law.en.ipynb": EN, "lesson.toml": b"id = 'ohms-law'"}
    assert open_lesson(tmp_path, "lessons", "demo", "ohms-law", "en", fetch=lambda: served) == \
        "lessons/demo/ohms-law/ohms-law.en.ipynb"
    folder = tmp_path / "lessons" / "demo" / "ohms-law"
    assert (folder / "ohms-law.en.ipynb").read_bytes() == EN
    (folder / "ohms-law.en.ipynb").write_bytes(b"her answers")
    # her language becomes Russian (the service sends that language's notebook only), the teacher
    # updates the lesson: the Russian notebook comes, an untouched file follows, her English stays
    served = {"ohms-law.ru.ipynb": RU, "lesson.toml": b"id = 'ohms-law' "}
    assert open_lesson(tmp_path, "lessons", "demo", "ohms-law", "ru", fetch=lambda: served) == \
        "lessons/demo/ohms-law/ohms-law.ru.ipynb"
    assert (folder / "ohms-law.ru.ipynb").read_bytes() == RU
    assert (folder / "lesson.toml").read_bytes() == b"id = 'ohms-law' "
    assert (folder / "ohms-law.en.ipynb").read_bytes() == b"her answers"
    # she works in the Russian one; the teacher's next version does not overwrite it (sabaq lesson pull's rule)
    (folder / "ohms-law.ru.ipynb").write_bytes(b"her Russian answers")
    served = {"ohms-law.ru.ipynb": RU + b" "}
    assert open_lesson(tmp_path, "lessons", "demo", "ohms-law", "ru", fetch=lambda: served).endswith(".ru.ipynb")
    assert (folder / "ohms-law.ru.ipynb").read_bytes() == b"her Russian answers"


def test_files_the_answer_names_outside_the_lesson_are_not_written(tmp_path):
    served = {"ohms-law.en.ipynb": EN, "../../../escaped": b"x", "/abs": b"x"}
    open_lesson(tmp_path / "home", "lessons", "demo", "ohms-law", "en", fetch=lambda: served)
    assert not list(tmp_path.rglob("escaped")) and not list(tmp_path.rglob("abs"))


def test_when_the_service_is_away_a_notebook_already_there_opens_in_her_language_first(tmp_path):
    folder = lesson_folder(tmp_path, "demo", "ohms-law")
    folder.mkdir(parents=True)
    (folder / "ohms-law.en.ipynb").write_bytes(EN)
    (folder / "ohms-law.ru.ipynb").write_bytes(RU)

    def away():
        raise ServiceUnreachable("The sabaq service cannot be reached ({error}). Try again in a minute.", error="x")

    def broken():
        raise ServiceError("{reason}", status=502, reason="bad gateway")

    assert bring_lesson(folder, away, "ru") == "ohms-law.ru.ipynb"
    assert bring_lesson(folder, broken, "kk") == "ohms-law.en.ipynb"  # no Kazakh copy: any there is


def test_with_nothing_there_and_the_service_away_the_page_says_what_to_do(tmp_path):
    folder = lesson_folder(tmp_path, "demo", "ohms-law")

    def away():
        raise ServiceUnreachable("The sabaq service cannot be reached ({error}). Try again in a minute.",
                                 error="connection refused")

    with pytest.raises(ServiceUnreachable) as said:
        bring_lesson(folder, away, "en")
    text = said.value.translated("en")
    assert "'ohms-law' is not in your server yet" in text and "connection refused" in text and "Try again" in text
    assert said.value.status == 503


def test_the_services_no_is_shown_never_an_older_copy(tmp_path):
    folder = lesson_folder(tmp_path, "demo", "ohms-law")
    folder.mkdir(parents=True)
    (folder / "ohms-law.en.ipynb").write_bytes(EN)  # e.g. from before she left the course

    def refused():
        raise ServiceError("{reason}", status=403, code="forbidden", reason="You are not a member of the course")

    with pytest.raises(ServiceError) as said:
        bring_lesson(folder, refused, "en")
    assert said.value.status == 403


class _Recorder(BaseHTTPRequestHandler):
    asked: ClassVar[list] = []

    def do_GET(self):
        self.asked.append((self.path, self.headers.get("Authorization"), self.headers.get("Accept-Language")))
        body = pack({"x y.ru.ipynb": RU})
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_only_the_spawners_service_is_asked_with_the_names_quoted_and_the_servers_token(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()  # shutdown() waits a poll
    try:
        monkeypatch.setenv("SABAQ_SERVICE_URL", f"http://127.0.0.1:{server.server_port}/services/sabaq/")
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "server-token")
        files = fetch_from_service("a?b#c", "x y", "ru")()
    finally:
        server.shutdown()
    assert files == {"x y.ru.ipynb": RU}
    assert _Recorder.asked == [("/services/sabaq/api/v1/me/lessons/a%3Fb%23c/x%20y.zip", "token server-token", "ru")]


def test_the_extension_adds_its_route_below_the_servers_address():
    added = []
    app = SimpleNamespace(settings={"base_url": "/user/aliya/"}, add_handlers=lambda host, rules: added.extend(rules))
    from traitlets.config import Config

    lessonlink._load_jupyter_server_extension(SimpleNamespace(web_app=app, config=Config()))
    assert [pattern for pattern, _ in added] == ["/user/aliya/sabaq/lessons/([^/]+)/([^/]+)"]
    assert lessonlink._jupyter_server_extension_points() == [{"module": "sabaq.lessons.lessonlink"}]


def test_a_lesson_that_cannot_be_written_says_where_and_what_to_do(tmp_path):
    (tmp_path / "lessons").write_text("a file where the lessons' folder goes")
    with pytest.raises(SabaqError) as said:
        open_lesson(tmp_path, "lessons", "demo", "ohms-law", "en", fetch=lambda: {"ohms-law.en.ipynb": EN})
    assert said.value.status == 507 and "Free some space" in said.value.translated("en")
    assert str(tmp_path / "lessons") in said.value.translated("en")
