"""The service's database work on a deadline's path does not grow with the class.

A teacher's page polls the list of a class's submissions while a deadline is graded; the
workers fetch a bundle and report a batch for every submission. Each of these once read
the rows it answers with one lazy load at a time (the student, the files, the feedback of
every submission; every stored file of a bundle; every job of a report), so the service's
CPU per submission grew with the class and with the files. These tests count the SQL
statements a request sends (SQLAlchemy's ``before_cursor_execute``): they stay the same for
a class of 3 and of 12, for a bundle of 2 files and of 6, for a report of 1 job and of 8.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from fastapi import Request
from service_app import USER_HEADER, Site, notebook
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from sabaq.hub.domain import accounts, courses
from sabaq.hub.domain import assignments as asg
from sabaq.hub.service.app import PREFIX
from sabaq.hub.store.blobs import stored_files
from sabaq.hub.store.models import GradeResult, Role, User

COURSE, ASSIGNMENT = "alg8", "hw1"


@pytest.fixture
def site(tmp_path):
    s = Site(tmp_path)
    with s.sessions() as db:
        accounts.create_user(db, "admin", is_admin=True)
        course = courses.create_course(db, COURSE, "Algebra 8")
        courses.set_member(db, course, accounts.create_user(db, "teacher"), Role.teacher)
        db.commit()
    yield s
    s.app.state.engine.dispose()


def enrol(site: Site, logins: list[str], files: int = 1) -> None:
    """Students of the course, each with a graded submission of ``files`` notebooks and released feedback."""
    with site.sessions() as db:
        course = courses.get_course(db, COURSE)
        a = asg.find_assignment(db, course, ASSIGNMENT)
        if a is None:
            a = asg.release(db, course, ASSIGNMENT, {"hw.ipynb": notebook()}, {"hw.ipynb": notebook()})
        for login in logins:
            student = accounts.create_user(db, login)
            courses.set_member(db, course, student, Role.student, section="8A")
            s = asg.submit(db, a, student, {f"hw{i}.ipynb": notebook(i + 1) for i in range(files)})
            db.add(GradeResult(submission_id=s.id, status="graded", score=1.0, max_score=3.0, details={}))
            asg.store_feedback(db, s, "hw0", f"<p>{login}</p>".encode())
        db.commit()


@contextlib.contextmanager
def statements(site: Site):
    """The SQL statements sent meanwhile (a list, filled as they go), but for SQLite's PRAGMA
    query_only: a connection sets it only when it changes, so it depends on what the pooled
    connection served last."""
    sent: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith("PRAGMA query_only"):
            sent.append(statement)

    engine = site.app.state.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


def counted(site: Site, method: str, path: str, user: str | None = "teacher", **kwargs) -> tuple[httpx.Response, int]:
    with statements(site) as sent:
        r = site.call(method, path, user=user, **kwargs)
    assert r.status_code < 300, r.text
    return r, len(sent)


@pytest.mark.parametrize("latest", [True, False])
def test_a_teachers_poll_costs_the_same_statements_for_3_and_for_12_students(site, latest):
    path = f"/api/v1/courses/{COURSE}/assignments/{ASSIGNMENT}/submissions"
    params = {"latest": "true"} if latest else {}
    enrol(site, [f"s{i}" for i in range(3)])
    small, few = counted(site, "GET", path, params=params)
    enrol(site, [f"t{i}" for i in range(9)], files=3)
    large, many = counted(site, "GET", path, params=params)
    assert many == few, f"3 students: {few} statements, 12: {many}"
    # and the answer is the whole of each row, read as before
    rows = {s["student"]: s for s in large.json()}
    assert len(rows) == 12 and rows["t4"]["files"] == ["hw0.ipynb", "hw1.ipynb", "hw2.ipynb"]
    assert rows["t4"]["feedback"] == ["hw0"] and rows["t4"]["course"] == COURSE
    assert rows["t4"]["assignment"] == ASSIGNMENT and rows["t4"]["grade"]["score"] == 1.0
    assert small.json() == [s for s in large.json() if s["student"].startswith("s")]


def test_a_students_own_lists_cost_the_same_statements_for_1_and_for_4_attempts(site):
    enrol(site, ["aliya"])
    mine = f"/api/v1/courses/{COURSE}/assignments/{ASSIGNMENT}/submissions"
    theirs = "/api/v1/students/aliya/submissions"
    _, one = counted(site, "GET", mine, user="aliya")
    _, one_by_login = counted(site, "GET", theirs, user="teacher")
    with site.sessions() as db:
        a = asg.find_assignment(db, courses.get_course(db, COURSE), ASSIGNMENT)
        aliya = db.scalar(select(User).where(User.name == "aliya"))
        for i in range(3):
            asg.submit(db, a, aliya, {"hw0.ipynb": notebook(), f"extra{i}.ipynb": notebook()})
        db.commit()
    r, four = counted(site, "GET", mine, user="aliya")
    r_by_login, four_by_login = counted(site, "GET", theirs, user="teacher")
    assert (four, four_by_login) == (one, one_by_login)
    assert [s["attempt"] for s in r.json()] == [1, 2, 3, 4] == [s["attempt"] for s in r_by_login.json()]
    assert r.json()[3]["files"] == ["extra2.ipynb", "hw0.ipynb"]
    # another student sees none of hers, and a teacher of no course of hers is refused as before
    with site.sessions() as db:
        accounts.create_user(db, "stranger")
        db.commit()
    assert site.call("GET", theirs, user="stranger").status_code == 403


def worker_get(site: Site, path: str) -> tuple[httpx.Response, int]:
    token = site.settings.worker.token
    with statements(site) as sent:
        r = site.call("GET", f"/api/v1/worker/{path}", user=None, headers={"Authorization": f"token {token}"})
    assert r.status_code == 200, r.text
    return r, len(sent)


def submission_id(site: Site, login: str) -> int:
    with site.sessions() as db:
        student = db.scalar(select(User).where(User.name == login))
        return asg.submissions_of(db, asg.find_assignment(db, courses.get_course(db, COURSE), ASSIGNMENT),
                                  student)[-1].id


def test_a_workers_bundles_cost_the_same_statements_for_1_file_and_for_5(site, monkeypatch):
    import io
    import zipfile

    from sabaq.archive import unpack
    from sabaq.hub.service.api import worker

    enrol(site, ["aliya"], files=1)
    enrol(site, ["bota"], files=5)
    one, five = submission_id(site, "aliya"), submission_id(site, "bota")
    for kind in ("submissions", "grading"):
        small, few = worker_get(site, f"{kind}/{one}")
        large, many = worker_get(site, f"{kind}/{five}")
        assert many == few, f"{kind}: 1 file {few} statements, 5 files {many}"
    # what they hold is as before: every file, its content, the service's timestamp
    check = unpack(worker_get(site, f"submissions/{five}")[0].content)
    assert sorted(check) == ["release/hw.ipynb", *[f"submission/hw{i}.ipynb" for i in range(5)],
                             "submission/timestamp.txt"]
    assert check["submission/hw3.ipynb"] == notebook(4) and check["release/hw.ipynb"] == notebook()
    grading = unpack(large.content)
    assert sorted(grading) == ["meta.json", "source/hw1/hw.ipynb", *[f"submitted/bota/hw1/hw{i}.ipynb" for i in range(5)]]
    assert grading["submitted/bota/hw1/hw4.ipynb"] == notebook(5)
    # a class's few kilobytes are stored, not deflated (the worker's unpack reads both); a large bundle is deflated
    assert {i.compress_type for i in zipfile.ZipFile(io.BytesIO(large.content)).infolist()} == {zipfile.ZIP_STORED}
    monkeypatch.setattr(worker, "DEFLATE_FROM", 1)
    deflated = worker_get(site, f"grading/{five}")[0].content
    assert {i.compress_type for i in zipfile.ZipFile(io.BytesIO(deflated)).infolist()} == {zipfile.ZIP_DEFLATED}
    assert unpack(deflated) == grading


def test_stored_files_are_read_together_and_a_missing_one_is_refused(site):
    from sabaq.errors import NotFound
    from sabaq.hub.store.blobs import IN_LIST, get_blobs, put_blob

    with site.sessions() as db:
        contents = [f"file {i}".encode() for i in range(IN_LIST + 3)]  # more than one statement's worth
        digests = [put_blob(db, c) for c in contents]
        assert get_blobs(db, digests + digests[:2]) == dict(zip(digests, contents))
        assert get_blobs(db, []) == {}
        with pytest.raises(NotFound):
            get_blobs(db, [digests[0], "0" * 64])


def worker_post(site: Site, path: str, body: dict, worker: str = "w1") -> tuple[httpx.Response, int]:
    headers = {"Authorization": f"token {site.settings.worker.token}", "X-Sabaq-Worker": worker}
    with statements(site) as sent:
        r = site.call("POST", f"/api/v1/worker/{path}", user=None, headers=headers, json=body)
    assert r.status_code == 200, r.text
    return r, len(sent)


def submitted(site: Site, logins: list[str]) -> None:
    """Students' submissions, their check and grade jobs queued (and nothing graded yet)."""
    with site.sessions() as db:
        course = courses.get_course(db, COURSE)
        a = asg.find_assignment(db, course, ASSIGNMENT) or asg.release(
            db, course, ASSIGNMENT, {"hw.ipynb": notebook()}, {"hw.ipynb": notebook()})
        for login in logins:
            student = accounts.create_user(db, login)
            courses.set_member(db, course, student, Role.student, section="8A")
            asg.submit(db, a, student, {"hw.ipynb": notebook()})
        db.commit()


