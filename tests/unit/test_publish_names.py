"""Publishing a task or a lesson names a folder the service writes the uploaded files
into: '..' sent as %2E%2E straight to the service's port (any kernel can reach it) made
root write the package into the folder's parent (issue 14). The routes now refuse it.

The app runs in-process on a temporary SQLite database; httpx sends the path as it is
written, so the route receives '..' (the server decodes %2E%2E), as from a kernel."""

from __future__ import annotations

import asyncio
import tempfile

import httpx
import pytest
from fastapi import Request

from sabaq.hub.domain import accounts, courses
from sabaq.hub.service.app import create_app
from sabaq.hub.service.deps import optional_user
from sabaq.hub.store.database import upgrade
from sabaq.hub.store.models import Role
from sabaq.settings import Settings, ensure_secrets

SITE = "/services/sabaq"
PACKAGE = [("problem.yaml", b"name: evil\n"), ("data/sample/1.in", b"1 2\n"), ("lesson.toml", b"id = 'x'\n")]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The service with the course "alg8" taught by "teacher"."""
    data = tmp_path_factory.mktemp("data")
    ensure_secrets(data)
    settings = Settings.load(data_dir=data, environ={})
    upgrade(settings.database_url)
    app = create_app(settings)
    app.dependency_overrides[optional_user] = _caller
    with app.state.sessions() as db:
        course = courses.create_course(db, "alg8", "Алгебра 8")
        courses.set_member(db, course, accounts.create_user(db, "teacher"), Role.teacher)
        db.commit()
    return app


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """Temporary folders (where uploads are unpacked) in a folder of the test's own, so that
    their parent can be watched."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _caller(request: Request) -> dict | None:
    name = request.headers.get("x-test-user")
    return {"name": name, "admin": False} if name else None


def put(app, path: str) -> httpx.Response:
    async def send():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sabaq") as c:
            return await c.put(SITE + path, files=[("files", (name, content)) for name, content in PACKAGE],
                               headers={"x-test-user": "teacher", "accept-language": "ru"})

    return asyncio.run(send())


@pytest.mark.parametrize("kind", ["tasks", "lessons"])
@pytest.mark.parametrize("name", ["%2E%2E", "%2e%2e", "%2E", "-x", "a%5Cb"])
def test_a_name_that_is_not_one_folder_is_refused_before_anything_is_written(app, scratch, kind, name):
    r = put(app, f"/api/v1/courses/alg8/{kind}/{name}")
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid" and "Имя" in r.json()["message"]  # the rule, in the caller's language
    assert list(scratch.iterdir()) == []  # nothing unpacked, above all not into the parent


@pytest.mark.parametrize("kind", ["tasks", "lessons"])
@pytest.mark.parametrize("name", ["a%00b", "a%0Ab"])
def test_a_name_with_a_control_character_is_refused_at_the_edge(app, scratch, kind, name):
    """NUL and control characters are refused for every address by the service's edge
    (hub/service/edges.py), before any route."""
    r = put(app, f"/api/v1/courses/alg8/{kind}/{name}")
    assert r.status_code == 400 and r.json()["error"] == "bad_address", r.text
    assert list(scratch.iterdir()) == []


def test_the_route_receives_the_dots(app, scratch):
    r = put(app, "/api/v1/courses/alg8/tasks/%2E%2E")
    assert "«..»" in r.json()["message"]
