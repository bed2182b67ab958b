"""nbgrader's cell-metadata check with sabaq's validator cache raises what jsonschema raises,
for the first and every later look at the same value, and tells apart values that only look
alike (1, 1.0, True; a tuple is not a JSON array)."""

import jsonschema
import pytest

from sabaq.autograders.notebook.schemacache import CachedJsonschema, NotPlainJson, exact_key

SCHEMA = {"type": "object", "properties": {"points": {"type": "number"}, "grade": {"type": "boolean"},
                                             "ids": {"type": "array"}},
          "required": ["grade"]}


def _outcome(validate, instance):
    try:
        validate(instance, SCHEMA)
    except jsonschema.ValidationError as e:
        return e.message
    return "valid"


@pytest.mark.parametrize("instance", [
    {"grade": True, "points": 1}, {"grade": 1, "points": 1}, {"grade": True, "points": "1"},
    {"points": 2.0}, {"grade": False, "ids": [1, 2]}, {"grade": False, "ids": (1, 2)},
])
def test_every_look_gives_jsonschemas_answer(instance):
    cached = CachedJsonschema()
    expected = _outcome(jsonschema.validate, instance)
    assert [_outcome(cached.validate, instance) for _ in range(3)] == [expected] * 3


def test_a_value_found_valid_is_not_checked_again_but_a_lookalike_is():
    cached = CachedJsonschema()
    cached.validate({"grade": True}, SCHEMA)
    assert len(cached._valid) == 1
    cached.validate({"grade": True}, dict(SCHEMA))  # the same schema, reloaded: same entry
    assert len(cached._valid) == 1
    with pytest.raises(jsonschema.ValidationError):
        cached.validate({"grade": 1}, SCHEMA)  # equal to True in Python, not to jsonschema
    assert exact_key(1) != exact_key(1.0) != exact_key(True)
    with pytest.raises(NotPlainJson):
        exact_key({"ids": (1, 2)})