def claimed(site: Site, kind: str, n: int) -> list[dict]:
    jobs = worker_post(site, "claim-many", {"kinds": [kind], "max_jobs": n})[0].json()["jobs"]
    assert len(jobs) == n
    return jobs


def test_a_batchs_report_costs_the_same_statements_for_1_job_and_for_8(site):
    from test_contracts import CHECK, GRADE

    from sabaq.hub.store.models import Job, Submission

    submitted(site, [f"s{i}" for i in range(9)])
    cost = {}
    for kind, result in (("check", CHECK), ("grade", GRADE)):
        for n in (1, 8):
            reports = [{"job_id": job["id"], "result": result} for job in claimed(site, kind, n)]
            r, cost[kind, n] = worker_post(site, "complete-many", {"reports": reports})
            assert set(r.json()["states"].values()) == {"done"}
    assert cost["check", 8] == cost["check", 1] and cost["grade", 8] == cost["grade", 1], cost
    # every result is kept as before: the check on its submission, the grade as its one current result
    with site.sessions() as db:
        assert all(s.check == CHECK for s in db.scalars(select(Submission)))
        results = db.scalars(select(GradeResult)).all()
        assert len(results) == 9 and all(g.current and g.score == 3.5 for g in results)
        assert len({g.submission_id for g in results}) == 9
        assert all(stored_files(db, []) == {} and g.notebooks.keys() == {"hw"} for g in results)
        assert {j.state.value for j in db.scalars(select(Job))} == {"done"}


