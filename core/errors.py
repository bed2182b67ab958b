"""Errors people see: an HTTP status, a stable code and a translatable message.

The message is an English msgid with ``{name}`` placeholders; whoever shows it
(the API, a web page, the CLI, the exchange plugin) translates it into the
reader's language. Messages say what went wrong and what to do. The grading
engine, the olympiad tools and the settings raise them too, and the service's
kinds below (not found, forbidden ...) carry their HTTP status.
"""

from __future__ import annotations

import string

from sabaq.i18n import translator


class SabaqError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, status: int | None = None, code: str | None = None, **params):
        taken = {"status", "code"} & {name for _, name, _, _ in string.Formatter().parse(message) if name}
        if taken:  # they would be read as this error's HTTP status and code, not as the message's values
            raise TypeError(f"name the message's placeholders other than {', '.join(sorted(taken))}: {message!r}")
        super().__init__(message)
        self.message = message
        self.params = params
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def translated(self, lang: str | None) -> str:
        return _render(self.message, self.params, lang)

    def __str__(self) -> str:
        return self.translated("en")


class Msg(str):
    """A parameter that is itself a msgid and is translated with the message."""


class Phrase:
    """A parameter that is a msgid with values of its own ("a whole number from {low} to {high}")."""

    def __init__(self, message: str, **params):
        self.message = message
        self.params = params

    def translated(self, lang: str | None) -> str:
        return _render(self.message, self.params, lang)

    def __str__(self) -> str:
        return self.translated("en")


def _render(message: str, params: dict, lang: str | None) -> str:
    """The message in `lang`; parameters that are msgids, phrases or errors (the reason of
    another error) are translated too."""
    _ = translator(lang)
    values = {k: (_(v) if isinstance(v, Msg) else v.translated(lang) if isinstance(v, (Phrase, SabaqError)) else v)
              for k, v in params.items()}
    return _(message).format(**values)


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


class TooMany(SabaqError):
    status = 429
    code = "too_many"


class Invalid(SabaqError):
    status = 422
    code = "invalid"
