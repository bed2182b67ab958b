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
