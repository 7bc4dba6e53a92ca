"""The EventBridge envelope every sandbox event travels in, field for field as AWS delivers it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any


def stamp(moment: datetime) -> str:
    """EventBridge's `time`: UTC, to the second, with a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(
    *,
    source: str,
    detail_type: str,
    detail: Any,
    account: str,
    region: str,
    resources: Iterable[str],
    time: datetime | str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """One event: `time` is now when None, and kept as given when already text."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": time if isinstance(time, str) else stamp(time or datetime.now(UTC)),
        "region": region,
        "resources": list(resources),
        "detail": detail,
    }
