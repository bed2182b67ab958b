"""A database that does not answer in time (SQLite locked past its busy timeout at a
deadline, PostgreSQL gone) is a clear 503 in the caller's language, not a 500."""

from __future__ import annotations

import asyncio
import sqlite3

import httpx
from sqlalchemy import event

from sabaq.hub.service.app import create_app
from sabaq.i18n import translator
from sabaq.settings import Settings, ensure_secrets

BUSY = ("sabaq could not reach its database just now, so nothing was saved. "
        "Try again in a minute; if it keeps happening, tell the administrator.")


def test_a_locked_database_is_a_503_that_says_to_try_again(tmp_path):
    ensure_secrets(tmp_path)
    settings = Settings.load(data_dir=tmp_path, environ={})
    app = create_app(settings)

    @event.listens_for(app.state.engine, "connect")
    def wait_briefly(dbapi_connection, _record):  # after sabaq's 30 s: the test waits 0.2 s
        dbapi_connection.execute("PRAGMA busy_timeout=200")

    async def health(**headers) -> httpx.Response:
        # the app itself, without its lifespan (no hub to sync with)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sabaq") as client:
            return await client.get("/services/sabaq/health", headers=headers)

    assert asyncio.run(health()).status_code == 200
    holder = sqlite3.connect(tmp_path / "sabaq.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer keeps the lock
    try:
        r = asyncio.run(health(**{"Accept-Language": "ru"}))
        assert r.status_code == 503
        assert r.json() == {"error": "database_unavailable", "message": translator("ru")(BUSY)}
        assert translator("ru")(BUSY) != BUSY
    finally:
        holder.rollback()
        holder.close()
    assert asyncio.run(health()).status_code == 200