def test_a_report_keeps_only_what_its_worker_holds_and_a_job_twice_is_lost_the_second_time(site):
    from test_contracts import GRADE

    from sabaq.hub.store.models import Job

    submitted(site, ["aliya", "bota", "dana"])
    mine = claimed(site, "grade", 2)
    theirs = worker_post(site, "claim-many", {"kinds": ["grade"], "max_jobs": 1}, worker="w2")[0].json()["jobs"]
    reports = [{"job_id": job["id"], "result": GRADE} for job in (*mine, *theirs, mine[0])]
    states = worker_post(site, "complete-many", {"reports": reports})[0].json()["states"]
    assert states == {str(mine[0]["id"]): "lost", str(mine[1]["id"]): "done", str(theirs[0]["id"]): "lost"}
    with site.sessions() as db:
        assert db.get(Job, mine[0]["id"]).state.value == "done"  # kept once, by its first report
        assert db.get(Job, theirs[0]["id"]).state.value == "running"  # another worker's: untouched
        assert len(db.scalars(select(GradeResult)).all()) == 2
    # a regrade reported later makes the new result the current one, the earlier one kept
    r = worker_post(site, "complete-many", {"reports": [{"job_id": theirs[0]["id"], "result": GRADE}]}, worker="w2")
    assert r[0].json()["states"] == {str(theirs[0]["id"]): "done"}


