"""The service's own middleware: plain ASGI, for HTTP requests only.

Plain ASGI rather than Starlette's BaseHTTPMiddleware (``app.middleware("http")``), which
costs every request a task and a stream of its own, a deadline's crowd included. Other kinds
of scope (lifespan) pass through untouched."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class HttpMiddleware:
    """Subclasses say what they do to an HTTP request in ``http``."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError
