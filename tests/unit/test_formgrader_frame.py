"""nbgrader's formgrader loads inside JupyterLab and in its own tab (issue 16): its pages,
and only its pages, may be framed by the server's own origin; its links keep the server's
``/user/<name>/``; sabaq's course page opens the formgrader of each course.
"""

from __future__ import annotations

from unittest import mock

import pytest
from jupyter_server.base.handlers import JupyterHandler
from service_app import Site
from tornado.httputil import HTTPHeaders, HTTPServerRequest
from tornado.routing import PathMatches
from tornado.web import Application

from sabaq.hub.domain import courses
from sabaq.hub.exchange import formgrader
from sabaq.hub.jupyterhub.serverroles import STAFF, STUDENT, server_extensions
from sabaq.hub.store.models import Role

HUB_POLICY = "frame-ancestors 'none'"  # what JupyterHub 6's single-user server sends for every page


def policy_of(handler_class, app) -> str:
    request = HTTPServerRequest(method="GET", uri="/user/teacher/x", headers=HTTPHeaders(),
                                connection=mock.Mock())
    handler = handler_class(app, request)
    return handler._headers["Content-Security-Policy"]


@pytest.fixture(autouse=True)
def nbgrader_as_installed():
    """Each test starts from nbgrader's own handlers (the extension changes their class)."""
    base = formgrader.formgrader_base()
    saved = base.__dict__.get("content_security_policy")
    yield
    if saved is None:
        if "content_security_policy" in base.__dict__:
            delattr(base, "content_security_policy")
    else:
        base.content_security_policy = saved


class FakeServer:
    def __init__(self):
        self.web_app = Application([], base_url="/user/teacher/", headers={"Content-Security-Policy": HUB_POLICY})
        self.log = mock.Mock()


def test_only_the_formgrader_may_be_framed_and_only_by_its_own_server():
    server = FakeServer()
    Base = formgrader.formgrader_base()
    from nbgrader.server_extensions.formgrader.handlers import ManageAssignmentsHandler

    before = policy_of(ManageAssignmentsHandler, server.web_app)
    formgrader._load_jupyter_server_extension(server)
    assert before == HUB_POLICY  # the control: nbgrader's page could not be shown in JupyterLab's frame
    assert policy_of(ManageAssignmentsHandler, server.web_app) == "frame-ancestors 'self'"
    assert policy_of(Base, server.web_app) == "frame-ancestors 'self'"

    class OtherPage(JupyterHandler):  # a notebook, the file browser, the terminal ...
        pass

    assert policy_of(OtherPage, server.web_app) == HUB_POLICY


def test_the_formgraders_links_keep_the_servers_prefix():
    server = FakeServer()
    formgrader._load_jupyter_server_extension(server)
    rule = server.web_app.default_router.rules[0]
    assert isinstance(rule.matcher, PathMatches)
    assert rule.matcher.regex.pattern.startswith("/user/teacher/formgrader/static/js/utils.js")
    text = rule.target_kwargs["text"]
    assert formgrader.PREFIXED in text and formgrader.UNPREFIXED not in text
    assert "base_url + prefix + path" in text


def test_teachers_servers_run_the_extension():
    assert server_extensions(STAFF)["sabaq.hub.exchange.formgrader"] is True  # on for staff
    assert server_extensions(STUDENT)["sabaq.hub.exchange.formgrader"] is False  # off for students
    assert formgrader._jupyter_server_extension_points() == [{"module": "sabaq.hub.exchange.formgrader"}]


@pytest.fixture
def site(tmp_path):
    s = Site(tmp_path)
    s.seed()
    from sabaq.hub.domain import accounts

    with s.sessions() as db:
        other = courses.create_course(db, "geo9", "География 9")
        courses.set_member(db, other, accounts.get_user(db, "teacher"), Role.teacher)
        db.commit()
    return s


def test_each_course_page_opens_the_formgrader_of_that_course(site):
    for slug in ("alg8", "geo9"):
        page = site.call("GET", f"/courses/{slug}", page=True).text
        assert f'href="/hub/user-redirect/formgrader?path={slug}"' in page
    assert "formgrader?path=" not in site.call("GET", "/courses/alg8", user="aliya", page=True).text
