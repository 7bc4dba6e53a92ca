"""The assertion language of checks: comparisons ('<=150'), JSON paths ($.a.b[0]), equals/contains/regex."""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

_COMPARISON = re.compile(r"^\s*(<=|<|>=|>|==|!=)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*$")
_PATH_PART = re.compile(r"\.([A-Za-z0-9_-]+)|\[([0-9]+)\]")
_OPERATORS: Mapping[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
    "!=": operator.ne,
}
# The operator that says what was wrong: "812 ms > 500 ms" for a breach of "<=500".
_BROKEN = {"<=": ">", "<": ">=", ">=": "<", ">": "<=", "==": "!=", "!=": "=="}
_MISSING = object()


class Comparison(NamedTuple):
    op: str
    bound: float

    def holds(self, value: float) -> bool:
        """True only for a finite value that satisfies it: NaN and inf never pass (nor does `NaN > x` fail open)."""
        return math.isfinite(value) and _OPERATORS[self.op](value, self.bound)

    def broken(self) -> str:
        return f"{_BROKEN[self.op]} {self.bound:g}"

    def __str__(self) -> str:
        return f"{self.op} {self.bound:g}"


def comparison(text: str | float) -> Comparison:
    """'<=150' → Comparison('<=', 150); a bare number means '<=' (a ceiling). ValueError otherwise."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return Comparison("<=", float(text))
    match = _COMPARISON.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a comparison like '<=150'")
    return Comparison(match.group(1), float(match.group(2)))


def json_path(document: Any, path: str) -> Any:
    """The value at `$.a.b[0]`, or `missing` (a sentinel: distinct from JSON null)."""
    if not path.startswith("$"):
        raise ValueError(f"{path!r} is not a JSON path starting with $")
    node = document
    rest = path[1:]
    position = 0
    while position < len(rest):
        match = _PATH_PART.match(rest, position)
        if not match:
            raise ValueError(f"{path!r} is not a JSON path like $.a.b[0]")
        key, index = match.group(1), match.group(2)
        if key is not None:
            if not isinstance(node, dict) or key not in node:
                return _MISSING
            node = node[key]
        else:
            if not isinstance(node, list) or int(index) >= len(node):
                return _MISSING
            node = node[int(index)]
        position = match.end()
    return node


def remove_paths(document: Any, paths: list[str]) -> Any:
    """A copy of `document` without the values at `paths` (what a differential comparison ignores)."""
    copy = json.loads(json.dumps(document))
    for path in paths:
        parts = list(_PATH_PART.finditer(path, 1))
        if not path.startswith("$") or not parts:
            continue
        parent = json_path(copy, path[: parts[-1].start()])  # the same objects as in `copy`
        key, index = parts[-1].group(1), parts[-1].group(2)
        if isinstance(parent, dict) and key is not None:
            parent.pop(key, None)
        elif isinstance(parent, list) and index is not None and int(index) < len(parent):
            parent.pop(int(index))
    return copy


def text_assertion(  # noqa: PLR0911 - one answer per way an assertion holds or breaks
    assertion: Mapping[str, Any], text: str, what: str
) -> str | None:
    """None when the assertion holds on `text` (a body or a header value), else why not, in a few words."""
    subject: Any = text
    label = what
    if "jsonPath" in assertion:
        try:
            document = json.loads(text)
        except ValueError:
            return f"{what} is not JSON"
        subject = json_path(document, str(assertion["jsonPath"]))
        label = f"{what} {assertion['jsonPath']}"
        if subject is _MISSING:
            return f"{label} is missing"
    if "equals" in assertion:
        expected = assertion["equals"]
        if not _json_equal(subject, expected):
            return f"{label} is {_show(subject)}, not {_show(expected)}"
        return None
    shown = subject if isinstance(subject, str) else json.dumps(subject)
    if "contains" in assertion:
        if str(assertion["contains"]) not in shown:
            return f"{label} does not contain {_show(assertion['contains'])}"
        return None
    if "regex" in assertion:
        if not re.search(str(assertion["regex"]), shown):
            return f"{label} does not match /{assertion['regex']}/"
        return None
    return "assertion has nothing to check"


def _json_equal(value: Any, expected: Any) -> bool:
    if isinstance(value, bool) or isinstance(expected, bool):
        return type(value) is type(expected) and value == expected
    return bool(value == expected)


def _show(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
