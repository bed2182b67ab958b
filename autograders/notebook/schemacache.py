"""nbgrader's cell-metadata checks, without rebuilding a JSON Schema validator for every cell.

``jsonschema.validate(instance, schema)`` checks the schema and builds a new
validator on each call; nbgrader calls it for every graded cell, twice per
notebook, which was a tenth of the grading process's time. ``install()`` gives
nbgrader's metadata module a stand-in whose ``validate`` keeps one checked
validator per schema and raises exactly what ``jsonschema.validate`` raises
(the best-matching error), so scores and messages do not change.
"""

from __future__ import annotations

import json

import jsonschema
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for


class CachedJsonschema:
    """``jsonschema`` with a validator cache behind ``validate``; everything else passes through."""

    def __init__(self):
        self._validators: dict[str, object] = {}

    def validate(self, instance, schema, cls=None, *args, **kwargs):
        if args or kwargs:
            return jsonschema.validate(instance, schema, cls, *args, **kwargs)
        key = json.dumps(schema, sort_keys=True)  # nbgrader reloads the same schema for each validator object
        validator = self._validators.get(key)
        if validator is None:
            cls = cls or validator_for(schema)
            cls.check_schema(schema)
            validator = self._validators[key] = cls(schema)
        error = best_match(validator.iter_errors(instance))
        if error is not None:
            raise error

    def __getattr__(self, name):
        return getattr(jsonschema, name)


def install() -> None:
    from nbgrader.nbgraderformat import common

    if not isinstance(common.jsonschema, CachedJsonschema):
        common.jsonschema = CachedJsonschema()
