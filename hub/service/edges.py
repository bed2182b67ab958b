"""What the service refuses at its edge, before any route sees the request: an address
that is not text, and a JSON body that is not JSON sabaq can keep.

A route reads its path, query and body as text and numbers; a request that cannot be
read that way is a translated 400 (or 413) here, instead of failing later as a 500 in
the database driver: bytes that are not UTF-8, NUL and control characters (PostgreSQL
refuses NUL in text), names longer than any sabaq keeps, JSON that is malformed, nested
without end, or holds NaN, infinities or integers beyond the databases' 64 bits.
"""

from __future__ import annotations

import json
from urllib.parse import unquote_to_bytes

from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from sabaq.errors import Msg, SabaqError, TooLarge
from sabaq.hub.service.asgi import HttpMiddleware
from sabaq.hub.service.limits import refuse
from sabaq.i18n import N_

MAX_SEGMENT = 255  # one name of a path: no course, assignment, login or notebook is longer
MAX_ADDRESS = 8192  # a whole path or query string, in bytes as sent
JSON_LIMIT = 8 * 1024 * 1024  # people send settings and marks (a few KB), workers a result (tens of KB)
MAX_DEPTH = 64  # JSON nested deeper than this is no request of sabaq's (a judge's groups nest a few levels)
MAX_INTEGER = 2**63 - 1  # the largest integer either database keeps (bigint, SQLite's INTEGER), JSON columns too


def bad_address() -> SabaqError:
    return SabaqError(
        N_("This address cannot be read: it has characters that are not text, or a part that is far too long. "
           "Check the link, or open the page again from sabaq's menus."),
        status=400, code="bad_address",
    )


def bad_json(reason: str) -> SabaqError:
    return SabaqError(N_("The request's body is not JSON sabaq can read: {reason}. Send valid JSON."),
                      status=400, code="bad_json", reason=Msg(reason))


def _control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _text(raw: bytes) -> str | None:
    """`raw` (percent-encoded, as sent) as text, or None: too long, not UTF-8, or with
    NUL or control characters."""
    if len(raw) > MAX_ADDRESS:
        return None
    try:
        text = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if _control(text) else text


def address_is_readable(scope: Scope) -> bool:
    """The path and the query are text, and no name in the path is longer than MAX_SEGMENT."""
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    raw_path, _, query_in_path = raw_path.partition(b"?")  # some clients' raw_path carries the query
    path, query = _text(raw_path), _text(scope.get("query_string") or query_in_path)
    return path is not None and query is not None and all(len(name) <= MAX_SEGMENT for name in path.split("/"))


TOO_LARGE = N_("a number is larger than sabaq can store")
NOT_JSON_NUMBER = N_("NaN and infinities are not numbers JSON allows")


def _number(text: str) -> int:
    if len(text) > 20 or abs(value := int(text)) > MAX_INTEGER:
        raise ValueError(TOO_LARGE)
    return value


def _constant(name: str):
    raise ValueError(NOT_JSON_NUMBER)


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(TOO_LARGE)
    return value


def json_problem(body: bytes) -> str | None:
    """Why sabaq cannot keep this JSON (a msgid), or None."""
    try:
        text = body.decode("utf-8")
        if not text.strip():
            return None  # no body: the route says what it misses
        value = json.loads(text, parse_int=_number, parse_float=_finite, parse_constant=_constant)
    except UnicodeDecodeError:
        return N_("it is not UTF-8 text")
    except RecursionError:
        return N_("it is nested too deeply")
    except ValueError as e:
        reason = str(e.args[0]) if e.args else ""
        return reason if reason in (TOO_LARGE, NOT_JSON_NUMBER) else N_("it is not valid JSON")
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            return N_("it is nested too deeply")
        if isinstance(item, str) and "\x00" in item:
            return N_("a text has a NUL character")
        if isinstance(item, dict):
            pending.extend((k, depth + 1) for k in item)
            pending.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            pending.extend((v, depth + 1) for v in item)
    return None


class Edges(HttpMiddleware):
    """ASGI middleware: a readable address, and JSON bodies sabaq can keep (read whole, at
    most JSON_LIMIT, then handed on to the route as they came)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not address_is_readable(scope):
            await refuse(scope, receive, send, bad_address())
            return
        ctype = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
        if not (ctype == "application/json" or ctype.endswith("+json")):
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > JSON_LIMIT:
                await refuse(scope, receive, send, TooLarge(
                    N_("A JSON request may be at most {limit} KB; this one is larger."),
                    code="json_too_large", limit=JSON_LIMIT // 1024))
                return
        problem = json_problem(body)
        if problem:
            await refuse(scope, receive, send, bad_json(problem))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
