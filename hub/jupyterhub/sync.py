"""Mirror course membership and roles from sabaq into JupyterHub groups.

sabaq's database is the source of truth. The hub gets, for each course, the
groups nbgrader's JupyterHub integration knows (``nbgrader-<course>`` for
students, ``formgrade-<course>`` for teachers and assistants) and one group per
role (``sabaq-teachers`` ...), which hub roles and spawner profiles can key
on. Only groups with these prefixes are touched. A sync is idempotent, so
several service replicas may run it.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sabaq.hub.store.database import reading
from sabaq.hub.store.models import STAFF_ROLES, Course, Guardian, Membership, Role, User

log = logging.getLogger("sabaq.hubsync")
MANAGED_PREFIXES = ("nbgrader-", "formgrade-", "sabaq-")
ROLE_GROUPS = ("sabaq-admins", "sabaq-teachers", "sabaq-assistants", "sabaq-students", "sabaq-parents")
# Names per request to the hub: it handles a request on its one event loop, and adding 400
# students to a group in one went on for 4 s under load while every login and token check waited
# (found in sabaq bench deadline); 50 took up to 0.9 s; in batches of 20 the hub answers others
# between them.
BATCH = 20


def desired_state(db: Session) -> tuple[set[str], dict[str, set[str]]]:
    """(all user names, {group: member names}). Admin flags reach the hub at login."""
    users = {u.name: u for u in db.scalars(select(User))}
    groups: dict[str, set[str]] = {name: set() for name in ROLE_GROUPS}
    for course in db.scalars(select(Course)):
        groups[f"nbgrader-{course.slug}"] = set()
        groups[f"formgrade-{course.slug}"] = set()
    rows = db.execute(
        select(Course.slug, User.name, Membership.role)
        .join(Membership, Membership.course_id == Course.id)
        .join(User, User.id == Membership.user_id)
    )
    for slug, name, role in rows:
        if role in STAFF_ROLES:
            groups[f"formgrade-{slug}"].add(name)
        else:
            groups[f"nbgrader-{slug}"].add(name)
        groups["sabaq-teachers" if role == Role.teacher else
               "sabaq-assistants" if role == Role.assistant else "sabaq-students"].add(name)
    parents = db.scalars(select(User.name).join(Guardian, Guardian.parent_id == User.id))
    groups["sabaq-parents"].update(parents)
    groups["sabaq-admins"] = {n for n, u in users.items() if u.is_admin}
    return set(users), groups


class HubSync:
    """Pushes the desired groups to the hub: on request and every ``interval`` seconds."""

    def __init__(self, sessions: sessionmaker, api_url: str, api_token: str, interval: float = 60,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.sessions = sessions
        self.transport = transport  # tests' stand-in for the hub
        self.api_url = api_url.rstrip("/")
        self.api_token = api_token
        self.interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.last_error: str | None = None
        self.synced = 0
        self._http: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None  # the loop _http belongs to

    def request(self) -> None:
        """Ask for a sync soon (membership changed)."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _client(self) -> httpx.AsyncClient:
        """One client for every sync of this event loop, its connection to the hub kept open: a
        new client each sync built a new SSL context (milliseconds of the service's CPU) each time."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._client_loop is not loop:
            headers = {"Authorization": f"token {self.api_token}", "Accept": "application/jupyterhub-pagination+json"}
            self._client_loop = loop
            self._http = httpx.AsyncClient(base_url=self.api_url, headers=headers, timeout=30, transport=self.transport)
        return self._http

    async def _loop(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.sync()
                delay = 1.0
                timeout = self.interval or None
            except Exception as e:  # the hub may still be starting
                self.last_error = str(e)
                log.warning("hub sync failed, retrying in %.0fs: %s", delay, e)
                timeout, delay = delay, min(delay * 2, 60)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    def desired(self) -> tuple[set[str], dict[str, set[str]]]:
        """:func:`desired_state`, read beside SQLite's writers (a thousand students' rows must
        not hold a deadline's submissions up behind the write lock)."""
        with self.sessions() as db:
            reading(db)
            return desired_state(db)

    async def sync(self) -> None:
        names, groups = await asyncio.to_thread(self.desired)
        client = self._client()
        hub_users = {u["name"]: u for u in await _paged(client, "/users")}
        for missing in _batches(names - set(hub_users)):
            r = await client.post("/users", json={"usernames": missing})
            if r.status_code not in (201, 409):
                r.raise_for_status()
        hub_groups = {g["name"]: set(g.get("users", [])) for g in await _paged(client, "/groups")}
        for group, members in sorted(groups.items()):
            current = hub_groups.get(group)
            if current is None:
                (await client.post(f"/groups/{group}")).raise_for_status()
                current = set()
            for joining in _batches(members - current):
                (await client.post(f"/groups/{group}/users", json={"users": joining})).raise_for_status()
            for leaving in _batches(current - members):
                r = await client.request("DELETE", f"/groups/{group}/users", json={"users": leaving})
                r.raise_for_status()
        for group in sorted(set(hub_groups) - set(groups)):
            if group.startswith(MANAGED_PREFIXES):  # a deleted course
                (await client.delete(f"/groups/{group}")).raise_for_status()
        self.synced += 1
        self.last_error = None


def _batches(names: set[str]) -> list[list[str]]:
    ordered = sorted(names)
    return [ordered[i:i + BATCH] for i in range(0, len(ordered), BATCH)]


async def _paged(client: httpx.AsyncClient, path: str) -> list[dict]:
    items: list[dict] = []
    offset = 0
    while True:
        r = await client.get(path, params={"offset": offset, "limit": 200})
        r.raise_for_status()
        body = r.json()
        if isinstance(body, list):
            return body
        items.extend(body["items"])
        nxt = (body.get("_pagination") or {}).get("next")
        if not nxt:
            return items
        offset = nxt["offset"]
