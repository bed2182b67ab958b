"""The hub's answer about a token is remembered for a minute, per token, and the service
starts without importing jupyterhub's auth module (issue 19: a deadline's crowd asked the
hub once a request, and a restarted service spent half its start-up importing it).

A small hub stands in on 127.0.0.1: it knows two students' tokens and counts the questions.
The start without jupyterhub's auth module is checked in a fresh interpreter, in
tests/test_lazy_imports.py (not in this quick tier)."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from tornado.web import HTTPError

from sabaq.hub.service.hub_tokens import HubTokens

SCOPES = ["access:services!service=sabaq"]


class FakeHub:
    def __init__(self):
        self.tokens = {"token-aida": "aida", "token-bolat": "bolat"}
        self.asked: list[str] = []
        self.failing = False
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                token = self.headers.get("Authorization", "").removeprefix("token ")
                hub.asked.append(token)
                if hub.failing:
                    self.send_response(500)
                    self.end_headers()
                    return
                name = hub.tokens.get(token)
                body = json.dumps({"kind": "user", "name": name, "admin": False, "scopes": SCOPES}).encode()
                self.send_response(200 if name else 403)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hub/api"
        # a short poll: shutdown() waits for it (0.5 s by default, at each test's end)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub():
    h = FakeHub()
    yield h
    h.close()


class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


def names(tokens: HubTokens, *sent: str) -> list[str | None]:
    async def ask():
        try:
            return [(await tokens.user_for_token(t) or {}).get("name") for t in sent]
        finally:
            await tokens.aclose()

    return asyncio.run(ask())


def test_a_token_is_asked_once_a_minute_and_each_answer_is_its_own_tokens(hub):
    clock = Clock()
    tokens = HubTokens(hub.url, "service-token", clock=clock)
    assert names(tokens, "token-aida", "token-bolat", "token-aida", "token-bolat") == ["aida", "bolat"] * 2
    assert hub.asked == ["token-aida", "token-bolat"]
    # a student who tries a token the hub does not know gets nobody, not the last one asked
    assert names(tokens, "token-aida", "token-aid", "TOKEN-AIDA", "token-aida\x01") == ["aida", None, None, None]
    assert hub.asked == ["token-aida", "token-bolat", "token-aid", "TOKEN-AIDA"]  # the last one is no token
    assert "token-aida" not in repr(tokens._answers)  # kept under the token's hash only


def test_an_answer_expires_so_a_revoked_token_stops_working(hub):
    clock = Clock()
    tokens = HubTokens(hub.url, "service-token", max_age=60, clock=clock)
    assert names(tokens, "token-aida") == ["aida"]
    del hub.tokens["token-aida"]  # the hub revoked it
    clock.now += 59
    assert names(tokens, "token-aida") == ["aida"]
    clock.now += 2
    assert names(tokens, "token-aida") == [None]
    assert hub.asked == ["token-aida", "token-aida"]


def test_the_remembered_answers_are_bounded(hub):
    clock = Clock()
    tokens = HubTokens(hub.url, "service-token", max_entries=3, clock=clock)
    names(tokens, "a", "b", "c", "token-aida", "d")
    assert len(tokens._answers) == 3
    assert names(tokens, "token-aida") == ["aida"] and hub.asked.count("token-aida") == 1  # the newest stay


def test_a_failing_or_absent_hub_is_an_error_not_nobody(hub):
    hub.failing = True
    tokens = HubTokens(hub.url, "service-token")
    with pytest.raises(HTTPError) as failing:
        names(tokens, "token-aida")
    hub.failing = False
    assert names(tokens, "token-aida") == ["aida"]  # a failure is not remembered
    gone = HubTokens("http://127.0.0.1:9/hub/api", "service-token")
    with pytest.raises(HTTPError) as absent:
        names(gone, "token-aida")
    assert (failing.value.status_code, absent.value.status_code) == (502, 500)  # deps.py: both a 503


@pytest.mark.parametrize("scopes, granted", [
    (["access:services!service=sabaq"], True),
    (["access:services"], True),
    (["read:users", "access:services!service=sabaq"], True),
    (["access:services!service=other"], False),
    (["access:servers!user=aida", "read:users!user=aida"], False),
    ([], False),
])
def test_only_a_token_that_may_access_sabaq_is_let_in(scopes, granted):
    tokens = HubTokens("http://127.0.0.1:9/hub/api", "t")
    assert tokens.check_scopes(tokens.access_scopes, {"scopes": scopes}) is granted


def test_the_service_answers_a_token_the_hub_knows_and_refuses_one_it_does_not(hub, tmp_path):
    from sabaq.hub.service.app import create_app
    from sabaq.hub.store.database import upgrade
    from sabaq.settings import Settings, ensure_secrets

    ensure_secrets(tmp_path)
    settings = Settings.load(data_dir=tmp_path, environ={})
    upgrade(settings.database_url)
    app = create_app(settings)
    app.state.hub_auth = HubTokens(hub.url, "service-token")

    async def calls():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sabaq") as c:
            me = await c.get("/services/sabaq/api/v1/me", headers={"Authorization": "token token-bolat"})
            forged = await c.get("/services/sabaq/api/v1/me", headers={"Authorization": "token token-bola"})
        await app.state.hub_auth.aclose()
        return me, forged

    try:
        me, forged = asyncio.run(calls())
    finally:
        app.state.engine.dispose()
    assert me.status_code == 200 and me.json()["name"] == "bolat"
    assert forged.status_code == 401 and forged.json()["error"] == "expired"
