"""Nobody sends more than their share (issue 14): a single 300 MB submission was accepted
(files of 20 MB, 200 of them: 4 GB a request) and attempts were unlimited.

Now a request is refused past [service] max_request_mb before its body is read (by its
Content-Length, or counted as it streams in), a submission past max_submission_mb before
its files are read, a student's attempts at one assignment past max_attempts and their
room past max_student_mb, each with a translated message that says the limit and what
to do. The service runs in-process (tests/unit/test_service_forms.py's Site), and once
under uvicorn, where an early 413 must still reach the client.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
import threading
import time

import httpx
import nbformat
import pytest
from sqlalchemy import func, select
from test_service_forms import Site, notebook

from sabaq.devtools.ports import free_port
from sabaq.hub.domain import accounts, courses, marking
from sabaq.hub.domain import assignments as asg
from sabaq.hub.store.models import Role, Submission, utcnow
from sabaq.i18n import translator
from sabaq.settings import SETTINGS_FILE, Settings

MB = 1024 * 1024
SUBMIT = "/api/v1/courses/alg8/assignments/hw1/submissions"
REQUEST_TOO_LARGE = ("The upload is larger than {limit} MB, the most sabaq accepts at once. Make it smaller (for "
                     "example, clear large outputs in the notebooks, or leave out data files) and try again.")


def limited_site(tmp_path, **service) -> Site:
    """Course "alg8", teacher "teacher", students "aliya" and "timur", "hw1" released; the
    [service] settings given."""
    (tmp_path / SETTINGS_FILE).write_text("[service]\n" + "".join(f"{k} = {v}\n" for k, v in service.items()))
    s = Site(tmp_path)
    with s.sessions() as db:
        course = courses.create_course(db, "alg8", "Алгебра 8")
        courses.set_member(db, course, accounts.create_user(db, "teacher"), Role.teacher)
        for login in ("aliya", "timur"):
            courses.set_member(db, course, accounts.create_user(db, login), Role.student)
        asg.release(db, course, "hw1", {"hw.ipynb": notebook()}, {"hw.ipynb": notebook()},
                    now=utcnow() - dt.timedelta(days=1))
        db.commit()
    return s


def big_notebook(mb: float) -> bytes:
    """A valid notebook of about `mb` MB (a long markdown cell)."""
    nb = nbformat.reads(notebook().decode(), as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("x" * int(mb * MB), id="big"))
    return nbformat.writes(nb).encode()


def submit(site: Site, content: bytes, user: str = "aliya", lang: str = "ru") -> httpx.Response:
    return site.call("POST", SUBMIT, user=user, lang=lang,
                     files=[("files", ("hw.ipynb", content, "application/x-ipynb+json"))])


def stored(site: Site) -> int:
    with site.sessions() as db:
        return db.scalar(select(func.count(Submission.id)))


def test_the_defaults_refuse_a_300_mb_submission():
    service = Settings.load(data_dir="/nonexistent", environ={}).service
    assert (service.max_request_mb, service.max_submission_mb, service.max_student_mb, service.max_attempts) == \
        (100, 50, 200, 20)
    assert 300 > service.max_request_mb and service.max_submission_mb <= service.max_request_mb


def raw_post(site: Site, body_chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[int, dict, int]:
    """POST straight through the ASGI interface: (status, JSON answer, body bytes the app pulled)."""
    pulled = 0
    chunks = list(body_chunks)
    sent: list[dict] = []

    async def receive():
        nonlocal pulled
        if not chunks:
            return {"type": "http.request", "body": b"", "more_body": False}
        chunk = chunks.pop(0)
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/services/sabaq" + SUBMIT, "raw_path": ("/services/sabaq" + SUBMIT).encode(),
             "query_string": b"", "root_path": "", "server": ("sabaq", 80), "client": ("127.0.0.1", 1),
             "headers": [(b"host", b"sabaq"), (b"x-test-user", b"aliya"), (b"accept-language", b"ru"), *headers]}
    asyncio.run(site.app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), pulled


def multipart_chunks(mb: int) -> list[bytes]:
    """A well-formed multipart form of one file of `mb` MB, in 64 KB pieces (boundary "b")."""
    body = (b'--b\r\ncontent-disposition: form-data; name="files"; filename="hw.ipynb"\r\n'
            b"content-type: application/octet-stream\r\n\r\n" + b"x" * (mb * MB) + b"\r\n--b--\r\n")
    return [body[i:i + 64 * 1024] for i in range(0, len(body), 64 * 1024)]


FORM = (b"content-type", b"multipart/form-data; boundary=b")


def test_a_request_past_the_limit_is_refused_by_its_length_before_it_is_read(tmp_path):
    site = limited_site(tmp_path, max_request_mb=1)
    message = translator("ru")(REQUEST_TOO_LARGE).format(limit=1)
    assert message != REQUEST_TOO_LARGE.format(limit=1)
    chunks = multipart_chunks(3)
    length = str(sum(map(len, chunks))).encode()
    status, answer, pulled = raw_post(site, chunks, [(b"content-length", length), FORM])
    assert (status, answer) == (413, {"error": "request_too_large", "message": message})
    assert pulled == 0  # not a byte of the body was read
    # without a length (or with a false one) it is counted as it arrives, and stopped at the limit
    status, answer, pulled = raw_post(site, multipart_chunks(3), [FORM])
    assert (status, answer) == (413, {"error": "request_too_large", "message": message})
    assert MB < pulled <= MB + 64 * 1024
    status, _, pulled = raw_post(site, multipart_chunks(3), [(b"content-length", b"1000"), FORM])
    assert status == 413 and pulled <= MB + 64 * 1024
    assert stored(site) == 0
    # through the whole app: the API's answer, and a browser's error page in its language
    r = submit(site, big_notebook(1.5))
    assert r.status_code == 413 and r.json() == {"error": "request_too_large", "message": message}
    page = site.call("POST", "/courses/alg8/assignments/hw1/settings", page=True, lang="kk",
                     data={"late_policy": "x" * (2 * MB)})
    kk = translator("kk")(REQUEST_TOO_LARGE).format(limit=1)
    assert page.status_code == 413 and html.escape(kk) in page.text
    # below the limit all is as before
    assert submit(site, notebook()).status_code == 201


def test_a_submission_past_its_limit_is_refused_before_its_files_are_read(tmp_path, monkeypatch):
    site = limited_site(tmp_path, max_request_mb=10, max_upload_mb=5, max_submission_mb=1)

    async def never(*args, **kwargs):
        raise AssertionError("the files were read")

    monkeypatch.setattr("sabaq.hub.service.api.submissions.read_uploads", never)
    r = submit(site, big_notebook(1.5), lang="en")
    assert r.status_code == 413 and r.json()["error"] == "submission_too_large"
    assert r.json()["message"].startswith("Your submission is 1.5 MB; a submission may be at most 1 MB.")
    ru = submit(site, big_notebook(1.5)).json()["message"]
    assert "1.5" in ru and "1 " in ru and not ru.startswith("Your submission")
    assert stored(site) == 0


def test_attempts_are_limited_per_student_and_assignment(tmp_path):
    site = limited_site(tmp_path, max_attempts=2)
    assert [submit(site, notebook()).status_code for _ in range(2)] == [201, 201]
    r = submit(site, notebook())
    assert r.status_code == 429 and r.json()["error"] == "too_many_attempts"
    assert "2" in r.json()["message"] and "hw1" in r.json()["message"]
    en = submit(site, notebook(), lang="en").json()["message"]
    assert en.startswith("You have already submitted 'hw1' 2 times, the most allowed.") and "teacher" in en
    assert stored(site) == 2
    assert submit(site, notebook(), user="timur").status_code == 201  # her limit, not the class's
    with site.sessions() as db:  # a teacher's mark of work on paper is no attempt of hers
        hw1 = asg.get_assignment(db, courses.get_course(db, "alg8"), "hw1")
        timur = accounts.get_user(db, "timur")
        marking.record_paper(db, hw1, timur, 1.0, "", accounts.get_user(db, "teacher"))
        db.commit()
    assert submit(site, notebook(), user="timur").status_code == 201


def test_a_students_submissions_of_one_assignment_share_a_room(tmp_path):
    site = limited_site(tmp_path, max_request_mb=10, max_upload_mb=5, max_submission_mb=5, max_student_mb=2)
    assert submit(site, big_notebook(1.2)).status_code == 201
    r = submit(site, big_notebook(1.2), lang="en")
    assert r.status_code == 413 and r.json()["error"] == "student_quota"
    assert "already take 1.2 MB" in r.json()["message"] and "2 MB" in r.json()["message"]
    assert submit(site, notebook()).status_code == 201  # a small one still fits
    assert submit(site, big_notebook(1.2), user="timur").status_code == 201



def test_an_early_refusal_reaches_a_real_client(tmp_path):
    """Under uvicorn the 413 is sent before the body is read: the client must still get it."""
    import uvicorn

    site = limited_site(tmp_path, max_request_mb=1)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(site.app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/services/sabaq", timeout=30) as client:
            r = client.post(SUBMIT, headers={"x-test-user": "aliya", "accept-language": "en"},
                            files=[("files", ("hw.ipynb", big_notebook(20), "application/x-ipynb+json"))])
            assert r.status_code == 413 and r.json()["error"] == "request_too_large"
            ok = client.post(SUBMIT, headers={"x-test-user": "aliya"},
                             files=[("files", ("hw.ipynb", notebook(), "application/x-ipynb+json"))])
            assert ok.status_code == 201, ok.text
    finally:
        server.should_exit = True
        thread.join(10)


def test_the_quota_rule_on_each_database(db):
    """assignments.check_quota's counts and sums on SQLite and PostgreSQL."""
    from sabaq.errors import TooLarge, TooMany

    course = courses.create_course(db, "alg8", "Алгебра 8")
    aliya = accounts.create_user(db, "aliya")
    courses.set_member(db, course, aliya, Role.student)
    hw1 = asg.release(db, course, "hw1", {"hw.ipynb": notebook()}, {}, now=utcnow() - dt.timedelta(days=1))
    limits = dict(max_attempts=2, max_submission_mb=1, max_student_mb=1)
    asg.check_quota(db, hw1, aliya, MB, **limits)  # nothing yet: exactly the limits fit
    first = big_notebook(0.6)
    asg.submit(db, hw1, aliya, {"hw.ipynb": first})
    with pytest.raises(TooLarge) as room:
        asg.check_quota(db, hw1, aliya, MB // 2, **limits)
    assert room.value.code == "student_quota" and room.value.params["used"] == f"{len(first) / MB:.1f}"
    with pytest.raises(TooLarge) as one:
        asg.check_quota(db, hw1, aliya, MB + 1, **limits)
    assert one.value.code == "submission_too_large"
    asg.submit(db, hw1, aliya, {"hw.ipynb": notebook()})
    with pytest.raises(TooMany) as attempts:
        asg.check_quota(db, hw1, aliya, 0, **limits)
    assert attempts.value.status == 429 and attempts.value.params["count"] == 2
    asg.check_quota(db, hw1, aliya, 10 * MB, max_attempts=0, max_submission_mb=10, max_student_mb=0)  # 0: no limit
