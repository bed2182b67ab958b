"""Grading workers are separate processes (replicas on Kubernetes): a claim must hold
across processes, on SQLite and PostgreSQL (four spawned processes: a few seconds)."""

from __future__ import annotations

from sqlalchemy import func, select

from sabaq.hub.store import jobs
from sabaq.hub.store.models import Job, JobState


def _claim_in_a_process(url: str, name: str, queue) -> None:
    """A separate worker process taking jobs until none is left."""
    from sabaq.hub.store import jobs as jobs_module
    from sabaq.hub.store.database import make_engine, make_sessionmaker

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    taken = []
    while True:
        with sessions() as db:
            job = jobs_module.claim(db, name, 60, 3)
            if job is None:
                db.commit()
                break
            jobs_module.complete(db, job.id, name, {"by": name})
            db.commit()
            taken.append(job.id)
    engine.dispose()
    queue.put(taken)


def test_worker_processes_share_the_queue_without_duplicates(db_url, sessions):
    """Replicas of the workers are separate processes: claims must hold across them."""
    import multiprocessing

    with sessions() as db:
        for i in range(60):
            jobs.enqueue(db, "check", f"p-{i}", {})
        db.commit()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_claim_in_a_process, args=(db_url, f"w{i}", queue)) for i in range(4)]
    for p in procs:
        p.start()
    taken = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    flat = [j for t in taken for j in t]
    assert sorted(flat) == sorted(set(flat)) and len(flat) == 60
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Job).where(Job.state == JobState.done)) == 60
