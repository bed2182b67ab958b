"""Engine, sessions and migrations for sabaq's database (SQLite or PostgreSQL)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, event, insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker

from sabaq.hub.store.writeturn import TurnTakingConnection, WriteTurn, lock_path_for
from sabaq.timings import spent

MIGRATIONS = Path(__file__).parent / "migrations"


# Connections a process keeps open. The service lets at most POOL_SIZE requests use the
# database at once (sabaq.hub.service.limits.DatabaseSlots); the overflow is for what
# opens sessions of its own beside them (the health check, the sync with the hub).
# SQLite: writers wait their turn (writeturn) holding a session, so there are enough for the
# reads (a deadline's downloads and listings) to go on beside a queue of writers
SQLITE_POOL = {"pool_size": 8, "max_overflow": 8}
POSTGRES_POOL = {"pool_size": 10, "max_overflow": 20}


def make_engine(url: str) -> Engine:
    """An engine tuned for the backend: SQLite gets WAL, foreign keys, waits on locks and
    commits that are on disk when they return."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False,
                                                  "factory": TurnTakingConnection}, **SQLITE_POOL)
        turn = WriteTurn(lock_path_for(engine.url.database or ""))

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            dbapi_connection.write_turn = turn
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            # a commit is fsynced before it returns: an acknowledged submission survives a power cut
            # (SQLite's build default, said here so that it never depends on how it was built)
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()
            dbapi_connection.isolation_level = None  # we begin transactions ourselves, below

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn):
            # A transaction that reads and then writes cannot be upgraded once another
            # process has written meanwhile ("database is locked" at once, whatever the
            # busy timeout). Taking the write lock at BEGIN makes writers wait their turn.
            # A transaction begun by reading() only reads: it reads the last commit (WAL)
            # and waits for no one.
            # query_only makes a write there fail at once and always, not only when another
            # writer came between (a route that writes must not be served as a read).
            # The connection remembers its query_only (a PRAGMA only when it changes: a
            # deadline's requests read twice for each time they write).
            writer = conn.connection.dbapi_connection
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")
                if not writer.query_only:
                    conn.exec_driver_sql("PRAGMA query_only=1")
                    writer.query_only = True
            else:
                if writer.query_only:
                    conn.exec_driver_sql("PRAGMA query_only=0")
                    writer.query_only = False
                with spent("lock"):
                    writer.begin_writing()  # in turn (sabaq.hub.store.writeturn), then SQLite's lock
                    try:
                        conn.exec_driver_sql("BEGIN IMMEDIATE")
                    except BaseException:
                        writer.end_turn()
                        raise

        return engine
    return create_engine(url, pool_pre_ping=True, **POSTGRES_POOL)


READ_ONLY = "sabaq_read_only"


def reading(db: Session, *, every_transaction: bool = False) -> None:
    """Begin the session's next transaction (or, ``every_transaction``, each of them) as
    one that only reads. On SQLite it then does not queue for the write lock behind a
    deadline's submissions, and a write in it fails; end it (commit) before writing.
    Call it before the transaction's first statement; on PostgreSQL it changes nothing."""
    if every_transaction:
        db.execution_options = db.execution_options.union({READ_ONLY: True})
    elif not db.in_transaction():
        db.connection(execution_options={READ_ONLY: True})


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema up to date; safe to run on every start."""
    command.upgrade(alembic_config(url), revision)


@contextlib.contextmanager
def session_scope(factory: sessionmaker[Session]):
    """A session that commits on success and rolls back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_INSERTS: dict[type, object] = {}  # a model's INSERT ... RETURNING id, built once


def inserted(db: Session, model: type, rows: list[dict]) -> list:
    """New rows of ``model``'s table (each with every column but the id), INSERTed as rows in
    one statement whose ids come back, then in the session as the entities they are, as if
    read: the unit of work's flush of the same entities cost more CPU than the statement (on
    a deadline's path an upload made a submission, its files and two jobs). Nothing of them is
    pending afterwards; relationships are left unloaded for the caller to set or load."""
    if not rows:
        return []
    statement = _INSERTS.get(model)
    if statement is None:
        table = model.__table__
        statement = _INSERTS[model] = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    entities = []
    for row_id, row in zip(db.scalars(statement, rows).all(), rows, strict=True):
        entity = model(id=row_id, **row)
        make_transient_to_detached(entity)
        db.add(entity)
        entities.append(entity)
    return entities
