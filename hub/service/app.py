"""The sabaq service: a JupyterHub service mounted at /services/sabaq/.

It serves the REST API (``api/v1``, OpenAPI at ``api/openapi.json``), the
workers' API and the web pages, and keeps hub groups in step with courses.
It holds no state of its own beyond its database, so several can run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.exc import DataError, OperationalError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import NoMatchFound
from starlette.types import Message, Receive, Scope, Send

from sabaq import __version__
from sabaq.errors import Invalid, NotFound, SabaqError, Unauthorized
from sabaq.hub.jupyterhub.sync import HubSync
from sabaq.hub.service.api import assignments as assignments_api
from sabaq.hub.service.api import courses as courses_api
from sabaq.hub.service.api import gradebook as gradebook_api
from sabaq.hub.service.api import lessons as lessons_api
from sabaq.hub.service.api import people as people_api
from sabaq.hub.service.api import submissions as submissions_api
from sabaq.hub.service.api import tasks as tasks_api
from sabaq.hub.service.api import worker as worker_api
from sabaq.hub.service.asgi import HttpMiddleware
from sabaq.hub.service.deps import SESSION_TOKEN, request_language
from sabaq.hub.service.edges import Edges
from sabaq.hub.service.health import router as health_router
from sabaq.hub.service.hub_tokens import HubTokens
from sabaq.hub.service.limits import BodyLimit, DatabaseSlots, retry_headers
from sabaq.hub.service.pages import assignment as assignment_page
from sabaq.hub.service.pages import assignment_setup as assignment_setup_page
from sabaq.hub.service.pages import course as course_page
from sabaq.hub.service.pages import gradebook as gradebook_page
from sabaq.hub.service.pages import home as home_page
from sabaq.hub.service.pages import student as student_page
from sabaq.hub.service.pages import submission as submission_page
from sabaq.hub.service.pages import task as task_page
from sabaq.hub.service.pages.render import error_page
from sabaq.hub.service.shared_static import router as shared_static_router
from sabaq.hub.service.timing import ServerTiming
from sabaq.hub.service.unexpected import CatchAll
from sabaq.hub.store.database import make_engine, make_sessionmaker
from sabaq.i18n import N_
from sabaq.settings import Settings, keeps_secure_cookies

PREFIX = "/services/sabaq"
log = logging.getLogger("sabaq.service")


def make_hub_tokens(settings: Settings) -> HubTokens:
    """Who a request's token belongs to (every request asks; see hub_tokens)."""
    env = os.environ
    return HubTokens(api_url=env.get("JUPYTERHUB_API_URL") or settings.hub_api_url,
                     api_token=env.get("JUPYTERHUB_API_TOKEN") or settings.service.api_token)


def make_hub_oauth(settings: Settings):
    """jupyterhub's OAuth client, for a login; imported only then, as it takes a second to import."""
    from jupyterhub.services.auth import HubOAuth

    env = os.environ
    return HubOAuth(
        api_token=env.get("JUPYTERHUB_API_TOKEN") or settings.service.api_token,
        api_url=env.get("JUPYTERHUB_API_URL") or settings.hub_api_url,
        oauth_client_id=env.get("JUPYTERHUB_CLIENT_ID") or "service-sabaq",
        oauth_redirect_uri=env.get("JUPYTERHUB_OAUTH_CALLBACK_URL") or f"{PREFIX}/oauth_callback",
        base_url=f"{PREFIX}/",
        hub_prefix="/hub/",
        access_scopes=set(HubTokens.access_scopes),
    )


def session_cookie(settings: Settings) -> dict:
    """The session cookie's name, path and Secure flag.

    With users' servers at <login>.<host>, a server could set a cookie for the whole domain
    (a student's own sabaq session, pressed on a teacher's browser); a __Host- cookie cannot
    be set that way. It must be Secure and on /: https only."""
    host = settings.subdomain_host
    if host and keeps_secure_cookies(host):
        return {"session_cookie": "__Host-sabaq-session", "path": "/", "https_only": True}
    return {"session_cookie": "sabaq-session", "path": f"{PREFIX}/",
            "https_only": settings.public_url.startswith("https")}


