"""The workers' side of the API: claim jobs, fetch their inputs, report results.

Workers hold only the worker token; they never see the database, so a
worker pod needs nothing but a route to the service.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from sabaq.hub.domain import assignments as asg
from sabaq.hub.domain import grading
from sabaq.hub.store import jobs
from sabaq.hub.store.models import FileKind, JobState, Submission
from sabaq.hub.service.api.courses import ZIP, zip_response
from sabaq.hub.service.deps import WorkerCaller, current_worker, DB

router = APIRouter(prefix="/api/v1/worker", tags=["workers"])


class ClaimIn(BaseModel):
    kinds: list[str] | None = None


class JobOut(BaseModel):
    id: int
    kind: str
    payload: dict
    attempts: int


class ResultIn(BaseModel):
    result: dict


class FailIn(BaseModel):
    error: str


@router.post("/claim", response_model=JobOut | None, summary="Claim the next job (204: none)")
def claim(request: Request, body: ClaimIn, worker: WorkerCaller = Depends(current_worker),
          db: Session = DB):
    s = request.app.state.settings.worker
    job = jobs.claim(db, worker.name, s.lease_seconds, s.max_attempts, body.kinds)
    if job is None:
        return Response(status_code=204)
    out = JobOut(id=job.id, kind=job.kind, payload=job.payload, attempts=job.attempts)
    db.commit()
    return out


@router.post("/jobs/{job_id}/complete", summary="Report a result (409: the lease was lost)")
def complete(job_id: int, body: ResultIn, worker: WorkerCaller = Depends(current_worker),
             db: Session = DB):
    job = jobs.complete(db, job_id, worker.name, body.result)
    if job is None:
        return Response(status_code=409)
    if job.kind == "check":
        submission = db.get(Submission, job.payload["submission_id"])
        if submission is not None:
            submission.check = body.result
    elif job.kind in grading.KINDS:
        grading.record(db, job, body.result)
    return {"id": job.id, "state": job.state.value}


@router.post("/jobs/{job_id}/renew", summary="Keep the lease of a long job (409: it was lost)")
def renew(request: Request, job_id: int, worker: WorkerCaller = Depends(current_worker), db: Session = DB):
    job = jobs.renew(db, job_id, worker.name, request.app.state.settings.worker.lease_seconds)
    if job is None:
        return Response(status_code=409)
    return {"id": job.id, "lease_until": job.lease_until.isoformat()}


@router.post("/jobs/{job_id}/fail", summary="Give a job back after an error")
def fail(request: Request, job_id: int, body: FailIn, worker: WorkerCaller = Depends(current_worker),
         db: Session = DB):
    job = jobs.fail(db, job_id, worker.name, body.error, request.app.state.settings.worker.max_attempts)
    if job is None:
        return Response(status_code=409)
    if job.kind in grading.KINDS and job.state == JobState.failed:
        grading.record(db, job, {"status": "failed", "error": body.error})
    return {"id": job.id, "state": job.state.value}


@router.get("/grading/{submission_id}", response_class=Response,
            responses={200: {"content": {ZIP: {}}}},
            summary="What grading one submission needs: the teacher's source and the submission")
def grading_bundle(submission_id: int, worker: WorkerCaller = Depends(current_worker), db: Session = DB):
    s = asg.get_submission(db, submission_id)
    a = s.assignment
    name, student = a.name, s.student.name
    files = {f"source/{name}/{p}": c for p, c in asg.files_of(db, a, FileKind.source).items()}
    files.update({f"submitted/{student}/{name}/{p}": c for p, c in asg.submission_files(db, s).items()})
    meta = {"course": a.course.slug, "assignment": name, "student": student, "version": a.version,
            "due_at": a.due_at.isoformat() if a.due_at else None, "language": s.student.language or a.course.language}
    files["meta.json"] = json.dumps(meta).encode()
    return zip_response(files, f"grading-{submission_id}.zip")


@router.get("/submissions/{submission_id}", response_class=Response,
            responses={200: {"content": {ZIP: {}}}},
            summary="A submission and its assignment's released files, for checking")
def submission_bundle(submission_id: int, worker: WorkerCaller = Depends(current_worker),
                      db: Session = DB):
    s = asg.get_submission(db, submission_id)
    files = {f"submission/{p}": c for p, c in asg.submission_files(db, s).items()}
    files.update({f"release/{p}": c for p, c in asg.released_files_for(db, s.assignment, s.student).items()})
    return zip_response(files, f"submission-{submission_id}.zip")
