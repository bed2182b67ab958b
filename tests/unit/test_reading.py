"""Transactions that only read do not queue for SQLite's write lock (issue 19).

Every request first asks who its caller is; on SQLite each transaction took the write lock
at BEGIN, so at a deadline every such question waited behind the crowd's submissions.
A transaction begun with ``reading`` reads the last commit and waits for no one; the
others still take the lock at BEGIN (a read-then-write must never fail half-way)."""

from __future__ import annotations

import asyncio

import httpx
from service_app import USER_HEADER, Site
from sqlalchemy import event, select, text

from sabaq.hub.service.app import PREFIX
from sabaq.hub.store.database import make_engine, make_sessionmaker, reading, upgrade
from sabaq.hub.store.models import User


def sessions_on(tmp_path):
    url = f"sqlite:///{tmp_path / 'sabaq.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    return engine, factory


def hold_the_write_lock(factory):
    """A writer in the middle of its transaction (a submission being stored)."""
    writer = factory()
    writer.add(User(name="writer", full_name="W"))
    writer.flush()
    return writer


def test_a_reader_reads_the_last_commit_while_a_writer_holds_the_lock(tmp_path):
    engine, factory = sessions_on(tmp_path)
    with factory() as db:
        db.add(User(name="aliya", full_name="Aliya"))
        db.commit()
    writer = hold_the_write_lock(factory)
    try:
        reader = factory()
        reading(reader)
        assert reader.scalars(select(User.name)).all() == ["aliya"]  # not the writer's uncommitted row
        reader.commit()
        reader.close()
    finally:
        writer.rollback()
        writer.close()
        engine.dispose()


def test_any_other_transaction_still_takes_the_lock_at_begin(tmp_path):
    engine, factory = sessions_on(tmp_path)
    begun = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *a: statement.startswith("BEGIN") and begun.append(statement))
    try:
        for only_reads in (False, True, False):
            with factory() as db:
                if only_reads:
                    reading(db)
                db.scalar(select(User.id))
                db.commit()
                db.scalar(select(User.id))  # the next transaction of the same session: a writer's again
                db.commit()
        assert begun == ["BEGIN IMMEDIATE", "BEGIN IMMEDIATE", "BEGIN", "BEGIN IMMEDIATE",
                         "BEGIN IMMEDIATE", "BEGIN IMMEDIATE"]
    finally:
        engine.dispose()


def test_the_services_question_who_is_calling_does_not_wait_for_a_writer(tmp_path):
    site = Site(tmp_path)
    site.seed()
    writer = hold_the_write_lock(site.sessions)
    try:
        async def who():
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=site.app), base_url="http://sabaq") as c:
                return await asyncio.wait_for(c.get(PREFIX + "/api/v1/courses/alg8/assignments/hw1/not-a-thing",
                                                    headers={USER_HEADER: "aliya"}), 20)
        # the caller is known (reading), then the route's own transaction would wait: a 404 of
        # the router comes before it, so the request ends without ever taking the lock
        assert asyncio.run(who()).status_code == 404
    finally:
        writer.rollback()
        writer.close()
        site.app.state.engine.dispose()


def test_a_new_caller_is_still_given_an_account(tmp_path):
    site = Site(tmp_path)
    site.seed()
    r = site.call("GET", "/api/v1/me", user="newcomer")
    assert r.status_code == 200 and r.json()["name"] == "newcomer"
    with site.sessions() as db:
        assert db.scalar(select(User).where(User.name == "newcomer")) is not None
        assert db.execute(text("select count(*) from users where name='newcomer'")).scalar() == 1
    site.app.state.engine.dispose()


def begins_of(site: Site, method: str, path: str, **kwargs) -> tuple[int, list[str]]:
    """(status, the BEGINs of the request's transactions)."""
    seen: list[str] = []

    def note(conn, cursor, statement, *args):
        if statement.startswith("BEGIN"):
            seen.append(statement)

    event.listen(site.app.state.engine, "before_cursor_execute", note)
    try:
        r = site.call(method, path, user="aliya", **kwargs)
    finally:
        event.remove(site.app.state.engine, "before_cursor_execute", note)
    return r.status_code, seen


def test_a_reading_request_never_takes_the_lock_and_a_submission_only_to_store(tmp_path):
    from service_app import notebook

    site = Site(tmp_path)
    site.seed()
    try:
        for path in ("/api/v1/me", "/api/v1/courses", "/api/v1/courses/alg8/assignments/hw1",
                     "/api/v1/courses/alg8/assignments/hw1/download"):
            status, begins = begins_of(site, "GET", path)
            assert status == 200 and begins and set(begins) == {"BEGIN"}, (path, begins)
        status, begins = begins_of(site, "POST", "/api/v1/courses/alg8/assignments/hw1/submissions",
                                   files=[("files", ("hw.ipynb", notebook(), "application/x-ipynb+json"))])
        assert status == 201 and begins.count("BEGIN IMMEDIATE") == 1, begins
    finally:
        site.app.state.engine.dispose()


def test_a_language_chosen_on_a_page_is_remembered_though_the_page_only_reads(tmp_path):
    site = Site(tmp_path)
    site.seed()
    try:
        for lang in ("kk", "en"):
            r = site.call("GET", f"/courses/alg8?lang={lang}", user="teacher", page=True)
            assert r.status_code == 200, r.text[:300]
            with site.sessions() as db:
                assert db.scalar(select(User.language).where(User.name == "teacher")) == lang
    finally:
        site.app.state.engine.dispose()


def test_a_connection_sets_query_only_only_when_it_changes_and_a_reading_write_still_fails(tmp_path):
    """A deadline's requests read twice for each time they write: the PRAGMA is sent when a
    connection's query_only changes, not at every transaction, and stays what keeps a write
    out of a reading transaction."""
    from sqlalchemy.exc import OperationalError

    engine, factory = sessions_on(tmp_path)
    pragmas = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *a: statement.startswith("PRAGMA query_only") and pragmas.append(
                     (id(conn.connection.dbapi_connection), statement)))
    try:
        with factory() as db:
            for only_reads in (True, True, False, False, True):
                if only_reads:
                    reading(db)
                db.scalar(select(User.id))
                db.commit()
        assert [statement for _, statement in pragmas] == [
            "PRAGMA query_only=1", "PRAGMA query_only=0", "PRAGMA query_only=1"]
        assert len({conn for conn, _ in pragmas}) == 1  # one connection served them all
        with factory() as db:  # the same connection, left query_only by the last reading transaction
            reading(db)
            db.add(User(name="sneaky", full_name="S"))
            try:
                db.flush()
                raise AssertionError("a write in a reading transaction was let through")
            except OperationalError as e:
                assert "readonly" in str(e)
            db.rollback()
        with factory() as db:  # and a writer's transaction on it writes
            db.add(User(name="fine", full_name="F"))
            db.commit()
            assert db.scalar(select(User.name).where(User.name == "fine")) == "fine"
    finally:
        engine.dispose()
