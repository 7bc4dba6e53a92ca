"""What handling an event tells the operator: log lines, metrics and the response, decided by logic."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

Level = Literal["debug", "info", "warning", "error"]


class Line(NamedTuple):
    """One structured log line: a constant message and its fields."""

    message: str
    fields: Mapping[str, Any] = MappingProxyType({})
    level: Level = "info"


class Count(NamedTuple):
    """One EMF metric data point (namespace and `service` dimension are the function's)."""

    name: str
    value: float = 1
    unit: Literal["Count", "Bytes", "Milliseconds"] = "Count"


class Report(NamedTuple):
    """Everything a handler says about one event, as data: logic builds it, `codereflex.handler.emit` says it."""

    response: Mapping[str, Any]
    lines: tuple[Line, ...] = ()
    counts: tuple[Count, ...] = ()
    error: Exception | None = None  # raised once the rest is said (a transient one makes Lambda retry)
