"""The probes: readiness (``/health``, may this service take requests: its database answers)
and liveness (``/live``, is it hung: restart it if not).

A hung service still holds its port, so a check that it answers at all would miss it.
``/live`` answers from the event loop (a blocked loop answers nothing: the probe's timeout)
and asks the database through the request threads, with a deadline: threads all stuck, or
a database that does not answer, is a 503 within LIVE_SECONDS.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from sabaq import __version__
from sabaq.errors import SabaqError
from sabaq.i18n import N_

LIVE_SECONDS = 5.0  # the chart's liveness probe waits longer (timeoutSeconds), so it sees the 503

router = APIRouter(tags=["ops"])


@router.get("/health", summary="Readiness: the database answers")
def health(request: Request):
    with request.app.state.sessions() as db:
        db.execute(text("SELECT 1"))
    return {"ok": True, "version": __version__}


def _select_one(engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@router.get("/live", summary="Liveness: the event loop, a request thread and the database answer in time")
async def live(request: Request):
    try:
        await asyncio.wait_for(run_in_threadpool(_select_one, request.app.state.engine), LIVE_SECONDS)
    except (asyncio.TimeoutError, TimeoutError):
        raise SabaqError(N_("The sabaq service is stuck: its database or its request threads did not answer "
                            "within {seconds} s. It should be restarted."),
                         status=503, code="not_live", seconds=LIVE_SECONDS) from None
    return {"ok": True}
