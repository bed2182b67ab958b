"""The service's side of the worker contract: a report is parsed by its job's kind, a
malformed one is a 422 that keeps nothing, a good one becomes the submission's result."""

from __future__ import annotations

import asyncio

import httpx
import nbformat
import pytest
from sqlalchemy import select
from test_contracts import CHECK, GRADE

from sabaq.contracts import MAX_BATCH
from sabaq.hub.domain import accounts, courses
from sabaq.hub.domain import assignments as asg
from sabaq.hub.service.app import create_app
from sabaq.hub.store.database import upgrade
from sabaq.hub.store.models import GradeResult, Job, JobState, Role, Submission
from sabaq.settings import Settings, ensure_secrets


def notebook() -> bytes:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("assert True", id="t0")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "t0", "points": 2, "locked": True,
                                 "schema_version": 3, "solution": False, "task": False}
    nb.cells.append(cell)
    return nbformat.writes(nb).encode()


@pytest.fixture
def service(tmp_path):
    """The service app on SQLite, with one submission whose check and grade jobs are queued."""
    ensure_secrets(tmp_path)
    settings = Settings.load(data_dir=tmp_path, environ={})
    upgrade(settings.database_url)
    app = create_app(settings)
    with app.state.sessions() as db:
        course = courses.create_course(db, "alg8", "Algebra 8")
        courses.set_member(db, course, accounts.create_user(db, "teacher"), Role.teacher)
        aliya = accounts.create_user(db, "aliya")
        courses.set_member(db, course, aliya, Role.student, "8A")
        assignment = asg.release(db, course, "hw1", {"hw.ipynb": notebook()}, {"hw.ipynb": notebook()})
        asg.submit(db, assignment, aliya, {"hw.ipynb": notebook()})
        db.commit()
    yield app
    app.state.engine.dispose()


def call(app, path: str, body: dict, worker: str = "w1") -> httpx.Response:
    async def post():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sabaq") as client:
            return await client.post(f"/services/sabaq/api/v1/worker/{path}", json=body, headers={
                "Authorization": f"token {app.state.settings.worker.token}", "X-Sabaq-Worker": worker})

    return asyncio.run(post())


def claim(app, kind: str) -> dict:
    r = call(app, "claim", {"kinds": [kind]})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_malformed_grade_is_refused_and_keeps_nothing(service):
    job = claim(service, "grade")
    bad = {k: v for k, v in GRADE.items() if k != "status"}
    r = call(service, f"jobs/{job['id']}/complete", {"result": bad})
    assert r.status_code == 422 and r.json()["error"] == "malformed"
    assert "status" in r.json()["message"]
    with service.state.sessions() as db:
        assert db.get(Job, job["id"]).state == JobState.running  # still the worker's, to fail or retry
        assert db.scalars(select(GradeResult)).all() == []

    r = call(service, f"jobs/{job['id']}/complete", {"result": GRADE})
    assert r.status_code == 200 and r.json()["state"] == "done"
    with service.state.sessions() as db:
        kept = db.scalars(select(GradeResult)).one()
        assert (kept.status, kept.score, kept.late_penalty, kept.needs_manual_grade) == ("graded", 3.5, 0.5, True)
        assert kept.details == GRADE["details"]


def test_a_check_is_kept_as_the_contract_says(service):
    job = claim(service, "check")
    r = call(service, f"jobs/{job['id']}/complete", {"result": {**CHECK, "warnings": [{"params": {}}]}})
    assert r.status_code == 422 and "warnings.0.message" in r.json()["message"]
    assert call(service, f"jobs/{job['id']}/complete", {"result": CHECK}).status_code == 200
    with service.state.sessions() as db:
        assert db.get(Submission, job["payload"]["submission_id"]).check == CHECK


def test_a_claim_names_known_job_kinds_only(service):
    assert call(service, "claim", {"kinds": ["mark"]}).status_code == 422
    assert claim(service, "check")["kind"] == "check"


