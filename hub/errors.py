"""Errors people see: an HTTP status, a stable code and a translatable message.

The message is an English msgid with ``{name}`` placeholders; whoever shows it
(the API, a web page, the CLI, the exchange plugin) translates it into the
reader's language. Messages say what went wrong and what to do.
"""

from __future__ import annotations

from sabaq.i18n import translator


class SabaqError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, status: int | None = None, code: str | None = None, **params):
        super().__init__(message)
        self.message = message
        self.params = params
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def translated(self, lang: str | None) -> str:
        _ = translator(lang)
        params = {k: (_(v) if isinstance(v, Msg) else v.translated(lang) if isinstance(v, SabaqError) else v)
                  for k, v in self.params.items()}  # an error given as the reason of another is translated too
        return _(self.message).format(**params)

    def __str__(self) -> str:
        return self.translated("en")


class Msg(str):
    """A parameter that is itself a msgid and is translated with the message."""


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
