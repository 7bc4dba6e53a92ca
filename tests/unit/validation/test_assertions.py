"""The assertion language: comparisons that never pass a NaN, JSON paths that tell missing from null."""

from __future__ import annotations

import math

import pytest

from codereflex.validation.assertions import comparison, json_path, remove_paths, text_assertion


def test_comparisons_parse_and_say_what_broke() -> None:
    bound = comparison("<= 500")
    assert (bound.op, bound.bound) == ("<=", 500.0)
    assert bound.holds(500) and not bound.holds(501)
    assert bound.broken() == "> 500"
    assert comparison(2.5) == comparison("<=2.5")  # a bare number is a ceiling
    with pytest.raises(ValueError, match="not a comparison"):
        comparison("fast")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("text", ["<= 500", "> 0", "!= 1", ">= -1"])
def test_a_non_finite_value_never_holds(text: str, value: float) -> None:
    # `NaN > 500` is False in Python: a "fail if above" written that way would pass a NaN.
    assert not comparison(text).holds(value)


def test_json_paths_tell_missing_from_null() -> None:
    document = {"a": {"b": [10, None]}, "c": None}
    assert json_path(document, "$.a.b[0]") == 10
    assert json_path(document, "$.a.b[1]") is None
    assert json_path(document, "$.c") is None
    missing = json_path(document, "$.d")
    assert missing is not None and missing is json_path(document, "$.a.b[5]")
    assert text_assertion({"jsonPath": "$.d", "equals": None}, '{"c": null}', "body") == "body $.d is missing"
    assert text_assertion({"jsonPath": "$.c", "equals": None}, '{"c": null}', "body") is None


def test_equality_is_json_equality() -> None:
    assert text_assertion({"jsonPath": "$.n", "equals": 1}, '{"n": 1.0}', "body") is None
    assert text_assertion({"jsonPath": "$.n", "equals": 1}, '{"n": true}', "body") == "body $.n is true, not 1"


def test_text_assertions() -> None:
    assert text_assertion({"contains": "ok"}, "all ok", "body") is None
    assert text_assertion({"regex": "^application/json"}, "text/html", "header content-type") == (
        "header content-type does not match /^application/json/"
    )
    assert text_assertion({"jsonPath": "$.a", "equals": 1}, "<html>", "body") == "body is not JSON"


def test_remove_paths_leaves_the_original_alone() -> None:
    document = {"requestId": "r1", "items": [{"id": 1, "ts": 5}], "total": 3}
    stripped = remove_paths(document, ["$.requestId", "$.items[0].ts", "$.nothing.here", "$.items[9]"])
    assert stripped == {"items": [{"id": 1}], "total": 3}
    assert document["requestId"] == "r1"