def test_an_upload_costs_one_statement_per_file_its_row_and_is_stored_whole(site):
    submitted(site, [])  # the assignment
    with site.sessions() as db:
        course = courses.get_course(db, COURSE)
        for login in ("aliya", "bota"):
            courses.set_member(db, course, accounts.create_user(db, login), Role.student, section="8A")
        db.commit()
    path = f"/api/v1/courses/{COURSE}/assignments/{ASSIGNMENT}/submissions"

    def upload(login: str, n: int, key: str) -> tuple[httpx.Response, int]:
        files = [("files", (f"hw{i}.ipynb", notebook(i + 1), "application/x-ipynb+json")) for i in range(n)]
        with statements(site) as sent:
            r = site.call("POST", path, user=login, files=files, headers={"Idempotency-Key": key})
        assert r.status_code == 201, r.text
        return r, len(sent)

    _, one = upload("aliya", 1, "key-one-1")
    r, four = upload("bota", 4, "key-two-2")
    assert four == one + 3  # the files' contents in one statement; each file's row its own INSERT
    assert r.json()["files"] == [f"hw{i}.ipynb" for i in range(4)] and r.json()["feedback"] == []
    assert r.json()["attempt"] == 1
    sid = r.json()["id"]
    with site.sessions() as db:
        files = asg.submission_files(db, asg.get_submission(db, sid))
        assert files["hw2.ipynb"] == notebook(3) and len(files) == 5  # and timestamp.txt
        assert asg.get_submission(db, sid).request_key == "key-two-2"
    # the same upload sent again is answered with the attempt the first stored
    again, _ = upload("bota", 4, "key-two-2")
    assert again.json()["id"] == sid
    # and a damaged notebook is still refused, with nothing stored
    bad = [("files", ("hw.ipynb", b'{"cells": 3, "nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "x"))]
    refused = site.call("POST", path, user="aliya", files=bad)
    assert refused.status_code == 422 and refused.json()["error"] == "bad_notebook"
    assert len(site.call("GET", path, user="aliya").json()) == 1


def test_an_upload_reads_course_role_and_assignment_together_and_its_jobs_at_once(site):
    """Each of an upload's two phases (before and after its files are read) reads the course,
    the student's role and the assignment in one statement, the assignment's course is not
    read again for the answer, and the check and grading jobs are looked up together."""
    submitted(site, [])
    with site.sessions() as db:
        courses.set_member(db, courses.get_course(db, COURSE), accounts.create_user(db, "aliya"), Role.student)
        db.commit()
    files = [("files", ("hw.ipynb", notebook(), "application/x-ipynb+json"))]
    with statements(site) as sent:
        r = site.call("POST", f"/api/v1/courses/{COURSE}/assignments/{ASSIGNMENT}/submissions", user="aliya",
                      files=files)
    assert r.status_code == 201, r.text
    assert r.json()["course"] == COURSE and r.json()["assignment"] == ASSIGNMENT
    reads = [" ".join(s.split()) for s in sent if s.lstrip().startswith("SELECT")]
    of_courses = [s for s in reads if "FROM courses" in s]
    assert len(of_courses) == 2, of_courses
    assert all("JOIN memberships" in s and "JOIN assignments" in s for s in of_courses), of_courses
    assert not [s for s in reads if "FROM memberships" in s or "FROM assignments WHERE" in s]
    assert len([s for s in reads if "FROM jobs" in s]) == 1
    with site.sessions() as db:
        from sabaq.hub.store.models import Job

        assert sorted(j.key for j in db.scalars(select(Job))) == sorted(
            [f"check:{r.json()['id']}", f"grade:{r.json()['id']}"])


def test_the_one_statement_refuses_whom_the_three_refused(site):
    """A course that does not exist, a caller who is not its student (a teacher, a student of
    another course), an assignment that is not released or is another course's: refused as before."""
    submitted(site, [])
    with site.sessions() as db:
        other = courses.create_course(db, "geo7", "Geography 7")
        courses.set_member(db, other, accounts.create_user(db, "outsider"), Role.student)
        asg.release(db, other, "map1", {"map.ipynb": notebook()}, {"map.ipynb": notebook()})
        courses.set_member(db, courses.get_course(db, COURSE), accounts.create_user(db, "aliya"), Role.student)
        hidden = asg.release(db, courses.get_course(db, COURSE), "later", {"hw.ipynb": notebook()},
                             {"hw.ipynb": notebook()})
        hidden.released_at = None
        db.commit()
    files = [("files", ("hw.ipynb", notebook(), "application/x-ipynb+json"))]

    def upload(user: str, course: str, assignment: str) -> tuple[int, str]:
        r = site.call("POST", f"/api/v1/courses/{course}/assignments/{assignment}/submissions", user=user,
                      files=files, lang="en")
        return r.status_code, r.json().get("message", "")

    assert upload("aliya", "nosuch", ASSIGNMENT) == (404, "There is no course 'nosuch'. Check the course id.")
    refused = (403, f"Only students of the course '{COURSE}' can fetch and submit its assignments.")
    assert upload("outsider", COURSE, ASSIGNMENT) == refused
    assert upload("teacher", COURSE, ASSIGNMENT) == refused
    missing = (404, f"There is no assignment 'map1' in the course '{COURSE}'.")
    assert upload("aliya", COURSE, "map1") == missing  # another course's assignment of that name
    assert upload("aliya", COURSE, "later")[0] == 404  # not released: as if it did not exist
    assert upload("aliya", COURSE, "later")[1] == f"There is no assignment 'later' in the course '{COURSE}'."
    with site.sessions() as db:
        from sabaq.hub.store.models import Submission

        assert db.scalars(select(Submission)).all() == []


def test_a_bundle_reads_its_files_contents_in_one_statement_and_a_claim_its_jobs_with_the_update(site):
    submitted(site, ["aliya"])
    with statements(site) as sent:
        jobs = worker_post(site, "claim-many", {"kinds": ["grade"], "max_jobs": 8})[0].json()["jobs"]
    assert len(jobs) == 1 and jobs[0]["attempts"] == 1
    # the claimed rows come back with the UPDATE (RETURNING): no read of them after it
    assert not [s for s in sent if s.lstrip().startswith("SELECT jobs.id, jobs.kind")], sent
    submitted(site, [f"s{i}" for i in range(4)])
    with statements(site) as sent:
        more = worker_post(site, "claim-many", {"kinds": ["grade"], "max_jobs": 8})[0].json()["jobs"]
    assert len(more) == 4 and not [s for s in sent if s.lstrip().startswith("SELECT jobs.id, jobs.kind")]
    assert [j["id"] for j in more] == sorted(j["id"] for j in more)  # oldest first, as before
    sid = jobs[0]["payload"]["submission_id"]
    for kind in ("submissions", "grading"):
        with statements(site) as sent:
            worker_get(site, f"{kind}/{sid}")
        assert len([s for s in sent if "blobs.data" in s]) == 1, (kind, sent)


def test_a_bundle_is_two_statements_of_columns_and_refuses_what_is_missing(site):
    """A bundle reads its submission's facts in one statement and its files with their contents
    in another (it loaded the submission, assignment, course, student and both kinds of files as
    ORM entities: most of its CPU); what it holds is unchanged, a missing submission or stored
    file is refused as before."""
    import json
    import sqlite3

    from sabaq.archive import unpack
    from sabaq.hub.store.models import Blob

    enrol(site, ["aliya"], files=2)
    sid = submission_id(site, "aliya")
    for kind in ("submissions", "grading"):
        with statements(site) as sent:
            worker_get(site, f"{kind}/{sid}")
        reads = [s for s in sent if s.lstrip().startswith("SELECT")]
        assert len(reads) == 2, (kind, sent)
    grading = unpack(worker_get(site, f"grading/{sid}")[0].content)
    meta = json.loads(grading.pop("meta.json"))
    assert meta["course"] == COURSE and meta["assignment"] == ASSIGNMENT and meta["student"] == "aliya"
    assert meta["timestamp"].endswith(" UTC") and meta["language"] == "kk"  # the course's: she set none
    assert grading == {"source/hw1/hw.ipynb": notebook(), "submitted/aliya/hw1/hw0.ipynb": notebook(1),
                       "submitted/aliya/hw1/hw1.ipynb": notebook(2)}
    token = {"Authorization": f"token {site.settings.worker.token}"}
    assert site.call("GET", f"/api/v1/worker/grading/{sid + 1000}", user=None, headers=token).status_code == 404
    # a stored content gone (its row deleted past the foreign keys): refused, not a bundle without the file
    raw = sqlite3.connect(site.app.state.engine.url.database)
    with raw:
        raw.execute(f"DELETE FROM {Blob.__tablename__} WHERE data = ?", (notebook(2),))
    raw.close()
    for kind in ("submissions", "grading"):
        r = site.call("GET", f"/api/v1/worker/{kind}/{sid}", user=None, headers=token)
        assert r.status_code == 404 and r.json()["error"] == "not_found", r.text


def test_the_workers_token_is_checked_without_a_thread(site, monkeypatch):
    """The worker's token check waits for nothing: it runs on the event loop, not in one of
    the threads a deadline's routes queue for, and still refuses a wrong token."""
    import threading

    from sabaq.hub.service import deps

    threads = []
    check = deps.current_worker

    async def noting(request: Request):
        threads.append(threading.current_thread())
        return await check(request)

    submitted(site, ["aliya"])
    site.app.dependency_overrides[deps.current_worker] = noting
    worker_post(site, "claim-many", {"kinds": ["grade"], "max_jobs": 1})
    assert threads == [threading.main_thread()]
    del site.app.dependency_overrides[deps.current_worker]
    r = site.call("POST", "/api/v1/worker/claim-many", user=None, json={"max_jobs": 1},
                  headers={"Authorization": "token not-the-workers"})
    assert r.status_code == 401 and r.json()["error"] == "worker_only"


def test_the_routes_are_built_at_the_start_not_by_the_first_requests(site, monkeypatch):
    """FastAPI builds an included router's routes (their validators) when a request is first
    matched against them: about 0.1 s of CPU per service process, on the first deadline after a
    start. The service builds them all when it starts (app.build_routes, in its lifespan)."""
    import fastapi.routing

    built = []
    make = fastapi.routing._EffectiveRouteContext.from_api_route

    def counted(*args, **kwargs):
        built.append(kwargs.get("original_route"))
        return make(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing._EffectiveRouteContext, "from_api_route", staticmethod(counted))
    submitted(site, ["aliya"])

    async def start_and_claim():
        async with site.app.router.lifespan_context(site.app):
            started = len(built)
            transport = httpx.ASGITransport(app=site.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sabaq") as client:
                r = await client.post(f"{PREFIX}/api/v1/worker/claim-many", json={"kinds": ["grade"]},
                                      headers={"Authorization": f"token {site.settings.worker.token}"})
            return started, r

    started, r = asyncio.run(start_and_claim())
    assert r.status_code == 200 and len(r.json()["jobs"]) == 1
    assert started > 50, "the routes were not built at the start"
    assert len(built) == started, "the first request built routes"


@pytest.mark.parametrize("latest", [True, False])
def test_a_teachers_poll_reads_columns_and_answers_as_each_submissions_own_answer(site, latest):
    """The staff listing is read as columns (asg.listed_submissions: no ORM entity per row, its
    student, files or feedback); each row is what submission_out makes of that submission and
    its current result, in submissions_of's order."""
    from sabaq.hub.domain import grading
    from sabaq.hub.service.api.schemas import SUBMISSION_OUT_LOAD, submission_out
    from sabaq.hub.store.models import Submission

    enrol(site, ["s0", "s1"], files=2)
    enrol(site, ["s2"])
    with site.sessions() as db:  # a second attempt (no grade, no feedback) and a check report
        a = asg.find_assignment(db, courses.get_course(db, COURSE), ASSIGNMENT)
        s1 = db.scalar(select(User).where(User.name == "s1"))
        again = asg.submit(db, a, s1, {"hw.ipynb": notebook(), "extra.ipynb": notebook(2)})
        again.check = {"warnings": []}
        db.commit()
    loaded = []

    @event.listens_for(Session, "loaded_as_persistent")
    def count(db, instance):
        loaded.append(type(instance).__name__)

    path = f"/api/v1/courses/{COURSE}/assignments/{ASSIGNMENT}/submissions"
    try:
        r = site.call("GET", path, user="teacher", params={"latest": "true"} if latest else {})
    finally:
        event.remove(Session, "loaded_as_persistent", count)
    assert r.status_code == 200, r.text
    assert set(loaded) <= {"User", "Course", "Assignment"}, loaded  # the caller, the course, the assignment
    with site.sessions() as db:
        a = asg.find_assignment(db, courses.get_course(db, COURSE), ASSIGNMENT)
        load = SUBMISSION_OUT_LOAD
        items = asg.latest_submissions(db, a, load=load) if latest else asg.submissions_of(db, a, load=load)
        results = grading.current_results(db, a)
        expected = sorted((submission_out(s, results.get(s.id)).model_dump(mode="json") for s in items),
                          key=lambda s: (s["student"], s["attempt"]))
        assert len(expected) == (3 if latest else 4)
        assert db.get(Submission, expected[0]["id"]).student.name == "s0"
    assert r.json() == expected
    assert [(s["student"], s["attempt"]) for s in r.json()] == ([("s0", 1), ("s1", 2), ("s2", 1)] if latest else
                                                               [("s0", 1), ("s1", 1), ("s1", 2), ("s2", 1)])


def test_an_upload_inserts_its_rows_without_the_unit_of_work_and_leaves_nothing_pending(site):
    """An upload's submission, its files and its two jobs are INSERTed as rows and put in the
    session as the entities they are (database.inserted): no flush of the unit of work has
    anything new to write (it was nearly half of an upload's CPU), and afterwards the session
    holds them as if read, with nothing pending."""
    from sqlalchemy import inspect

    from sabaq.hub.store.models import Job, Submission, SubmissionFile

    submitted(site, [])
    flushed, loaded = [], []

    @event.listens_for(Session, "before_flush")
    def new_at_flush(db, context, instances):
        flushed.extend(type(item).__name__ for item in db.new)

    @event.listens_for(Session, "loaded_as_persistent")
    def read(db, instance):
        loaded.append(type(instance).__name__)

    try:
        with site.sessions() as db:
            a = asg.find_assignment(db, courses.get_course(db, COURSE), ASSIGNMENT)
            student = accounts.create_user(db, "aliya")
            courses.set_member(db, a.course, student, Role.student, section="8A")
            db.commit()
            flushed.clear()
            s = asg.submit(db, a, student, {"b.ipynb": notebook(2), "a.ipynb": notebook(1)}, request_key="k1")
            assert flushed == [] and not db.new and not db.dirty
            assert "AssignmentFile" not in loaded  # whether it can be graded: the source's paths, as a column
            assert inspect(s).persistent and all(inspect(f).persistent for f in s.files)
            assert s.assignment is a and s.student is student and s.feedback == [] and s.attempt == 1
            assert [f.path for f in s.files] == ["a.ipynb", "b.ipynb"] and s.files[0].submission is s
            db.commit()
            sid = s.id
    finally:
        event.remove(Session, "before_flush", new_at_flush)
        event.remove(Session, "loaded_as_persistent", read)
    with site.sessions() as db:  # stored once, as it was said to be
        s = db.get(Submission, sid)
        assert s.request_key == "k1" and s.kind == "notebook" and s.check is None and len(s.secret) == 128
        assert sorted(f.path for f in db.scalars(select(SubmissionFile))) == ["a.ipynb", "b.ipynb"]
        assert asg.submission_files(db, s)["b.ipynb"] == notebook(2)
        queued = {(j.kind, j.key, j.state.value, j.attempts) for j in db.scalars(select(Job))}
        assert queued == {("check", f"check:{sid}", "queued", 0), ("grade", f"grade:{sid}", "queued", 0)}
        assert all(j.payload == {"submission_id": sid} and j.error == "" for j in db.scalars(select(Job)))
