"""What every step of the exchange shares: where the service is, one client per step,
where files go, and refusals shown in the user's language."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx
from nbgrader.exchange import abc
from traitlets import Bool, Float, Unicode, default

from sabaq.client import API, ServiceClient
from sabaq.errors import SabaqError
from sabaq.i18n import N_


def language(environ=os.environ) -> str | None:
    """The user's language (the spawner sets SABAQ_LANG)."""
    return environ.get("SABAQ_LANG")


def sabaq_address(path: str = "", environ: Mapping[str, str] = os.environ) -> str:
    """A page of sabaq (``path`` below …/services/sabaq/) as the user's browser reaches it: at
    the hub's address, which with subdomains is JUPYTERHUB_HOST and not the server's own; a
    path from the hub's base when the hub knows no public address."""
    origin = environ.get("JUPYTERHUB_HOST", "")
    if not origin:
        public = urlsplit(environ.get("JUPYTERHUB_PUBLIC_HUB_URL", ""))
        origin = f"{public.scheme}://{public.netloc}" if public.netloc else ""
    return origin + environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/services/sabaq/" + path


class SabaqExchange(abc.Exchange):
    """The base of every step. Steps name it before nbgrader's step class
    (``SabaqList(SabaqExchange, abc.ExchangeList)``) so that :meth:`start` wraps the
    whole step, the listing ExchangeList.start does after nbgrader's part included."""

    service_url = Unicode(help="Base URL of the sabaq service (…/services/sabaq/).").tag(config=True)
    api_token = Unicode(help="Hub token of this server; the service asks the hub whose it is.").tag(
        config=True
    )
    timeout = Float(120.0, help="Seconds to wait for the service.").tag(config=True)
    path_includes_course = Bool(
        True, help="Keep assignments in <course>/<assignment> so two courses may share names."
    ).tag(config=True)

    _client: ServiceClient | None = None

    @default("service_url")
    def _service_url_default(self):
        return os.environ.get("SABAQ_SERVICE_URL", "")

    @default("api_token")
    def _api_token_default(self):
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    def start(self):
        """One step with one connection to the service. A refusal, the service's or the
        step's own (a SabaqError), fails the step as nbgrader expects, in the user's language."""
        try:
            return super().start()
        except SabaqError as e:
            self.fail(e.translated(language()))
        finally:
            if self._client is not None:
                self._client.close()
                self._client = None

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        """A call to the service's API (``courses/…``), as ServiceClient.request."""
        if self._client is None:
            self._client = ServiceClient(self.service_url, self.api_token, language=language(), timeout=self.timeout)
        return self._client.request(method, API + path, **kwargs)

    def local_dir(self, course_id: str, assignment_id: str) -> str:
        parts = [course_id, assignment_id] if self.path_includes_course else [assignment_id]
        return os.path.abspath(os.path.join(self.assignment_dir, *parts))

    def require_course(self) -> str:
        if not self.coursedir.course_id:
            raise SabaqError(N_("No course id was given. Choose a course, or run the command again with --course."))
        return self.coursedir.course_id

    def require_assignment(self) -> str:
        if not self.coursedir.assignment_id:
            raise SabaqError(N_("No assignment was named. Choose an assignment and try again."))
        return self.coursedir.assignment_id

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """nbgrader's CourseDirectory.ignore patterns, applied to the file or folder name."""
        name = rel.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatch(name, pattern) for pattern in self.coursedir.ignore)

    # nbgrader's start() calls these; each step implements the ones it needs.
    def init_src(self):
        pass

    def init_dest(self):
        pass

    def copy_files(self):
        pass
