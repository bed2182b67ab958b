"""The probes: readiness (``/health``, may this service take requests: its database answers)
and liveness (``/live``, is it hung: restart it if not).

A hung service still holds its port, so a check that it answers at all would miss it.
``/live`` answers from the event loop (a blocked loop answers nothing: the probe's timeout)
and asks the database, with a deadline: a database that does not answer within LIVE_SECONDS
is a 503. It asks on a connection of its own, outside the request threads' pool and their
turn for SQLite's write lock, so a deadline's crowd waiting for the database (busy, not hung)
is not taken for a hang and the service is not restarted in the middle of it.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from sabaq import __version__
from sabaq.errors import SabaqError
from sabaq.hub.store.database import reading
from sabaq.i18n import N_

LIVE_SECONDS = 5.0  # the chart's liveness probe waits longer (timeoutSeconds), so it sees the 503

router = APIRouter(tags=["ops"])


@router.get("/health", summary="Readiness: the database answers")
def health(request: Request):
    with request.app.state.sessions() as db:
        reading(db)  # on SQLite: not in the queue for the write lock behind a deadline's submissions
        db.execute(text("SELECT 1"))
    return {"ok": True, "version": __version__}


def live_engine(app: FastAPI) -> Engine:
    """A connection per check, none kept: the liveness check's own way to the database."""
    if getattr(app.state, "live_engine", None) is None:
        app.state.live_engine = create_engine(app.state.settings.database_url, poolclass=NullPool)
    return app.state.live_engine


def _database_answers(engine: Engine) -> None:
    # SQLite: reading the schema needs the file, not the write lock; PostgreSQL: a round trip
    query = "SELECT count(*) FROM sqlite_master" if engine.dialect.name == "sqlite" else "SELECT 1"
    with engine.connect() as connection:
        connection.execute(text(query))


@router.get("/live", summary="Liveness: the event loop and the database answer in time")
async def live(request: Request):
    try:
        await asyncio.wait_for(asyncio.to_thread(_database_answers, live_engine(request.app)), LIVE_SECONDS)
    except (asyncio.TimeoutError, TimeoutError):
        raise SabaqError(N_("The sabaq service is stuck: its database did not answer within {seconds} s. "
                            "It should be restarted."),
                         status=503, code="not_live", seconds=LIVE_SECONDS) from None
    return {"ok": True}