def test_an_idle_workers_poll_never_queues_for_the_write_lock(service, monkeypatch):
    """At a deadline SQLite's writers take turns (sabaq.hub.store.writeturn); a poll that finds
    nothing must not take one. Polls that find work still claim it, and a lapsed lease is settled."""
    from sabaq.hub.store.writeturn import WriteTurn

    turns = []
    take = WriteTurn.take
    monkeypatch.setattr(WriteTurn, "take", lambda self, *a, **k: (turns.append(1), take(self, *a, **k))[1])
    claim(service, "check")
    claim(service, "grade")
    turns.clear()
    assert call(service, "claim", {"kinds": ["check"]}).status_code == 204
    assert call(service, "claim-many", {"kinds": ["grade"], "max_jobs": 4}).json() == {"jobs": []}
    assert turns == []
    with service.state.sessions() as db:  # the grading worker died: its lease lapsed
        job = db.scalars(select(Job).where(Job.kind == "grade")).one()
        job.lease_until = job.lease_until.replace(year=2000)
        db.commit()
    assert claim(service, "grade")["id"] == job.id  # handed out again
    assert turns


def test_a_report_is_checked_before_it_queues_for_the_write_lock(service, monkeypatch):
    """Checking a worker's report (a notebook's worth of JSON) happens before the write turn:
    a malformed one takes none, a good one one."""
    from sabaq.hub.store.writeturn import WriteTurn

    job = claim(service, "grade")
    turns = []
    take = WriteTurn.take
    monkeypatch.setattr(WriteTurn, "take", lambda self, *a, **k: (turns.append(1), take(self, *a, **k))[1])
    bad = {k: v for k, v in GRADE.items() if k != "status"}
    assert call(service, f"jobs/{job['id']}/complete", {"result": bad}).status_code == 422
    assert turns == []
    assert call(service, f"jobs/{job['id']}/complete", {"result": GRADE}).status_code == 200
    assert len(turns) == 1


def test_a_batchs_results_are_kept_in_one_report_or_none_of_them(service):
    with service.state.sessions() as db:
        assignment = db.scalars(select(Submission)).one().assignment
        aliya = db.scalars(select(Submission)).one().student
        asg.submit(db, assignment, aliya, {"hw.ipynb": notebook()})  # a second attempt: a second check
        db.commit()
    taken = call(service, "claim-many", {"kinds": ["check"], "max_jobs": 2}).json()["jobs"]
    first, second = (j["id"] for j in taken)
    malformed = {**CHECK, "warnings": [{"params": {}}]}

    r = call(service, "complete-many", {"reports": [{"job_id": first, "result": CHECK},
                                                    {"job_id": second, "result": malformed}]})
    assert r.status_code == 422
    with service.state.sessions() as db:  # none of the batch was kept
        assert {db.get(Job, j).state for j in (first, second)} == {JobState.running}
        assert [s.check for s in db.scalars(select(Submission))] == [None, None]

    both = {"reports": [{"job_id": first, "result": CHECK}, {"job_id": second, "result": CHECK}]}
    assert call(service, "complete-many", both, worker="w2").json() == {"states": {str(first): "lost",
                                                                                  str(second): "lost"}}
    r = call(service, "complete-many", both)
    assert r.status_code == 200 and r.json() == {"states": {str(first): "done", str(second): "done"}}
    with service.state.sessions() as db:
        assert [s.check for s in db.scalars(select(Submission))] == [CHECK, CHECK]
    assert call(service, "complete-many", both).json()["states"] == {str(first): "lost", str(second): "lost"}


@pytest.mark.parametrize("reports", [[], [{"job_id": 0, "result": {}}], [{"job_id": 2**63, "result": {}}],
                                     [{"job_id": n, "result": {}} for n in range(1, MAX_BATCH + 2)]])
def test_a_batch_report_out_of_bounds_is_refused(service, reports):
    r = call(service, "complete-many", {"reports": reports})
    assert r.status_code in (400, 422) and r.json()["message"]
    with service.state.sessions() as db:
        assert {job.state for job in db.scalars(select(Job))} == {JobState.queued}
