"""Shared fixtures: databases (SQLite and, when available, a real PostgreSQL)."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from sabaq.hub.store.database import make_engine, make_sessionmaker, upgrade

PG_URL = os.environ.get("SABAQ_TEST_POSTGRES_URL", "")
REQUIRE_PG = os.environ.get("SABAQ_REQUIRE_POSTGRES") == "1"


# The slowest test files, slowest first (from CI's durations): scripts/test.sh hands files to its
# two processes in collection order (--no-loadscope-reorder; xdist's own order, most tests first,
# left these few-test files for the end, where one of them ran on while the other process idled).
SLOWEST_FIRST = (
    "test_olympiad_tasks.py", "test_grading_parity.py", "test_gradebook_e2e.py", "test_fault_injection.py",
    "test_warm_start.py", "test_olympiad_interactive.py", "test_lifecycle.py", "test_lessons_phone.py",
    "test_assignment_cache.py", "test_grading_sandbox.py", "test_bench_deadline.py", "test_judge_isolation.py",
    "test_grading_cli.py", "test_api_fuzz.py", "test_e2e.py", "test_server_origins.py", "test_hostile_grading.py",
)


def pytest_collection_modifyitems(session, config, items):
    """Files in the order their time asks: the slowest end-to-end files, the other end-to-end files,
    then the quick tier, which fills the gaps at the end; tests keep their order within a file."""
    def rank(item) -> tuple[int, int]:
        path = item.path
        if path.name in SLOWEST_FIRST:
            return 0, SLOWEST_FIRST.index(path.name)
        return (2 if path.parent.name == "unit" else 1), 0

    items[:] = [item for _, item in sorted(enumerate(items), key=lambda pair: (rank(pair[1]), pair[0]))]


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes():
    """Password hashes in the test process at argon2's cheapest (argon2.profiles.CHEAPEST): the
    service's own (64 MiB, three passes, four lanes) cost 0.1-0.5 s a hash on two busy cores, and
    the quick tier makes and checks hundreds (each test's school of accounts, each login); no test
    depends on a hash's cost or reads its parameters. The stacks' services, hubs and command
    lines are processes of their own and keep the service's hasher."""
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    from sabaq.hub.domain import accounts

    service_hasher = accounts._hasher
    accounts._hasher = PasswordHasher.from_parameters(CHEAPEST)
    yield
    accounts._hasher = service_hasher


@pytest.fixture(scope="session", autouse=True)
def migrated_once(tmp_path_factory):
    """A new SQLite file brought to the head revision is a copy of one this process migrated
    (alembic, every migration) the first time it was asked: the quick tier asks for hundreds of
    fresh databases (each db_url, each test's service), and each migration run cost 0.5-1 s here.
    The copy is the same file the migrations make; anything else (an existing file, another
    revision, PostgreSQL, a URL with options) runs alembic as before, and so does every process
    the tests start (sabaq up, a service)."""
    import shutil
    import sqlite3

    from alembic import command

    from sabaq.hub.store.database import alembic_config

    run_migrations = command.upgrade
    template = tmp_path_factory.mktemp("migrated") / "head.sqlite"

    def upgrade_or_copy(config, revision, *args, **kwargs):
        url = config.get_main_option("sqlalchemy.url").replace("%%", "%")
        path = Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") and "?" not in url else None
        fresh = path is not None and path.parent.is_dir() and (not path.exists() or path.stat().st_size == 0)
        if revision != "head" or args or kwargs or config.attributes or not fresh:
            return run_migrations(config, revision, *args, **kwargs)
        if not template.exists():
            run_migrations(alembic_config(f"sqlite:///{template}"), "head")
            with contextlib.closing(sqlite3.connect(template)) as conn:  # all of it in the file itself
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copyfile(template, path)

    command.upgrade = upgrade_or_copy
    yield
    command.upgrade = run_migrations


def _fresh_postgres(template: str | None = None) -> str:
    """A new empty database on the test server (or a copy of the database `template`); its URL."""
    name = f"sabaq_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    admin.dispose()
    base, _, query = PG_URL.partition("?")
    root = base.rsplit("/", 1)[0]
    return f"{root}/{name}" + (f"?{query}" if query else "")


def _drop_postgres(url: str) -> None:
    name = url.partition("?")[0].rsplit("/", 1)[1]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def database_url(kind: str, tmp_path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'sabaq.sqlite'}"
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("SABAQ_TEST_POSTGRES_URL is not set but PostgreSQL tests are required")
        pytest.skip("no PostgreSQL (set SABAQ_TEST_POSTGRES_URL; scripts/test.sh does)")
    return _fresh_postgres()


@pytest.fixture(scope="session")
def migrated_postgres():
    """The name of a PostgreSQL database the migrations brought to head once per test process:
    db_url's are copies of it (CREATE DATABASE ... TEMPLATE), the same schema without an alembic
    run (about a second) for each."""
    url = _fresh_postgres()
    upgrade(url)  # alembic's engine keeps no connection (NullPool): the database can be copied
    yield url.partition("?")[0].rsplit("/", 1)[1]
    _drop_postgres(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A migrated, empty sabaq database on each backend."""
    if request.param == "postgresql":
        if not PG_URL:
            database_url("postgresql", tmp_path)  # skips, or fails where PostgreSQL is required
        url = _fresh_postgres(template=request.getfixturevalue("migrated_postgres"))
    else:
        url = database_url(request.param, tmp_path)
        upgrade(url)
    yield url
    if request.param == "postgresql":
        _drop_postgres(url)


@pytest.fixture
def sessions(db_url):
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def db(sessions):
    session = sessions()
    yield session
    session.rollback()
    session.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The stack shared by the end-to-end and browser tests."""
    from stack import running_stack

    with running_stack(tmp_path_factory.mktemp("stack") / "data") as s:
        yield s


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium from Debian, through Playwright (never `playwright install`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-dev-shm-usage",
        ])
        yield b
        b.close()
