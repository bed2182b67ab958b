"""The one HTTP client of the sabaq service, for every process that talks to it.

Users' servers (the exchange, lessons, olympiad tasks, the CLI in a terminal),
the grading workers and the rehearsal all reach the service the same way: a hub
token in the ``Authorization`` header, the reader's language in
``Accept-Language``, a timeout, a few retries when the service is briefly away,
and the service's ``{"error": code, "message": text}`` answers raised as
:class:`~sabaq.errors.SabaqError` with that message (already in the reader's
language), so callers never parse error bodies themselves.
"""

from __future__ import annotations

import os
import time
import uuid

import httpx

from sabaq.errors import SabaqError
from sabaq.i18n import N_

API = "api/v1/"
RETRY_STATUSES = (502, 503, 504)  # the proxy or the service restarting: worth another try
NOT_ACTED_ON = (502, 503)  # no service behind the proxy, or the service saved nothing
REPEATABLE = ("GET", "HEAD", "PUT", "DELETE")  # the same outcome however often they arrive
IDEMPOTENCY_KEY = "Idempotency-Key"  # a POST carrying one is answered once, however often it arrives


def new_request_key() -> str:
    """A fresh Idempotency-Key for one POST (sent unchanged with each of its repeats)."""
    return uuid.uuid4().hex


class ServiceUnreachable(SabaqError):
    status = 503
    code = "service_unreachable"


class ServiceError(SabaqError):
    """The service answered with an error; ``status`` and ``code`` are the service's."""


class ServiceClient:
    """Calls to one sabaq service as one caller (a token).

    ``base_url`` is the service's address (``…/services/sabaq/``); paths are relative
    to it (``api/v1/me``). ``ok`` lists the statuses a call accepts (others raise);
    ``retries`` repeats a call that could not connect or got 502-504. A POST is repeated
    only when the service surely did not act on it (no connection, 502, 503): after a
    timeout or a 504 it may have stored a submission, and a repeat would store it twice;
    unless it carries an ``Idempotency-Key``, with which the service answers a repeat
    with what the first stored.
    """

    def __init__(self, base_url: str, token: str, *, language: str | None = None, timeout: float = 60.0,
                 retries: int = 2, retry_wait: float = 1.0, headers: dict[str, str] | None = None):
        if not base_url:
            raise ServiceUnreachable(N_("sabaq is not reachable from this server: SABAQ_SERVICE_URL is not set. "
                                        "Open JupyterLab from the sabaq hub."))
        self.base_url = base_url.rstrip("/") + "/"
        self.retries = max(0, retries)
        self.retry_wait = retry_wait
        sent = {"Authorization": f"token {token}"}
        if language:
            sent["Accept-Language"] = language
        sent.update(headers or {})
        self.http = httpx.Client(headers=sent, timeout=timeout)

    @classmethod
    def from_environment(cls, **kwargs) -> ServiceClient:
        """In a user's server: the address and token the spawner gave it."""
        kwargs.setdefault("language", os.environ.get("SABAQ_LANG"))
        return cls(os.environ.get("SABAQ_SERVICE_URL", ""), os.environ.get("JUPYTERHUB_API_TOKEN", ""), **kwargs)

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201, 204), **kwargs) -> httpx.Response:
        """One call; the service's message as a ServiceError unless the status is in ``ok``."""
        repeatable = method.upper() in REPEATABLE or IDEMPOTENCY_KEY in (kwargs.get("headers") or {})
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self.http.request(method, self.url(path), **kwargs)
            except httpx.TransportError as e:
                never_arrived = isinstance(e, (httpx.ConnectError, httpx.ConnectTimeout))
                if last or not (never_arrived or repeatable):
                    raise ServiceUnreachable(
                        N_("The sabaq service cannot be reached ({error}). Try again in a minute."), error=str(e)
                    ) from None
            else:
                status = response.status_code
                if status in ok:
                    return response
                if last or status not in RETRY_STATUSES or not (status in NOT_ACTED_ON or repeatable):
                    raise error_of(response)
            time.sleep(self.retry_wait * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def json(self, method: str, path: str, **kwargs):
        """A call whose answer is JSON."""
        return self.request(method, path, **kwargs).json()

    def put_files(self, path: str, files: list[tuple[str, bytes]], data: dict | None = None) -> dict:
        """PUT files (relative path, content) as a multipart form ``files`` field."""
        form = [("files", (name, content, "application/octet-stream")) for name, content in files]
        return self.json("PUT", path, files=form, data=data or {})


def error_of(response: httpx.Response) -> ServiceError:
    """The service's own message (already in the caller's language), else the status."""
    message, code = "", "http_error"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = str(body.get("message") or "")
        code = str(body.get("error") or code)
    return ServiceError("{reason}", status=response.status_code, code=code,
                        reason=message or f"HTTP {response.status_code} from {response.request.url}")
