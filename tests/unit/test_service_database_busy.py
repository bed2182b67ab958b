"""A database that does not answer in time (SQLite locked past its busy timeout at a
deadline, PostgreSQL gone) is a clear 503 in the caller's language, not a 500."""

from __future__ import annotations

import asyncio
import sqlite3

import httpx
from sqlalchemy import event

from sabaq.hub.service.app import create_app
from sabaq.hub.store import jobs
from sabaq.hub.store.database import upgrade
from sabaq.i18n import translator
from sabaq.settings import Settings, ensure_secrets

BUSY = ("sabaq could not reach its database just now, so nothing was saved. "
        "Try again in a minute; if it keeps happening, tell the administrator.")


def test_a_locked_database_is_a_503_that_says_to_try_again(tmp_path):
    ensure_secrets(tmp_path)
    settings = Settings.load(data_dir=tmp_path, environ={})
    upgrade(settings.database_url)
    app = create_app(settings)
    @event.listens_for(app.state.engine, "connect")
    def wait_briefly(dbapi_connection, _record):  # after sabaq's 30 s: the test waits 0.2 s
        dbapi_connection.execute("PRAGMA busy_timeout=200")

    with app.state.sessions() as db:  # a job for a worker to claim: the claim writes
        jobs.enqueue(db, "check", "check:1", {"submission_id": 1})
        db.commit()

    async def call(method: str, path: str, **headers) -> httpx.Response:
        # the app itself, without its lifespan (no hub to sync with)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sabaq") as client:
            return await client.request(method, f"/services/sabaq{path}", json={"kinds": ["check"]}, headers={
                "Authorization": f"token {settings.worker.token}", "X-Sabaq-Worker": "w1", **headers})

    assert asyncio.run(call("GET", "/health")).status_code == 200
    holder = sqlite3.connect(tmp_path / "sabaq.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer keeps the lock
    try:
        r = asyncio.run(call("POST", "/api/v1/worker/claim", **{"Accept-Language": "ru"}))
        assert r.status_code == 503
        assert r.json() == {"error": "database_unavailable", "message": translator("ru")(BUSY)}
        assert translator("ru")(BUSY) != BUSY
        # what only reads is not held up by a writer: the readiness check still answers
        assert asyncio.run(call("GET", "/health")).status_code == 200
    finally:
        holder.rollback()
        holder.close()
    assert asyncio.run(call("POST", "/api/v1/worker/claim")).json()["kind"] == "check"


def test_the_hub_sync_reads_beside_a_writer(tmp_path):
    """The sync with the hub reads every account; at a deadline it must not queue for (or hold)
    the write lock the submissions are waiting for."""
    from sabaq.hub.domain import accounts
    from sabaq.hub.jupyterhub.sync import HubSync

    ensure_secrets(tmp_path)
    settings = Settings.load(data_dir=tmp_path, environ={})
    upgrade(settings.database_url)
    app = create_app(settings)

    @event.listens_for(app.state.engine, "connect")
    def wait_briefly(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA busy_timeout=200")

    with app.state.sessions() as db:
        accounts.create_user(db, "aliya")
        db.commit()
    holder = sqlite3.connect(tmp_path / "sabaq.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        names, _groups = HubSync(app.state.sessions, "http://127.0.0.1:1/hub/api", "t").desired()
    finally:
        holder.rollback()
        holder.close()
    assert "aliya" in names
