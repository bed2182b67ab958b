"""ServiceClient against a real HTTP server on 127.0.0.1 that answers from a script:
the service's message reaches the caller, brief outages are ridden out, and a POST
that may have been stored is never sent twice."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sabaq.client import IDEMPOTENCY_KEY, ServiceClient, ServiceError, ServiceUnreachable, new_request_key
from sabaq.devtools.ports import free_port
from sabaq.errors import SabaqError


class Script(BaseHTTPRequestHandler):
    """Answers each request with the next (status, body, delay) of `answers`; records what came."""

    answers: list[tuple[int, object, float]] = []
    seen: list[dict] = []

    def answer(self):
        self.seen.append({"method": self.command, "path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, body, delay = self.answers.pop(0) if self.answers else (200, {}, 0)
        time.sleep(delay)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if not isinstance(body, bytes) else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, *args):
        pass


@pytest.fixture
def service():
    """The address of a scripted service (…/services/sabaq/) and its script."""
    Script.answers, Script.seen = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Script)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/services/sabaq/", Script
    server.shutdown()
    server.server_close()


def client(url: str, **kwargs) -> ServiceClient:
    return ServiceClient(url, "t0ken", **{"retry_wait": 0, **kwargs})


def test_the_token_and_the_language_go_with_every_call(service):
    url, script = service
    script.answers = [(200, {"name": "aliya"}, 0)]
    with client(url, language="kk") as c:
        assert c.json("GET", "api/v1/me") == {"name": "aliya"}
    [call] = script.seen
    assert call["path"] == "/services/sabaq/api/v1/me"
    assert call["authorization"] == "token t0ken" and call["accept-language"] == "kk"


def test_the_services_message_is_the_error(service):
    url, script = service
    message = "Курса «phys7» нет. Проверьте идентификатор курса."
    script.answers = [(404, {"error": "not_found", "message": message}, 0)]
    with client(url) as c, pytest.raises(ServiceError) as caught:
        c.get("api/v1/courses/phys7")
    error = caught.value
    assert isinstance(error, SabaqError) and error.status == 404 and error.code == "not_found"
    assert str(error) == message and error.translated("kk") == message  # already in the reader's language


def test_an_answer_without_a_message_names_the_status(service):
    url, script = service
    script.answers = [(500, b"Internal Server Error", 0)]
    with client(url) as c, pytest.raises(ServiceError, match="HTTP 500 from .*/api/v1/me"):
        c.get("api/v1/me")


def test_a_status_the_caller_expects_is_no_error(service):
    url, script = service
    script.answers = [(404, {"error": "not_found", "message": "no"}, 0)]
    with client(url) as c:
        assert c.get("api/v1/courses/x/assignments/ps1", ok=(200, 404)).status_code == 404


def test_a_brief_outage_is_ridden_out(service):
    url, script = service
    script.answers = [(503, {"error": "busy", "message": "nothing was saved"}, 0), (201, {"id": 7}, 0)]
    with client(url, retries=2) as c:
        assert c.json("POST", "api/v1/courses/demo/assignments/ps1/submissions") == {"id": 7}
    assert [call["method"] for call in script.seen] == ["POST", "POST"]


def test_an_outage_longer_than_the_retries_is_the_services_error(service):
    url, script = service
    script.answers = [(503, {"error": "busy", "message": "nothing was saved"}, 0)] * 3
    with client(url, retries=1) as c, pytest.raises(ServiceError, match="nothing was saved"):
        c.get("api/v1/me")
    assert len(script.seen) == 2


def test_a_post_that_may_have_been_stored_is_not_sent_again(service):
    """After a timeout or a 504 the service may have stored the submission: once only."""
    url, script = service
    script.answers = [(201, {"id": 1}, 1.0)]
    with client(url, retries=2, timeout=0.3) as c, pytest.raises(ServiceUnreachable):
        c.post("api/v1/courses/demo/assignments/ps1/submissions")
    script.answers = [(504, b"Gateway Timeout", 0), (201, {"id": 2}, 0)]
    with client(url, retries=2) as c, pytest.raises(ServiceError, match="HTTP 504"):
        c.post("api/v1/courses/demo/assignments/ps1/submissions")
    assert [call["method"] for call in script.seen] == ["POST", "POST"]


def test_a_post_with_an_idempotency_key_is_sent_again_with_the_same_key(service):
    """The service answers a repeat with what the first stored, so a lost answer is asked for again."""
    url, script = service
    key = new_request_key()
    script.answers = [(201, {"id": 1}, 1.0), (504, b"Gateway Timeout", 0), (201, {"id": 1}, 0)]
    with client(url, retries=2, timeout=0.3) as c:
        r = c.post("api/v1/courses/demo/assignments/ps1/submissions", headers={IDEMPOTENCY_KEY: key})
    assert r.json() == {"id": 1}
    assert [call["idempotency-key"] for call in script.seen] == [key] * 3
    assert new_request_key() != key


def test_a_read_that_timed_out_is_asked_again(service):
    url, script = service
    script.answers = [(200, {}, 1.0), (200, {"name": "aliya"}, 0)]
    with client(url, retries=1, timeout=0.3) as c:
        assert c.json("GET", "api/v1/me") == {"name": "aliya"}
    assert len(script.seen) == 2



def test_a_service_that_is_not_there_is_unreachable_with_a_clear_message():
    with client(f"http://127.0.0.1:{free_port()}/services/sabaq/", retries=1) as c:
        with pytest.raises(ServiceUnreachable) as caught:
            c.get("api/v1/me")
    error = caught.value
    assert isinstance(error, SabaqError) and error.status == 503
    assert error.translated("en").startswith("The sabaq service cannot be reached (")
    assert "Try again in a minute." in error.translated("en")
    assert "sabaq" in error.translated("ru") and "Try again" not in error.translated("ru")


def test_outside_a_sabaq_server_the_message_says_where_to_open_jupyterlab(monkeypatch):
    monkeypatch.delenv("SABAQ_SERVICE_URL", raising=False)
    with pytest.raises(ServiceUnreachable, match="SABAQ_SERVICE_URL is not set"):
        ServiceClient.from_environment()
