"""What people type: one reading of numbers for pages and API alike (forms.py)."""

from __future__ import annotations

import math

import pytest
from pydantic import BaseModel

from sabaq.errors import Invalid
from sabaq.hub.service import forms


@pytest.mark.parametrize("typed, kind, read", [
    ("2,5", forms.SCORE, 2.5),  # the decimal comma of kk and ru
    ("2.5", forms.SCORE, 2.5),
    (" 3 ", forms.SCORE, 3.0),
    (",5", forms.NUMBER, 0.5),
    ("+4", forms.WHOLE, 4),
    ("100", forms.PERCENT, 100.0),  # bounds are inclusive
    ("0", forms.PERCENT, 0.0),
    (7, forms.MINUTES, 7),  # JSON numbers
    (2.0, forms.MINUTES, 2),
    (1.25, forms.WEIGHT, 1.25),
])
def test_numbers_people_type_are_read(typed, kind, read):
    value = forms.number(typed, kind)
    assert value == read and type(value) is type(read)


@pytest.mark.parametrize("typed", ["abc", "nan", "NaN", "inf", "-Infinity", "1e3", "1_000", "1,000.5", "2,5,1",
                                   float("nan"), float("inf"), 10 ** 400, True])
def test_what_is_not_a_number_is_refused_in_the_readers_language(typed):
    with pytest.raises(Invalid) as err:
        forms.number(typed, forms.SCORE)
    assert err.value.status == 422
    assert err.value.translated("en").endswith("' is not a number.")
    assert err.value.translated("ru") != err.value.translated("en")
    assert err.value.translated("kk") != err.value.translated("en")


@pytest.mark.parametrize("typed, kind, allowed", [
    ("101", forms.PERCENT, "a number from 0 to 100"),
    ("-1", forms.SCORE, "a number of at least 0"),
    ("2,5", forms.MINUTES, "a whole number from 0 to 527040"),
    ("1441", forms.DAY_MINUTES, "a whole number from 0 to 1440"),
    ("0", forms.PAGE, "a whole number from 1 to 100000"),
    ("100000000000000000000000000000", forms.PAGE, "a whole number from 1 to 100000"),
])
def test_a_number_out_of_its_fields_range_says_what_to_write(typed, kind, allowed):
    with pytest.raises(Invalid) as err:
        forms.number(typed, kind)
    assert err.value.translated("en") == f"'{typed}' cannot be used here: write {allowed}."
    ru = err.value.translated("ru")
    assert typed in ru and "cannot be used" not in ru and allowed not in ru


def test_blank_is_the_default_or_refused():
    assert forms.number("", forms.SCORE, default=None) is None
    assert forms.number("  ", forms.MINUTES, default=0) == 0
    assert forms.number(None, forms.PERCENT, default=0.0) == 0.0
    with pytest.raises(Invalid) as err:
        forms.number("", forms.SCORE)
    assert err.value.translated("en") == "The number is missing: write a number of at least 0."
    assert "The number is missing" not in err.value.translated("kk")


def test_a_long_entry_is_shortened_in_the_message():
    with pytest.raises(Invalid) as err:
        forms.number("x" * 500)
    assert len(err.value.translated("en")) < 80


class Settings(BaseModel):
    percent: forms.field(forms.PERCENT) | None = None
    minutes: forms.field(forms.MINUTES) | None = None
    weights: dict[str, forms.field(forms.WEIGHT)] | None = None


def test_api_fields_read_the_same_way():
    body = Settings.model_validate({"percent": "2,5", "minutes": 30, "weights": {"formative": "1,5"}})
    assert (body.percent, body.minutes, body.weights) == (2.5, 30, {"formative": 1.5})
    assert Settings.model_validate({"percent": None}).percent is None
    for wrong in ({"percent": 150}, {"percent": "NaN"}, {"minutes": 1.5}, {"weights": {"x": -1}}):
        with pytest.raises(Invalid):  # the pages' own error, not pydantic's
            Settings.model_validate(wrong)


def test_api_fields_show_their_bounds():
    schema = Settings.model_json_schema()["properties"]
    assert {"type": "number", "minimum": 0, "maximum": 100} in schema["percent"]["anyOf"]
    assert {"type": "integer", "minimum": 0, "maximum": 527040} in schema["minutes"]["anyOf"]


def test_no_kind_lets_nan_through():
    for kind in (forms.NUMBER, forms.WHOLE, forms.SCORE, forms.WEIGHT, forms.PERCENT, forms.HOURS, forms.MINUTES,
                 forms.DAY_MINUTES, forms.PAGE):
        for typed in ("nan", math.nan, math.inf, -math.inf):
            with pytest.raises(Invalid):
                forms.number(typed, kind)
