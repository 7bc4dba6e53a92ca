"""Throttling on demand: a given API answers ThrottlingException (or another code) its next N calls.

Wraps moto's `BaseResponse.call_action`, the one place every service's request passes (in-process
`mock_aws` and the threaded server alike), and answers in the service's own protocol, so botocore
sees exactly what AWS sends when it throttles. botocore retries throttling by itself (standard mode:
up to 2 retries, legacy: 4), so N counts every attempt, retries included.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse

_moto_call_action = BaseResponse.call_action
_LOCK = threading.Lock()
_RULES: list[Throttle] = []


@dataclass
class Throttle:
    """`times` more calls of `service`'s `operation` are refused with `code`; `answered` counts those refused."""

    service: str
    operation: str
    times: int
    code: str = "ThrottlingException"
    message: str = "Rate exceeded"
    answered: int = 0


class Throttled(ServiceException):
    """Defined outside moto, so moto's serializer looks the code up in the called service's model only."""


def _call_action(self: BaseResponse) -> Any:
    rule = _take(self.boto3_service_name, self._get_action())
    if rule is None:
        return _moto_call_action(self)
    with warnings.catch_warnings():
        # "Throttling" is one of AWS's common errors, which most service models do not list; moto warns.
        warnings.simplefilter("ignore", UserWarning)
        status, headers, body = self.serialized(ActionResult(Throttled(rule.code, rule.message)))
    headers["status"] = str(status)
    return status, headers, body


def _take(service: str, operation: str) -> Throttle | None:
    with _LOCK:
        for rule in _RULES:
            if rule.service == service and rule.operation == operation and rule.answered < rule.times:
                rule.answered += 1
                return rule
    return None


def patch() -> None:
    BaseResponse.call_action = _call_action  # type: ignore[method-assign]


@contextmanager
def throttled(
    service: str, operation: str, times: int, *, code: str = "ThrottlingException", message: str = "Rate exceeded"
) -> Iterator[Throttle]:
    """Inside the block, the next `times` calls of `operation` (e.g. "GetMetricData") on `service`
    (boto3's name, e.g. "cloudwatch") are refused with `code`."""
    patch()
    rule = Throttle(service, operation, times, code, message)
    with _LOCK:
        _RULES.append(rule)
    try:
        yield rule
    finally:
        with _LOCK:
            _RULES.remove(rule)
