"""The sync with the hub sends names in batches (issue 19): the hub handles each request on its
one event loop, and a course of 400 students added in one request held every login and token
check behind it for seconds. A stand-in hub (httpx's MockTransport) records what it was sent."""

from __future__ import annotations

import asyncio
import json

import httpx

from sabaq.hub.domain import accounts, courses
from sabaq.hub.jupyterhub.sync import BATCH, HubSync
from sabaq.hub.store.database import make_engine, make_sessionmaker, upgrade
from sabaq.hub.store.models import Role


class StandInHub:
    """Users and groups, as JupyterHub's REST API keeps them (one page each)."""

    def __init__(self):
        self.users: set[str] = set()
        self.groups: dict[str, set[str]] = {}
        self.largest = 0  # the most names one request carried

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/hub/api")
        body = json.loads(request.content) if request.content else {}
        names = body.get("usernames") or body.get("users") or []
        self.largest = max(self.largest, len(names))
        if request.method == "GET":
            items = ([{"name": n} for n in sorted(self.users)] if path == "/users" else
                     [{"name": g, "users": sorted(m)} for g, m in self.groups.items()])
            return httpx.Response(200, json={"items": items, "_pagination": {"next": None}})
        if path == "/users":
            self.users.update(names)
            return httpx.Response(201, json=[])
        group, _, members = path.removeprefix("/groups/").partition("/")
        if request.method == "POST" and not members:
            self.groups[group] = set()
        elif request.method == "POST":
            self.groups[group].update(names)
        elif request.method == "DELETE" and members:
            self.groups[group].difference_update(names)
        else:
            del self.groups[group]
        return httpx.Response(200, json={})


def test_a_course_of_four_hundred_reaches_the_hub_in_batches(tmp_path):
    url = f"sqlite:///{tmp_path / 'sabaq.sqlite'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    students = [f"s{i:03d}" for i in range(400)]
    with sessions() as db:
        course = courses.create_course(db, "alg8", "Algebra 8")
        for name in students:
            courses.set_member(db, course, accounts.create_user(db, name), Role.student)
        db.commit()
    hub = StandInHub()
    hub.groups["nbgrader-alg8"] = {"gone1", "gone2"} | {f"old{i:03d}" for i in range(120)}  # left the course
    sync = HubSync(sessions, "http://hub/hub/api", "t", transport=httpx.MockTransport(hub))

    asyncio.run(sync.sync())

    assert hub.users == set(students)
    assert hub.groups["nbgrader-alg8"] == set(students) == hub.groups["sabaq-students"]
    assert 0 < hub.largest <= BATCH < len(students)


def test_every_sync_of_a_service_uses_one_client_and_stopping_closes_it(tmp_path, monkeypatch):
    """A new httpx client each sync built a new SSL context each time: the service's CPU."""
    url = f"sqlite:///{tmp_path / 'sabaq.sqlite'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    with sessions() as db:
        course = courses.create_course(db, "alg8", "Algebra 8")
        courses.set_member(db, course, accounts.create_user(db, "aliya"), Role.student)
        db.commit()
    made = []

    class Counted(httpx.AsyncClient):
        def __init__(self, *args, **kwargs):
            made.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(httpx, "AsyncClient", Counted)
    hub = StandInHub()
    sync = HubSync(sessions, "http://hub/hub/api", "t", transport=httpx.MockTransport(hub))

    async def three_syncs_then_stop():
        for _ in range(3):
            await sync.sync()
        assert len(made) == 1 and not made[0].is_closed
        await sync.stop()
        assert made[0].is_closed

    asyncio.run(three_syncs_then_stop())
    assert sync.synced == 3 and hub.users == {"aliya"}
    asyncio.run(sync.sync())  # another event loop (a test's next app) gets a client of its own
    assert len(made) == 2 and sync.synced == 4

    async def as_the_service_runs_it():
        sync.start()
        for _ in range(500):
            if sync.synced == 5 or sync.last_error:
                break
            await asyncio.sleep(0.01)
        await sync.stop()

    asyncio.run(as_the_service_runs_it())
    assert sync.synced == 5 and sync.last_error is None and made[-1].is_closed
