"""A durable job queue in sabaq's own database.

A worker claims a job with a lease. If the worker dies, the lease lapses and
the next claim hands the job out again; after ``max_attempts`` lapses or
failures the job is marked failed with the reason. The claim is one UPDATE
over a sub-select: on PostgreSQL the sub-select takes ``FOR UPDATE SKIP
LOCKED`` so parallel workers never get the same job; SQLite serialises writers.
Results are accepted only from the worker holding the current lease, so a
worker that comes back late cannot overwrite a newer result.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Collection

from sqlalchemy import and_, case, event, or_, select, update
from sqlalchemy.orm import Session

from sabaq.contracts import AFTER_OTHERS
from sabaq.hub.store.database import inserted
from sabaq.hub.store.models import Job, JobState, utcnow

# 0 for the jobs someone waits for, 1 for those that wait for them (see contracts.AFTER_OTHERS)
_TURN = case((Job.kind.in_(sorted(AFTER_OTHERS)), 1), else_=0)


class Bell:
    """Rings, in this process, when a transaction that queued a job commits: workers' claims
    waiting for work (the worker API's long poll) listen to it instead of asking the database
    over and over. Another process's jobs are not heard: the waiting claims also look now and then."""

    def __init__(self):
        self._lock = threading.Lock()
        self._listeners: set[Callable[[], None]] = set()

    def listen(self, listener: Callable[[], None]) -> None:
        """``listener`` is called from the committing thread: it must be quick and thread-safe."""
        with self._lock:
            self._listeners.add(listener)

    def forget(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def ring(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()


QUEUED = Bell()
_RINGS = "sabaq.jobs.queued"  # a session's info key: it queued a job, to be told at its commit


@event.listens_for(Session, "after_commit")
def _ring_when_stored(db: Session) -> None:
    # after the commit, not at the INSERT: a claim woken earlier would not see the job yet
    if db.info.pop(_RINGS, False):
        QUEUED.ring()


@event.listens_for(Session, "after_rollback")
def _nothing_was_stored(db: Session) -> None:
    db.info.pop(_RINGS, None)


def enqueue(db: Session, kind: str, key: str, payload: dict, reset: bool = False) -> Job:
    """Add a job once per key; with reset, queue an existing one again (regrading). Claims
    waiting in this process hear of it when the transaction commits (``QUEUED``)."""
    return enqueue_all(db, [(kind, key, payload)], reset=reset)[0]


def enqueue_all(db: Session, wanted: list[tuple[str, str, dict]], reset: bool = False) -> list[Job]:
    """``enqueue`` for several (kind, key, payload), in order: the existing ones read in one
    statement (a new submission queues its check and its grading together)."""
    existing = {job.key: job for job in db.scalars(select(Job).where(Job.key.in_([key for _, key, _ in wanted])))}
    now = utcnow()
    new = {key: dict(kind=kind, key=key, payload=payload, state=JobState.queued, attempts=0, available_at=now,
                     lease_until=None, worker="", result=None, error="", created_at=now, finished_at=None)
           for kind, key, payload in wanted if key not in existing}
    if new:  # INSERTed as rows (database.inserted), in the order wanted
        existing.update((job.key, job) for job in inserted(db, Job, list(new.values())))
        db.info[_RINGS] = True
    out = []
    for kind, key, payload in wanted:
        job = existing[key]
        if reset and key not in new:
            db.info[_RINGS] = True
            job.payload = payload
            job.state = JobState.queued
            job.attempts = 0
            job.available_at = utcnow()
            job.lease_until = None
            job.error = ""
            job.result = None
        out.append(job)
    db.flush()
    return out


def _expire_exhausted(db: Session, now: dt.datetime, max_attempts: int) -> None:
    """Jobs whose last lease lapsed and that have no tries left are failed."""
    db.execute(
        update(Job)
        .where(
            Job.state == JobState.running,
            Job.lease_until < now,
            Job.attempts >= max_attempts,
        )
        .values(
            state=JobState.failed,
            error="the worker stopped before finishing (lease expired) on every try",
            finished_at=now,
            lease_until=None,
        )
    )


def _claimable(now: dt.datetime):
    return or_(
        and_(Job.state == JobState.queued, Job.available_at <= now),
        and_(Job.state == JobState.running, Job.lease_until < now),
    )


def anything_to_claim(db: Session, kinds: list[str] | None = None, now: dt.datetime | None = None) -> bool:
    """Whether a claim would find a job of ``kinds`` or a lapsed lease to settle. It only reads:
    asked first, it keeps idle workers' polls from queueing for SQLite's write lock beside a
    deadline's submissions."""
    now = now or utcnow()
    lapsed = and_(Job.state == JobState.running, Job.lease_until < now)
    available = _claimable(now) if not kinds else and_(_claimable(now), Job.kind.in_(kinds))
    return db.scalar(select(Job.id).where(or_(available, lapsed)).limit(1)) is not None


def _oldest(db: Session, now: dt.datetime, kinds: list[str] | None, limit: int):
    """The ids of the oldest ``limit`` available jobs (of ``kinds``), those of the kinds that
    wait for others (``AFTER_OTHERS``) after the rest; locked on PostgreSQL."""
    pick = select(Job.id).where(_claimable(now)).order_by(_TURN, Job.available_at, Job.id).limit(limit)
    if kinds:
        pick = pick.where(Job.kind.in_(kinds))
    if db.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    return pick


def _leased(worker: str, lease_seconds: int, now: dt.datetime) -> dict:
    return {"state": JobState.running, "worker": worker, "attempts": Job.attempts + 1,
            "lease_until": now + dt.timedelta(seconds=lease_seconds)}


def claim(
    db: Session,
    worker: str,
    lease_seconds: int,
    max_attempts: int,
    kinds: list[str] | None = None,
    now: dt.datetime | None = None,
) -> Job | None:
    """Take the oldest available job (one of ``AFTER_OTHERS`` only when no other waits), or None."""
    now = now or utcnow()
    _expire_exhausted(db, now, max_attempts)
    # the claimed row comes back with the UPDATE (RETURNING), not read again
    return db.scalars(
        update(Job)
        .where(Job.id == _oldest(db, now, kinds, 1).scalar_subquery(), _claimable(now))
        .values(**_leased(worker, lease_seconds, now))
        .returning(Job),
        execution_options=_RETURNED,
    ).first()


def claim_many(
    db: Session,
    worker: str,
    lease_seconds: int,
    max_attempts: int,
    kinds: list[str] | None = None,
    limit: int = 1,
    batched: Collection[str] | None = None,
    now: dt.datetime | None = None,
) -> list[Job]:
    """Up to ``limit`` available jobs, oldest first (as ``claim`` picks), all of the first one's kind (a worker
    grades several submissions in one run); only one if that kind is not in ``batched``
    (None: every kind is). Each gets a lease of its own, as ``claim`` gives one: it is
    completed, renewed, failed or handed out again by itself."""
    now = now or utcnow()
    first = claim(db, worker, lease_seconds, max_attempts, kinds, now)
    if first is None or limit <= 1 or (batched is not None and first.kind not in batched):
        return [first] if first is not None else []
    # the rest in two statements: the ids (locked on PostgreSQL, which may run a LIMIT inside
    # IN (...) more than once), then those still available; one taken meanwhile is left out
    ids = db.scalars(_oldest(db, now, [first.kind], limit - 1)).all()
    if not ids:
        return [first]
    taken = db.scalars(
        update(Job).where(Job.id.in_(ids), _claimable(now)).values(**_leased(worker, lease_seconds, now))
        .returning(Job),
        execution_options=_RETURNED,
    ).all()
    return [first, *sorted(taken, key=lambda job: (job.available_at, job.id))]


# an UPDATE's RETURNING rows replace what the session held of them
_RETURNED = {"populate_existing": True}


def _holding(db: Session, job_id: int, worker: str) -> Job | None:
    job = db.get(Job, job_id, with_for_update=True, populate_existing=True)
    if job is None or job.state != JobState.running or job.worker != worker:
        return None
    return job


def complete(db: Session, job_id: int, worker: str, result: dict) -> Job | None:
    """Record a result; None if this worker no longer holds the job."""
    return complete_all(db, worker, {job_id: result})[job_id]


def complete_all(db: Session, worker: str, results: dict[int, dict]) -> dict[int, Job | None]:
    """Record a batch's results ({job id: result}), the jobs read in one statement (locked on
    PostgreSQL) and written in one flush; None for a job this worker no longer holds."""
    if not results:
        return {}
    rows = db.scalars(select(Job).where(Job.id.in_(list(results))).with_for_update()
                      .execution_options(populate_existing=True))
    held = {job.id: job for job in rows if job.state == JobState.running and job.worker == worker}
    now = utcnow()
    for job_id, job in held.items():
        job.state = JobState.done
        job.result = results[job_id]
        job.error = ""
        job.lease_until = None
        job.finished_at = now
    db.flush()
    return {job_id: held.get(job_id) for job_id in results}


def renew(db: Session, job_id: int, worker: str, lease_seconds: int) -> Job | None:
    """Extend the lease of a job this worker still holds (a long grading run)."""
    job = _holding(db, job_id, worker)
    if job is None:
        return None
    job.lease_until = utcnow() + dt.timedelta(seconds=lease_seconds)
    db.flush()
    return job


def fail(
    db: Session, job_id: int, worker: str, error: str, max_attempts: int, retry_after: float = 5.0
) -> Job | None:
    """Give a job back after an error: retried later, or failed for good."""
    job = _holding(db, job_id, worker)
    if job is None:
        return None
    job.error = error[:5000]
    job.lease_until = None
    if job.attempts >= max_attempts:
        job.state = JobState.failed
        job.finished_at = utcnow()
    else:
        job.state = JobState.queued
        job.available_at = utcnow() + dt.timedelta(seconds=retry_after * job.attempts)
    db.flush()
    return job


def counts(db: Session) -> dict[str, int]:
    from sqlalchemy import func

    rows = db.execute(select(Job.state, func.count()).group_by(Job.state))
    return {state.value: n for state, n in rows}
