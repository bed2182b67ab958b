"""How much anyone may send in one request, checked before it is read, and how many
requests use the database at once.

A request whose Content-Length passes ``[service] max_request_mb`` is refused at once,
its body never read; one without a length (or with a false one) is counted as it
arrives and refused as soon as it grows past the limit. Either way the answer is the
site's own translated 413 (JSON for the API, the error page for a browser), made by
the same handler as every other error.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sabaq.errors import SabaqError, TooLarge
from sabaq.hub.service.asgi import HttpMiddleware
from sabaq.i18n import N_
from sabaq.timings import spent

MB = 1024 * 1024
BUSY_WAIT_SECONDS = 20  # a request waits this long for the database before it is told to come back
RETRY_AFTER_SECONDS = 3  # what a 503 tells the caller to wait before trying again


def too_large(limit_mb: int) -> TooLarge:
    return TooLarge(
        N_("The upload is larger than {limit} MB, the most sabaq accepts at once. Make it smaller (for example, "
           "clear large outputs in the notebooks, or leave out data files) and try again."),
        code="request_too_large", limit=limit_mb,
    )


class BodyLimit(HttpMiddleware):
    """ASGI middleware: a request body of at most ``limit_mb`` MB."""

    def __init__(self, app: ASGIApp, limit_mb: int):
        super().__init__(app)
        self.limit_mb = limit_mb

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
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


def busy() -> SabaqError:
    return SabaqError(
        N_("sabaq is busy with many requests right now, so nothing was saved. Try again in a moment."),
        status=503, code="busy",
    )


def retry_headers(error: SabaqError) -> dict[str, str] | None:
    """A 503 (busy, the database away) says when to come back: nothing was done, so trying again is safe."""
    return {"Retry-After": str(RETRY_AFTER_SECONDS)} if error.status == 503 else None


class DatabaseSlots:
    """At most ``slots`` requests hold a database session at once; the others queue here.

    At a deadline hundreds of submissions arrive in the same seconds. Without a queue each
    took a thread and asked the connection pool, which gave up after 30 s with a 500. Here
    they wait their turn in arrival order, holding no thread and no connection, and a request
    that waited ``wait_seconds`` is answered 503 "busy, nothing was saved" (with Retry-After),
    which the exchange's client repeats safely.
    """

    def __init__(self, slots: int, wait_seconds: float = BUSY_WAIT_SECONDS):
        self.slots = slots
        self.wait_seconds = wait_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._free = asyncio.Semaphore(slots)

    def _semaphore(self) -> asyncio.Semaphore:
        # one per event loop: a semaphore cannot be awaited from a loop other than its own
        # (the server has one loop; tests may drive the app from several, one after another)
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._free = loop, asyncio.Semaphore(self.slots)
        return self._free

    @contextlib.asynccontextmanager
    async def held(self):
        free = self._semaphore()
        try:
            with spent("queue"):
                await asyncio.wait_for(free.acquire(), self.wait_seconds)
        except TimeoutError:
            raise busy() from None
        try:
            yield
        finally:
            free.release()
