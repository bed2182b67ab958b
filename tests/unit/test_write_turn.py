"""Writers to SQLite take turns (sabaq.hub.store.writeturn): the next writer starts when the
last one's COMMIT or ROLLBACK has returned, in this process and across processes, and a turn
is never left taken."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from sabaq.hub.store.database import make_engine, make_sessionmaker
from sabaq.hub.store.writeturn import WriteTurn, lock_path_for


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "sabaq.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("create table log (who text)"))
    yield path, make_sessionmaker(engine)
    engine.dispose()


def test_a_second_writer_starts_only_after_the_first_has_committed(database):
    _, sessions = database
    order: list[str] = []
    first_wrote, second_asked = threading.Event(), threading.Event()

    def first():
        with sessions() as db:
            db.execute(text("insert into log values ('first')"))
            order.append("first wrote")
            first_wrote.set()
            second_asked.wait(10)
            order.append("first commits")
            db.commit()

    def second():
        first_wrote.wait(10)
        second_asked.set()
        with sessions() as db:
            db.execute(text("insert into log values ('second')"))  # waits for its turn here
            order.append("second wrote")
            db.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert order == ["first wrote", "first commits", "second wrote"]
    with sessions() as db:
        assert db.scalars(text("select who from log")).all() == ["first", "second"]


def test_a_failed_transaction_gives_its_turn_back(database):
    _, sessions = database
    with sessions() as db, pytest.raises(OperationalError, match="no such table"):
        db.execute(text("insert into log values ('x')"))
        db.execute(text("insert into nowhere values (1)"))
    done = []
    t = threading.Thread(target=lambda: done.append(_write(sessions, "after")))
    t.start()
    t.join(10)
    assert done == ["after"]


def _write(sessions, who: str) -> str:
    with sessions() as db:
        db.execute(text("insert into log values (:who)"), {"who": who})
        db.commit()
    return who


def test_another_process_waits_for_the_turn_and_says_database_is_locked_after_its_wait(database):
    path, sessions = database
    child = textwrap.dedent(f"""
        from sabaq.hub.store.writeturn import WriteTurn
        turn = WriteTurn({str(lock_path_for(str(path)))!r})
        try:
            turn.take(wait=0.3)
        except Exception as e:
            print(type(e).__name__, e)
        else:
            print("took it")
    """)
    with sessions() as db:
        db.execute(text("insert into log values ('holder')"))  # this process holds the turn
        held = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
        db.commit()
    free = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert held.stdout.strip() == "OperationalError database is locked", held.stderr
    assert free.stdout.strip() == "took it", free.stderr


def test_the_lock_file_lies_beside_the_database_readable_by_its_owner_only(database):
    path, sessions = database
    _write(sessions, "someone")
    lock = lock_path_for(str(path))
    assert lock == str(path) + "-writers.lock"
    assert stat.S_IMODE(os.stat(lock).st_mode) == 0o600


def test_a_write_waits_while_another_process_holds_the_turn(database):
    """The turn is taken before SQLite's lock: a writer in another process holding only the
    turn keeps this process's write waiting until it gives the turn back."""
    path, sessions = database
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        from sabaq.hub.store.writeturn import WriteTurn
        turn = WriteTurn({str(lock_path_for(str(path)))!r})
        turn.take()
        print("holding", flush=True)
        sys.stdin.readline()
        turn.give_back()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        writer = threading.Thread(target=_write, args=(sessions, "waited"))
        writer.start()
        writer.join(1.0)
        assert writer.is_alive()  # still waiting for its turn
        holder.stdin.write("go\n")
        holder.stdin.flush()
        writer.join(30)
        assert not writer.is_alive()
    finally:
        holder.kill()
        holder.wait()
    with sessions() as db:
        assert db.scalars(text("select who from log")).all() == ["waited"]


def test_a_database_in_memory_takes_turns_within_the_process():
    assert lock_path_for(":memory:") is None and lock_path_for("") is None
    turn = WriteTurn(None)
    turn.take()
    seen = []
    other = threading.Thread(target=lambda: seen.append(_try(turn)))
    other.start()
    other.join(10)
    turn.give_back()
    assert isinstance(seen[0], sqlite3.OperationalError) and "database is locked" in str(seen[0])


def _try(turn: WriteTurn):
    try:
        turn.take(wait=0.1)
    except sqlite3.OperationalError as e:
        return e
    turn.give_back()
    return AssertionError("the turn was taken twice")


def _longest_run_while_both_wait(order: list[str]) -> int:
    """The most turns in a row one process took while the other, already writing (its first
    turn taken: a process may start later), still had turns to take."""
    left = {who: order.count(who) for who in set(order)}
    seen: set[str] = set()
    longest = run = 0
    previous = None
    for who in order:
        run = run + 1 if who == previous else 1
        if who != previous and len(seen) < 2:
            run = 1
        previous = who
        seen.add(who)
        left[who] -= 1
        if len(seen) == 2 and all(left.values()):
            longest = max(longest, run)
    return longest


def test_two_busy_processes_take_turns_in_turn(database):
    """Two processes, each with three threads writing one after another (as the service's two
    processes at a deadline): the turn goes to the other process whenever it waits. Before (the
    handover off: writeturn.YIELD_SECONDS = 0), the process holding the turn kept it for its own
    threads, 18 to 23 turns in a row in runs here, though not in every run on a busy machine,
    which is why that is not asserted too."""
    path, _sessions = database
    child = textwrap.dedent(f"""
        import sys, threading, time
        from sqlalchemy import text
        from sabaq.hub.store.database import make_engine, make_sessionmaker
        sessions = make_sessionmaker(make_engine({f"sqlite:///{path}"!r}))
        with sessions() as db:
            db.execute(text("select 1"))  # connected, imports done
        print("ready", flush=True)
        sys.stdin.readline()  # both start together

        def writer():
            for _ in range(10):
                with sessions() as db:
                    db.execute(text("insert into log values (:who)"), {{"who": sys.argv[1]}})
                    time.sleep(0.003)  # a submission's statements
                    db.commit()

        threads = [threading.Thread(target=writer) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    """)
    children = [subprocess.Popen([sys.executable, "-c", child, who], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True) for who in ("a", "b")]
    try:
        assert [c.stdout.readline().strip() for c in children] == ["ready", "ready"]
        for c in children:
            c.stdin.write("go\n")
            c.stdin.flush()
        assert [c.wait(timeout=120) for c in children] == [0, 0]
    finally:
        for c in children:
            c.kill()
    with sqlite3.connect(path) as db:
        order = [who for (who,) in db.execute("select who from log order by rowid")]
    assert sorted(set(order)) == ["a", "b"] and len(order) == 60
    assert _longest_run_while_both_wait(order) <= 4, order