class NoFramingByOthers(HttpMiddleware):
    """Pages are not framed by other origins (a user's server under subdomains among them)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", "frame-ancestors 'self'")
                headers.setdefault("X-Frame-Options", "SAMEORIGIN")
            await send(message)

        await self.app(scope, receive, with_headers)


WARM_UP_NAME = "sabaq-builds-its-routes"  # no route has this name


def build_routes(app: FastAPI) -> None:
    """Each included router's routes made ready at the start, not by the first request that
    passes them: FastAPI builds an included router's routes (their parameters' and answers'
    pydantic validators) when a request is first matched against them, about 0.1 s of CPU for
    sabaq's routers in each of the service's processes, which landed on the first deadline
    after a start. Looking up a name no route has walks every route, building each."""
    with contextlib.suppress(NoMatchFound):
        app.url_path_for(WARM_UP_NAME)


def create_app(settings: Settings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        build_routes(app)
        app.state.hub_sync.start()
        app.state.claim_waits.start()
        yield
        app.state.claim_waits.stop()
        await app.state.hub_sync.stop()
        await app.state.hub_auth.aclose()
        app.state.engine.dispose()

    app = FastAPI(
        title="sabaq",
        version=__version__,
        description="Courses, rosters, the nbgrader exchange, submissions and the gradebook.",
        openapi_url=f"{PREFIX}/api/openapi.json",
        docs_url=f"{PREFIX}/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    engine = make_engine(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.db_slots = DatabaseSlots(engine.pool.size())
    app.state.claim_waits = worker_api.Waiting()  # workers' claims waiting for a job
    app.state.hub_auth = make_hub_tokens(settings)
    app.state.hub_sync = HubSync(
        app.state.sessions, app.state.hub_auth.api_url, app.state.hub_auth.api_token,
        settings.service.sync_interval,
    )
    # inside the session's middleware, so that a refusal can be the error page in the reader's language;
    # the last added is the outermost: CatchAll > BodyLimit > Edges > the routes
    app.add_middleware(Edges)
    app.add_middleware(BodyLimit, limit_mb=settings.service.max_request_mb)
    app.add_middleware(CatchAll)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.service.cookie_secret or secrets.token_hex(32),
        max_age=12 * 3600,
        same_site="lax",
        **session_cookie(settings),
    )
    app.add_middleware(NoFramingByOthers)
    # pages, JSON and JupyterLab's shared files compressed for a slow link (never an event stream)
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    app.add_middleware(ServerTiming)  # outermost: the whole of the service's time
    for module in (people_api, courses_api, assignments_api, submissions_api, gradebook_api, tasks_api,
                   lessons_api, worker_api, home_page, course_page, assignment_page, assignment_setup_page,
                   student_page, gradebook_page, submission_page, task_page):
        app.include_router(module.router, prefix=PREFIX)
    app.include_router(health_router, prefix=PREFIX)  # the probes: readiness and liveness
    app.include_router(shared_static_router, prefix=PREFIX)  # JupyterLab's files, for every server
    _add_oauth_routes(app)
    _add_error_handlers(app)

    return app


def _add_oauth_routes(app: FastAPI) -> None:
    oauth = []  # made at the first login

    def hub_oauth():
        if not oauth:
            oauth.append(make_hub_oauth(app.state.settings))
        return oauth[0]

    @app.get(f"{PREFIX}/oauth_login", include_in_schema=False)
    def oauth_login(request: Request, next: str = f"{PREFIX}/"):
        hub_auth = hub_oauth()
        state = secrets.token_urlsafe(16)
        request.session["oauth_state"] = state
        request.session["oauth_next"] = next if next.startswith(f"{PREFIX}/") else f"{PREFIX}/"
        query = urlencode({
            "client_id": hub_auth.oauth_client_id,
            "redirect_uri": hub_auth.oauth_redirect_uri,
            "response_type": "code",
            "state": state,
        })
        return RedirectResponse(f"{hub_auth.oauth_authorization_url}?{query}", status_code=302)

    @app.get(f"{PREFIX}/oauth_callback", include_in_schema=False)
    async def oauth_callback(request: Request, code: str = "", state: str = ""):
        expected = request.session.pop("oauth_state", None)
        if not code or not expected or not secrets.compare_digest(state, expected):
            raise Unauthorized(N_("The login did not complete. Please log in again."), code="oauth_state")
        hub_auth = hub_oauth()
        token = await hub_auth.token_for_code(code, sync=False)
        request.session[SESSION_TOKEN] = token
        return RedirectResponse(request.session.pop("oauth_next", f"{PREFIX}/"), status_code=302)

    @app.get(f"{PREFIX}/logout", include_in_schema=False)
    def logout(request: Request):
        request.session.clear()
        return RedirectResponse("/hub/logout", status_code=302)


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return not path.startswith(f"{PREFIX}/api/") and "text/html" in request.headers.get("accept", "")


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SabaqError)
    async def sabaq_error(request: Request, exc: SabaqError):
        lang = request_language(request)
        if _wants_html(request):
            if isinstance(exc, Unauthorized):
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"{PREFIX}/oauth_login?{urlencode({'next': target})}", status_code=302)
            return error_page(request, exc)
        return JSONResponse(
            {"error": exc.code, "message": exc.translated(lang)}, status_code=exc.status, headers=retry_headers(exc)
        )

    @app.exception_handler(OperationalError)
    async def database_unavailable(request: Request, exc: OperationalError):
        # SQLite still locked after its busy timeout (a deadline's crowd), PostgreSQL gone:
        # nothing of the request was committed, and the student or teacher can send it again
        log.error("database unavailable for %s %s: %s", request.method, request.url.path, exc.orig)
        err = SabaqError(
            N_("sabaq could not reach its database just now, so nothing was saved. "
               "Try again in a minute; if it keeps happening, tell the administrator."),
            status=503, code="database_unavailable",
        )
        return await sabaq_error(request, err)

    @app.exception_handler(DataError)
    async def value_not_stored(request: Request, exc: DataError):
        # PostgreSQL refuses what SQLite keeps: text with NUL or longer than its column (a form's
        # field, a roster's cell), a number beyond its column's type; the transaction was rolled back
        log.warning("a value the database refused in %s %s: %s", request.method, request.url.path, exc.orig)
        err = Invalid(N_("A value cannot be stored: it is too long, or it has a character sabaq cannot keep "
                         "(such as NUL). Shorten it or remove the character, and try again; nothing was saved."),
                      code="value_not_stored")
        return await sabaq_error(request, err)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        # the framework's own refusals (no such route, a method the route does not take, a form
        # that cannot be parsed), in the reader's language like every other error
        if exc.status_code == 404:
            err = NotFound(N_("There is nothing at this address. Check the link, or open the page again "
                              "from sabaq's menus."), code="no_route")
        elif exc.status_code == 405:
            err = SabaqError(N_("This address does not take {method} requests."), status=405,
                             code="method_not_allowed", method=request.method)
        else:
            err = SabaqError(N_("The request could not be read: its form data or files are malformed. "
                                "Send it again from sabaq's page or client."), status=exc.status_code,
                             code="unreadable")
        response = await sabaq_error(request, err)
        response.headers.update(exc.headers or {})  # 405's Allow
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        fields = ", ".join(
            ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")) or "body"
            for err in exc.errors()
        )
        err = SabaqError(
            N_("The request is missing a value or has a wrong one: {fields}."),
            status=422, code="invalid", fields=fields,
        )
        return await sabaq_error(request, err)
