"""How long the service took to answer, in each response's ``Server-Timing`` header.

A slow answer seen by a student (or by `sabaq bench deadline`) is then split into the
service's own time and what lies around it: the proxy, the network, a busy client."""

from __future__ import annotations

import time

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from sabaq.hub.service.asgi import HttpMiddleware
from sabaq.timings import start_tally

METRIC = "app"


class ServerTiming(HttpMiddleware):
    """The service's time and its waits, in the answer's ``Server-Timing`` header."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        began = time.perf_counter()
        tally = start_tally()  # the waits below add to it: the session queue, the write lock

        async def with_timing(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = 1000 * (time.perf_counter() - began)
                parts = [f"{METRIC};dur={took:.1f}"] + [f"{name};dur={1000 * seconds:.1f}"
                                                       for name, seconds in tally.items()]
                MutableHeaders(scope=message).append("Server-Timing", ", ".join(parts))
            await send(message)

        await self.app(scope, receive, with_timing)


def service_seconds(header: str | None, metric: str = METRIC) -> float | None:
    """One metric of a ``Server-Timing`` header (the service's own time by default), in
    seconds (None without it)."""
    for entry in (header or "").split(","):
        name, _, rest = entry.strip().partition(";")
        if name == metric:
            for parameter in rest.split(";"):
                key, _, value = parameter.strip().partition("=")
                if key == "dur":
                    try:
                        return float(value) / 1000
                    except ValueError:
                        return None
    return None
