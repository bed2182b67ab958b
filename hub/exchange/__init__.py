"""nbgrader's pluggable exchange, implemented as an HTTP client of the sabaq service.

nbgrader's Assignments panel, formgrader and command line keep working
unchanged; instead of a shared directory that every user must be able to
write, files travel through the service's REST API with the server's own hub
token, so no filesystem is shared between users or pods. The service decides
who may do what; messages it returns are already in the user's language.

One module per nbgrader step, as in nbgrader's own ``nbgrader.exchange.default``;
users' Jupyter config names the classes as ``sabaq.hub.exchange.<Class>``.
"""

from __future__ import annotations

from nbgrader.exchange.abc.exchange import ExchangeError

from sabaq.hub.exchange.collect import SabaqCollect
from sabaq.hub.exchange.exchange import SabaqExchange
from sabaq.hub.exchange.fetch_assignment import SabaqFetchAssignment
from sabaq.hub.exchange.fetch_feedback import SabaqFetchFeedback
from sabaq.hub.exchange.list import SabaqList
from sabaq.hub.exchange.release_assignment import SabaqReleaseAssignment
from sabaq.hub.exchange.release_feedback import SabaqReleaseFeedback
from sabaq.hub.exchange.submit import SabaqSubmit

__all__ = [
    "ExchangeError", "SabaqExchange", "SabaqFetchAssignment", "SabaqSubmit", "SabaqList",
    "SabaqReleaseAssignment", "SabaqCollect", "SabaqReleaseFeedback", "SabaqFetchFeedback",
]
