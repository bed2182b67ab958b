"""The last answer, when something in the service breaks that no rule foresaw.

Every error sabaq expects is a ``SabaqError`` with its own status and message; this
catches the rest (a bug), logs it with its traceback under a short request id, and
answers the reader with a translated 500 naming that id, so that an administrator can
find the traceback from what a teacher reports. Defence in depth: the edges and the
routes' types are meant to leave nothing for it to catch.
"""

from __future__ import annotations

import logging
import secrets

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import Message, Receive, Scope, Send

from sabaq.errors import SabaqError
from sabaq.hub.service.asgi import HttpMiddleware
from sabaq.hub.service.limits import refuse
from sabaq.i18n import N_, negotiate

log = logging.getLogger("sabaq.service")
REQUEST_ID_HEADER = "x-request-id"


def internal_error(request_id: str) -> SabaqError:
    return SabaqError(
        N_("Something went wrong inside sabaq; it was not your mistake, and what you sent may not have been "
           "saved. Try again; if it happens again, tell the administrator the code {request_id}."),
        status=500, code="internal", request_id=request_id,
    )


class CatchAll(HttpMiddleware):
    """ASGI middleware: an exception that reaches it becomes a logged, translated 500."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            request_id = secrets.token_hex(6)
            log.exception("unexpected error, request %s: %s %s", request_id, scope.get("method"), scope.get("path"))
            if started:  # half an answer is out: nothing else can be said on it
                raise
            await _answer(scope, receive, send, internal_error(request_id), request_id)


async def _answer(scope: Scope, receive: Receive, send: Send, error: SabaqError, request_id: str) -> None:
    """The app's own error answer (JSON, or the error page), with the request id as a header;
    if even that fails, the message as plain text."""

    started = False

    async def tagged(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
            message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER.encode(), request_id.encode())]
        await send(message)

    try:
        await refuse(scope, receive, tagged, error)
    except Exception:
        log.exception("the error answer failed too, request %s", request_id)
        if not started:
            lang = negotiate(Headers(scope=scope).get("accept-language"))
            await PlainTextResponse(error.translated(lang), status_code=500,
                                    headers={REQUEST_ID_HEADER: request_id})(scope, receive, send)
