"""nbgrader's cell-metadata checks, without rebuilding a JSON Schema validator for every cell.

``jsonschema.validate(instance, schema)`` checks the schema and builds a new
validator on each call; nbgrader calls it for every graded cell, twice per
notebook, which was a tenth of the grading process's time. ``install()`` gives
nbgrader's metadata module a stand-in whose ``validate`` keeps one checked
validator per schema and raises exactly what ``jsonschema.validate`` raises
(the best-matching error), so scores and messages do not change.

Every student's copy of a cell carries the same nbgrader metadata, so a metadata found valid
is remembered (by its exact value, types included) and not checked again; what fails is
checked every time, so its error is raised fresh.
"""

from __future__ import annotations

import json

import jsonschema
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for


REMEMBERED = 4096  # valid metadata values kept (a worker's cache must not grow without end)


class NotPlainJson(Exception):
    """A value with other types than JSON's: checked every time, never remembered."""


def exact_key(value):
    """A hashable key equal for two values only if jsonschema sees them alike: JSON's own
    types, kept apart (1, 1.0 and True are three keys)."""
    kind = type(value)
    if kind in (str, int, float, bool) or value is None:
        return kind.__name__, value
    if isinstance(value, dict) and all(type(k) is str for k in value):
        return "object", tuple(sorted((k, exact_key(v)) for k, v in value.items()))
    if kind is list:
        return "array", tuple(exact_key(v) for v in value)
    raise NotPlainJson


class CachedJsonschema:
    """``jsonschema`` with a validator cache behind ``validate``; everything else passes through."""

    def __init__(self):
        self._validators: dict[str, object] = {}
        self._schema_keys: dict[int, tuple[object, str]] = {}  # id(schema) -> (schema, its key)
        self._valid: set[tuple[str, object]] = set()

    def _schema_key(self, schema) -> str:
        """nbgrader reloads the same schema for each validator object: known by content."""
        known = self._schema_keys.get(id(schema))
        if known is None or known[0] is not schema:
            if len(self._schema_keys) > 256:
                self._schema_keys.clear()
            known = self._schema_keys[id(schema)] = (schema, json.dumps(schema, sort_keys=True))
        return known[1]

    def validate(self, instance, schema, cls=None, *args, **kwargs):
        if args or kwargs:
            return jsonschema.validate(instance, schema, cls, *args, **kwargs)
        key = self._schema_key(schema)
        try:
            remembered = (key, exact_key(instance))
        except NotPlainJson:
            remembered = None
        if remembered is not None and remembered in self._valid:
            return
        validator = self._validators.get(key)
        if validator is None:
            cls = cls or validator_for(schema)
            cls.check_schema(schema)
            validator = self._validators[key] = cls(schema)
        error = best_match(validator.iter_errors(instance))
        if error is not None:
            raise error
        if remembered is not None:
            if len(self._valid) >= REMEMBERED:
                self._valid.clear()
            self._valid.add(remembered)

    def __getattr__(self, name):
        return getattr(jsonschema, name)


def install() -> None:
    from nbgrader.nbgraderformat import common

    if not isinstance(common.jsonschema, CachedJsonschema):
        common.jsonschema = CachedJsonschema()
