"""DynamoDB's atomic conditional writes for moto: one lock around every item request, as the service gives.

DynamoDB evaluates a ConditionExpression and writes in one step; moto reads, checks and writes with
no lock, so two threads (concurrent requests to a served sandbox, or a test's threads) could both
pass `attribute_not_exists(...)`. The approval tests prove exactly-once decisions with threads, so
the sandbox must not be weaker than DynamoDB there. The lock is held over the whole request, response
included: moto serialises the item it returned after its backend call, and a concurrent write to the
same item then changed its attributes mid-serialisation ("dictionary changed size during iteration").
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_REQUESTS = (*_WRITES, "get_item", "query", "scan", "batch_get_item", "transact_get_items")
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
    """Make moto's DynamoDB item requests atomic, from the backend call to the response (idempotent)."""
    for owner, names in ((DynamoDBBackend, _WRITES), (DynamoHandler, _REQUESTS)):
        for name in names:
            method = getattr(owner, name, None)
            if method is not None and not getattr(method, _MARK, False):
                setattr(owner, name, _atomic(method))
