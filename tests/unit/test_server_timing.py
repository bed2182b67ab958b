"""Every answer of the service says how long the service itself took (``Server-Timing``)."""

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sabaq.hub.service.timing import ServerTiming, service_seconds


def test_an_answer_carries_the_services_own_time():
    import time

    def slow(_request):
        time.sleep(0.05)
        return PlainTextResponse("ok")

    app = ServerTiming(Starlette(routes=[Route("/slow", slow)]))
    r = TestClient(app).get("/slow")
    took = service_seconds(r.headers["server-timing"])
    assert took is not None and took >= 0.05


def test_the_header_is_read_back_and_other_metrics_are_ignored():
    assert service_seconds("db;dur=3, app;dur=12.5") == 0.0125
    assert service_seconds("db;dur=3") is None
    assert service_seconds(None) is None
    assert service_seconds("app;dur=x") is None


def test_the_waits_of_a_request_are_told_beside_its_time():
    from sabaq.timings import spent

    def waits(_request):
        with spent("lock"):
            pass
        with spent("lock"):
            pass
        return PlainTextResponse("ok")

    r = TestClient(ServerTiming(Starlette(routes=[Route("/w", waits)]))).get("/w")
    assert service_seconds(r.headers["server-timing"], "lock") is not None
    assert service_seconds(r.headers["server-timing"], "queue") is None  # nothing queued


def test_a_write_transaction_on_sqlite_tallies_its_wait_for_the_lock_and_a_read_does_not(tmp_path):
    from sqlalchemy import text

    from sabaq.hub.store.database import make_engine, make_sessionmaker, reading
    from sabaq.timings import start_tally

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    sessions = make_sessionmaker(engine)
    tally = start_tally()
    with sessions() as db:
        reading(db)
        db.execute(text("select 1"))
        db.commit()
    assert "lock" not in tally
    with sessions() as db:
        db.execute(text("create table t (x int)"))
        db.commit()
    assert tally["lock"] >= 0
    engine.dispose()
