"""The event an EventBridge schedule delivers (detail-type "Scheduled Event"): only its envelope counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from codereflex.events.reading import EventBridgeEnvelope, Fields

SCHEDULED_EVENT = "Scheduled Event"


class ScheduleDetail(NamedTuple):
    """A schedule's detail is always `{}`; an object is all that is checked."""

    @classmethod
    def read(cls, raw: Fields) -> ScheduleDetail:
        return cls()


@dataclass(frozen=True, slots=True)
class ScheduledEvent(EventBridgeEnvelope):
    """The EventBridge envelope of a schedule's tick (its id makes a sweep's side effects idempotent)."""

    detail: ScheduleDetail = field(kw_only=True)

    SOURCE = "aws.events"
    DETAIL_TYPES = (SCHEDULED_EVENT,)
    DETAIL = ScheduleDetail
