"""DynamoDB's atomic conditional writes for moto: one lock around every write, as the service gives.

DynamoDB evaluates a ConditionExpression and writes in one step; moto reads, checks and writes with
no lock, so two threads (concurrent requests to a served sandbox, or a test's threads) could both
pass `attribute_not_exists(...)`. The approval tests prove exactly-once decisions with threads, so
the sandbox must not be weaker than DynamoDB there.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_LOCK = threading.RLock()
_MARK = "_codereflex_atomic"


def _atomic(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def write(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    setattr(write, _MARK, True)
    return write


def patch() -> None:
    """Make moto's DynamoDB writes atomic (idempotent)."""
    for name in _WRITES:
        method = getattr(DynamoDBBackend, name, None)
        if method is not None and not getattr(method, _MARK, False):
            setattr(DynamoDBBackend, name, _atomic(method))
