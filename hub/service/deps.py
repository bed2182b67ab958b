"""Who is asking, in which language, with which database session.

People come with the hub's OAuth (a signed session cookie holding their hub
token); their servers and scripts send ``Authorization: token <hub token>``.
Either way the hub says who the token belongs to and whether it may access
this service. Workers send the worker token from the settings instead.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from types import SimpleNamespace

import anyio
from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from tornado.web import HTTPError

from sabaq.errors import Forbidden, SabaqError, Unauthorized
from sabaq.hub.store.database import reading, session_scope
from sabaq.hub.store.models import User
from sabaq.i18n import LANGUAGES, N_, negotiate, translator
from sabaq.timings import spent

SESSION_TOKEN = "hub_token"
CSRF_KEY = "csrf"
CSRF_HEADER = "x-sabaq-csrf"
LANG_COOKIE = "sabaq-lang"
READS = ("GET", "HEAD")  # requests that change nothing (HTTP's safe methods): their sessions only read


async def get_db(request: Request):
    """A session for one request, once one of the database's slots is free (a deadline's
    crowd queues there, see limits.DatabaseSlots); its commit and close run in a thread,
    as every use of the database does, so the event loop never waits on a lock."""
    async with request.app.state.db_slots.held():
        db: Session = request.app.state.sessions()
        if request.method in READS:
            reading(db, every_transaction=True)
        ok = False
        try:
            yield db
            ok = True
        finally:
            with anyio.CancelScope(shield=True):  # a client that hung up still gets its connection back
                await run_in_threadpool(_finish, db, ok)


def _finish(db: Session, ok: bool) -> None:
    try:
        if ok:
            db.commit()
        else:
            db.rollback()
    finally:
        db.close()


# The session commits when the route function returns, before the answer is sent:
# whoever is told "done" can rely on it being stored.
DB = Depends(get_db, scope="function")


def _request_token(request: Request) -> tuple[str | None, bool]:
    """(token, from_cookie)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip(), False
    token = request.session.get(SESSION_TOKEN) if "session" in request.scope else None
    return token, bool(token)


async def hub_identity(request: Request) -> dict | None:
    """The hub's user model for the request's token, or None if there is no token."""
    token, from_cookie = _request_token(request)
    if not token:
        return None
    hub_auth = request.app.state.hub_auth
    try:
        with spent("hub"):  # the hub's answer is cached for a while; the first of a token asks the hub
            model = await hub_auth.user_for_token(token, sync=False)
    except HTTPError as e:
        if e.status_code < 500:
            raise
        # the hub is restarting or away (hub_tokens' 500/502): nothing was done, so it is worth another try
        raise SabaqError(
            N_("sabaq cannot check your login with the hub just now, so nothing was saved. Try again in a minute."),
            status=503, code="hub_unavailable",
        ) from None
    if model is None:
        if from_cookie:
            request.session.pop(SESSION_TOKEN, None)
        raise Unauthorized(
            N_("Your login has expired or the token is not valid. Log in again."),
            code="expired",
        )
    if model.get("kind", "user") != "user":
        raise Forbidden(N_("Only people can use this; services have their own access."))
    if not hub_auth.check_scopes(hub_auth.access_scopes, model):
        raise Forbidden(
            N_("This token may not be used for sabaq. Open sabaq from the hub to get one that may."),
        )
    if from_cookie and request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.headers.get(CSRF_HEADER) or (await _form_csrf(request))
        expected = request.session.get(CSRF_KEY, "")
        if not expected or not sent or not hmac.compare_digest(sent, expected):
            raise Forbidden(N_("The form has expired. Reload the page and try again."), code="csrf")
    return model


async def _form_csrf(request: Request) -> str | None:
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        value = form.get("_csrf")
        return value if isinstance(value, str) else None
    return None


def csrf_token(request: Request) -> str:
    token = request.session.get(CSRF_KEY)
    if not token:
        token = request.session[CSRF_KEY] = secrets.token_urlsafe(24)
    return token


def _provision(db: Session, model: dict) -> User:
    """The sabaq account for a hub user, created on first visit (e.g. OAuth logins)."""
    user = db.scalar(select(User).where(User.name == model["name"]))
    if user is None:
        user = User(name=model["name"], full_name=model["name"], is_admin=bool(model.get("admin")))
        db.add(user)
        db.flush()
    elif model.get("admin") and not user.is_admin:
        user.is_admin = True  # hub admins are the deployment's operators
    return user


async def optional_user(request: Request) -> dict | None:
    return await hub_identity(request)


def current_user(
    request: Request,
    model: dict | None = Depends(optional_user),
    db: Session = DB,
) -> User:
    if model is None:
        raise Unauthorized(N_("Log in to use sabaq."), code="login_required")
    # Its own short transactions: on SQLite a writing transaction holds the write lock, and the
    # route may have other work (reading an upload) before it needs the database again. Every
    # request asks, so the usual answer (a known account) is read without the write lock.
    reading(db)
    user = db.scalar(select(User).where(User.name == model["name"]))
    db.commit()
    if user is None or (model.get("admin") and not user.is_admin):
        with session_scope(request.app.state.sessions) as writer:  # this request's may only read (a GET)
            _provision(writer, model)
        user = db.scalar(select(User).where(User.name == model["name"]))
        db.commit()
    # A plain snapshot: error pages render after the session has closed.
    request.state.viewer = SimpleNamespace(name=user.name, full_name=user.full_name, language=user.language)
    return user


@dataclass
class WorkerCaller:
    name: str


async def current_worker(request: Request) -> WorkerCaller:
    """The worker the request's token names. A coroutine, as it waits for nothing: FastAPI runs a
    plain function's dependency in a thread, a hop for each of a deadline's bundles and reports."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    expected = request.app.state.settings.worker.token
    if scheme.lower() not in ("token", "bearer") or not expected or not hmac.compare_digest(
        value.strip().encode(), expected.encode()
    ):
        raise Unauthorized(N_("Only grading workers may use this."), code="worker_only")
    return WorkerCaller(name=request.headers.get("x-sabaq-worker", "worker"))


def request_language(request: Request, user: User | None = None) -> str:
    """?lang= > cookie > the user's profile > the browser > the site default."""
    settings = request.app.state.settings
    for candidate in (
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        getattr(user, "language", None) or getattr(getattr(request.state, "viewer", None), "language", None),
    ):
        if candidate in LANGUAGES:
            return candidate
    return negotiate(request.headers.get("accept-language"), settings.general.default_language)


def gettext_for(request: Request, user: User | None = None):
    return translator(request_language(request, user))
