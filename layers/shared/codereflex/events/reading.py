"""Read EventBridge events into plain immutable values, checking each field and naming (never echoing) a bad one.

The one event reader of every function. Chosen over Powertools' Parser (pydantic) by measurement:
pydantic's import alone cost about 0.3 s, more than a third of `import boto3` plus one client, and
Powertools' parser models another 0.15 s (bench/bench_cold_start.py). A shape error is a BadEvent,
which every handler treats as final.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, Self, TypeVar, cast

from codereflex.errors import BadEvent

_TRUE, _FALSE = frozenset({"true", "1", "yes", "on"}), frozenset({"false", "0", "no", "off"})

T = TypeVar("T")


def parse_build_time(value: Any) -> datetime | None:
    """A CodeBuild event time as an aware UTC datetime; None when absent or in an unknown format.

    An unreadable timestamp never rejects an event: it only costs the comment its duration.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = " ".join(str(value).replace("\u202f", " ").split())
    if not text:
        return None
    for pattern in _LOCALE_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# CodeBuild writes times the way a US-English Java locale prints them ("Sep 1, 2017 4:12:29 PM").
_LOCALE_FORMATS = ("%b %d, %Y %I:%M:%S %p", "%b %d, %Y, %I:%M:%S %p", "%b %d %Y %I:%M:%S %p")


class Fields:
    """One JSON object of the event; every complaint names the field's path, never its value."""

    def __init__(self, raw: Any, path: str) -> None:
        if not isinstance(raw, Mapping):
            raise shape_error(path, "must be an object")
        self._raw: Mapping[str, Any] = raw
        self._path = path

    def where(self, key: str) -> str:
        """The dotted path of `key` in the event, for error messages."""
        return f"{self._path}.{key}" if self._path else key

    def value(self, key: str) -> Any:
        """The raw value at `key` (None when absent), for the reader of an unusual field."""
        return self._raw.get(key)

    def text(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        value = self._raw.get(key)
        if value is None:
            if required:
                raise shape_error(self.where(key), "field required")
            return default
        if not isinstance(value, str):
            raise shape_error(self.where(key), "must be a string")
        return value

    def required_text(self, key: str, *, non_empty: bool = False) -> str:
        value = cast(str, self.text(key, required=True))
        if non_empty and not value:
            raise shape_error(self.where(key), "must not be empty")
        return value

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self.required_text(key)
        if value not in allowed:
            raise shape_error(self.where(key), "must be one of " + ", ".join(allowed))
        return value

    def number(self, key: str) -> float | None:
        value = self._raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool):
            raise shape_error(self.where(key), "must be a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise shape_error(self.where(key), "must be a number") from None
        # JSON's 1e400 arrives as inf, and float() reads "NaN" and "inf": no count or duration is either.
        if not math.isfinite(number):
            raise shape_error(self.where(key), "must be a finite number")
        return number

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self._raw.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise shape_error(self.where(key), "must be a boolean")

    def build_time(self, key: str) -> datetime | None:
        return parse_build_time(self._raw.get(key))

    def iso_time(self, key: str) -> datetime:
        value = self.required_text(key)
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise shape_error(self.where(key), "must be an ISO 8601 time") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def texts(self, key: str, *, required: bool = False) -> list[str]:
        value = self._raw.get(key)
        if value is None:
            if required:
                raise shape_error(self.where(key), "field required")
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise shape_error(self.where(key), "must be a list of strings")
        return list(value)

    def contexts(self, key: str) -> tuple[str, ...]:
        """`phase-context` is a list of strings; tolerate a lone string or null."""
        value = self._raw.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list):
            raise shape_error(self.where(key), "must be a list of strings")
        return tuple(str(item) for item in value)

    def child(self, key: str, build: Callable[[Fields], T]) -> T:
        """The nested object at `key` (an absent or null one reads as empty)."""
        value = self._raw.get(key)
        return build(Fields({} if value is None else value, self.where(key)))

    def children(self, key: str, build: Callable[[Fields], T]) -> tuple[T, ...]:
        value = self._raw.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise shape_error(self.where(key), "must be a list")
        return tuple(build(Fields(item, f"{self.where(key)}.{index}")) for index, item in enumerate(value))


def shape_error(path: str, problem: str) -> BadEvent:
    return BadEvent(f"event does not match the expected shape: {path or '<root>'}: {problem}")


class Detail(Protocol):
    """An event's detail class: built from its fields."""

    @classmethod
    def read(cls, raw: Fields) -> Any: ...


@dataclass(frozen=True, slots=True)
class EventBridgeEnvelope:
    """The EventBridge envelope, field for field as Powertools' EventBridgeModel."""

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str
    replay_name: str | None = None

    # What a subclass reads: its source, the detail-types it accepts, and the class of its detail.
    SOURCE: ClassVar[str]
    DETAIL_TYPES: ClassVar[tuple[str, ...]]
    DETAIL: ClassVar[type[Detail]]

    @classmethod
    def read(cls, event: Any) -> Self:
        """Read a delivered event; a BadEvent names the first field that does not fit."""
        raw = Fields(event, "")
        fields = cls.read_envelope(raw, cls.SOURCE, cls.DETAIL_TYPES)
        fields["detail"] = raw.child("detail", cls.DETAIL.read)  # a field every subclass declares
        return cls(**fields)

    @staticmethod
    def read_envelope(raw: Fields, source: str, detail_types: tuple[str, ...]) -> dict[str, Any]:
        """The envelope's fields, checking it comes from `source` with one of `detail_types`."""
        return {
            "version": raw.required_text("version"),
            "id": raw.required_text("id"),
            "source": raw.choice("source", (source,)),
            "account": raw.required_text("account"),
            "time": raw.iso_time("time"),
            "region": raw.required_text("region"),
            "resources": raw.texts("resources", required=True),
            "detail_type": raw.choice("detail-type", detail_types),
            "replay_name": raw.text("replay-name"),
        }
