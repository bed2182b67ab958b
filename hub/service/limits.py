"""How much anyone may send in one request, checked before it is read.

A request whose Content-Length passes ``[service] max_request_mb`` is refused at once,
its body never read; one without a length (or with a false one) is counted as it
arrives and refused as soon as it grows past the limit. Either way the answer is the
site's own translated 413 (JSON for the API, the error page for a browser), made by
the same handler as every other error.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sabaq.errors import SabaqError, TooLarge
from sabaq.i18n import N_

MB = 1024 * 1024


def too_large(limit_mb: int) -> TooLarge:
    return TooLarge(
        N_("The upload is larger than {limit} MB, the most sabaq accepts at once. Make it smaller (for example, "
           "clear large outputs in the notebooks, or leave out data files) and try again."),
        code="request_too_large", limit=limit_mb,
    )


class BodyLimit:
    """ASGI middleware: a request body of at most ``limit_mb`` MB."""

    def __init__(self, app: ASGIApp, limit_mb: int):
        self.app = app
        self.limit_mb = limit_mb

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_mb * MB
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await refuse(scope, receive, send, too_large(self.limit_mb))
            return
        received = 0
        over = False
        answered = False

        async def counted() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise too_large(self.limit_mb)
            return message

        async def answer(message: Message) -> None:
            nonlocal answered
            if not over:
                await send(message)
            elif message["type"] == "http.response.start" and not answered:
                # whatever the app made of the broken body (a 400 from the form parser ...) is replaced
                answered = True
                await refuse(scope, receive, send, too_large(self.limit_mb))

        try:
            await self.app(scope, counted, answer)
        except TooLarge:
            if not over:
                raise
            if not answered:
                await refuse(scope, receive, send, too_large(self.limit_mb))


async def refuse(scope: Scope, receive: Receive, send: Send, error: SabaqError) -> None:
    """The app's own answer to a SabaqError (translated; JSON, or a page for a browser)."""
    request = Request(scope, receive)
    response = await request.app.exception_handlers[SabaqError](request, error)
    await response(scope, receive, send)
