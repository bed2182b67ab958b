"""`sabaq status`: what `sabaq up` runs on a data directory, from its run folder (``rundir``),
and the grading queue, from the database (so it answers while the service is down)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from sqlalchemy import func, select

from sabaq.errors import SabaqError
from sabaq.hub.jupyterhub.rundir import RunDir
from sabaq.hub.store.database import make_engine, make_sessionmaker, session_scope
from sabaq.hub.store.models import Job, JobState
from sabaq.i18n import N_, terminal_text
from sabaq.processes import is_running
from sabaq.settings import Settings


def duration(seconds: float) -> str:
    """H:MM:SS (days added in front), words-free so it reads the same in every language."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    text = f"{rest // 3600}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d {text}" if days else text


@dataclass
class Queue:
    queued: int
    running: int
    oldest: dt.datetime | None  # created_at of the oldest queued job


def read_queue(settings: Settings) -> Queue:
    engine = make_engine(settings.database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as db:
            queued, oldest = db.execute(select(func.count(), func.min(Job.created_at))
                                        .where(Job.state == JobState.queued)).one()
            running = db.scalar(select(func.count()).where(Job.state == JobState.running))
    finally:
        engine.dispose()
    return Queue(queued, running, oldest)


def report(settings: Settings) -> tuple[list[str], bool]:
    """(lines to print, whether everything is up)."""
    run_dir = RunDir(settings.data_dir)
    try:
        running = run_dir.locked_by_other()
    except PermissionError:
        raise SabaqError(N_("sabaq status cannot read {folder}: run it as the user that runs sabaq up "
                            "(root, with system accounts)."), folder=run_dir.path) from None
    state = run_dir.read()
    if not running or state is None:
        return [terminal_text(N_("sabaq is not running on {folder}. Start it with `sabaq up`."),
                              folder=settings.data_dir)], False
    now = time.time()
    lines = [terminal_text(N_("sabaq is running on {folder}: process {pid}, up {uptime}."),
                           folder=settings.data_dir, pid=state.supervisor.pid,
                           uptime=duration(now - state.supervisor.since))]
    all_up = True
    for r in state.processes:
        if r.state == "running" and is_running(r.pid, r.started):
            lines.append("  " + terminal_text(N_("{name}: process {pid}, up {uptime}, restarts {restarts}"),
                                              name=r.name, pid=r.pid, uptime=duration(now - r.since),
                                              restarts=r.restarts))
        else:
            all_up = False
            lines.append("  " + terminal_text(N_("{name}: DOWN (last stop: {how}), restarts {restarts}"),
                                              name=r.name, how=r.last_exit or "?", restarts=r.restarts))
    try:
        queue = read_queue(settings)
    except Exception as e:  # the database is unreachable: say so, and count it as down
        lines.append(terminal_text(N_("The grading queue could not be read from the database: {error}"),
                                   error=str(e).splitlines()[0]))
        return lines, False
    if queue.queued:
        oldest = queue.oldest.replace(tzinfo=dt.timezone.utc) if queue.oldest.tzinfo is None else queue.oldest
        age = duration((dt.datetime.now(dt.timezone.utc) - oldest).total_seconds())
        lines.append(terminal_text(N_("Grading queue: {queued} waiting, the oldest for {age}; {running} being graded."),
                                   queued=queue.queued, age=age, running=queue.running))
    else:
        lines.append(terminal_text(N_("Grading queue: nothing waiting; {running} being graded."),
                                   running=queue.running))
    return lines, all_up
