"""The hub's kinds of error people see (see ``sabaq.errors``): not found, forbidden ..."""

from __future__ import annotations

from sabaq.errors import Msg, SabaqError  # noqa: F401 - the hub's modules import them from here


class NotFound(SabaqError):
    status = 404
    code = "not_found"


class Forbidden(SabaqError):
    status = 403
    code = "forbidden"


class Unauthorized(SabaqError):
    status = 401
    code = "unauthorized"


class Conflict(SabaqError):
    status = 409
    code = "conflict"


class TooLarge(SabaqError):
    status = 413
    code = "too_large"


class Invalid(SabaqError):
    status = 422
    code = "invalid"
