"""Whose hub token a request carries: asked of the hub, remembered for a minute.

A student's server sends the same token with each of its calls (fetch, list, submit), so
the hub is asked once per token a minute, not once a request. The answer is kept under the
token's SHA-256 (never the token itself) and only ever given for that same token; an answer
older than ``max_age`` seconds is asked again, so a revoked token stops working within it.

This is what jupyterhub's HubAuth does for a token, without importing it: its module pulls in
the hub's database models and aiohttp, half of the service's start-up. The OAuth login still
uses HubOAuth, imported when someone logs in (app.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time

import httpx
from tornado.web import HTTPError

ACCESS_SCOPE = "access:services!service=sabaq"
MAX_AGE_SECONDS = 60  # as HubAuth's cache_max_age was
TOKEN_TEXT = re.compile(r"[!-~]{1,4096}")  # printable ASCII, no space
MAX_ENTRIES = 20_000  # a class's tokens many times over; past it, the expired go, then the oldest


class HubTokens:
    """The hub's user model for a token (``None``: not a valid token), cached by its hash.

    Raises tornado's HTTPError as HubAuth does: 500 when the hub cannot be reached or refuses
    the service, 502 when the hub itself fails (deps.py answers both with a 503)."""

    access_scopes = frozenset({ACCESS_SCOPE})

    def __init__(self, api_url: str, api_token: str, max_age: float = MAX_AGE_SECONDS,
                 max_entries: int = MAX_ENTRIES, clock=time.monotonic):
        self.api_url = api_url.rstrip("/")
        self.api_token = api_token
        self.max_age = max_age
        self.max_entries = max_entries
        self._clock = clock
        self._answers: dict[str, tuple[float, dict | None]] = {}  # sha256(token) -> (when asked, model)
        self._http: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def user_for_token(self, token: str, sync: bool = False) -> dict | None:
        if not TOKEN_TEXT.fullmatch(token):
            return None  # no hub token has spaces or characters outside ASCII; no header could carry it
        key = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        now = self._clock()
        cached = self._answers.get(key)
        if cached is not None and now - cached[0] < self.max_age:
            return cached[1]
        model = await self._ask_hub(token)
        self._remember(key, now, model)
        return model

    def _remember(self, key: str, now: float, model: dict | None) -> None:
        answers = self._answers
        answers.pop(key, None)  # re-inserted last: dicts keep insertion order, oldest first
        if len(answers) >= self.max_entries:
            for old in [k for k, (asked, _) in answers.items() if now - asked >= self.max_age]:
                del answers[old]
            while len(answers) >= self.max_entries:
                del answers[next(iter(answers))]
        answers[key] = (now, model)

    async def _ask_hub(self, token: str) -> dict | None:
        try:
            r = await self._client().get(f"{self.api_url}/user", headers={"Authorization": f"token {token}"})
        except httpx.HTTPError as e:
            raise HTTPError(500, f"Failed to connect to Hub API at {self.api_url!r}: {e}") from None
        if r.status_code == 403:  # the hub's answer to a token it does not know
            return None
        if r.status_code >= 500:
            raise HTTPError(502, "Failed to check authorization (upstream problem)")
        if r.status_code >= 400:
            raise HTTPError(500, f"Failed to check authorization: {r.status_code}")
        return r.json()

    def _client(self) -> httpx.AsyncClient:
        # one per event loop, made on first use (the server has one loop; tests may drive the
        # app from several, one after another); its connections to the hub are kept open
        loop = asyncio.get_running_loop()
        if self._http is None or self._loop is not loop:
            self._loop, self._http = loop, httpx.AsyncClient(timeout=20)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def check_scopes(self, required: frozenset[str] | set[str], model: dict) -> bool:
        """Whether the token's scopes grant one of ``required``.

        The hub's usual answers are matched directly; anything else (a scope with another
        filter) is left to jupyterhub's own rules, imported only then."""
        scopes = set(model.get("scopes") or ())
        if scopes & set(required) or any(s.split("!", 1)[0] in scopes for s in required):
            return True
        from jupyterhub.services.auth import check_scopes

        return bool(check_scopes(set(required), scopes))
