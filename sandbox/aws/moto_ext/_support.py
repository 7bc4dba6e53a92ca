"""Shared plumbing for the moto extensions: API errors, caller identity, paging tokens, grafting."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from moto.core.exceptions import JsonRESTError
from moto.sts.models import sts_backends

if TYPE_CHECKING:
    from collections.abc import Sequence

    from moto.core.responses import BaseResponse

T = TypeVar("T")


class ApiError(JsonRESTError):
    """A modelled AWS error: boto3 raises it as `client.exceptions.<error_type>`."""

    code = 400

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(error_type, message)


def now() -> datetime:
    return datetime.now(UTC)


def caller_arn(response: BaseResponse) -> str:
    """The ARN moto's own STS GetCallerIdentity reports for this request's access key.

    Reusing STS keeps authorship consistent with what a handler learns about itself from
    `sts.get_caller_identity()`: IAM users, AssumeRole sessions and moto's default user alike.
    """
    sts = sts_backends[response.current_account][response.partition]
    _, arn, _ = sts.get_caller_identity(response.get_access_key(), response.region)
    return str(arn)


def fingerprint(operation: str, params: dict[str, Any]) -> str:
    """A canonical form of a request's parameters, to compare an idempotent retry with the original."""
    return json.dumps([operation, params], sort_keys=True, default=str)


def paginate(
    items: Sequence[T], next_token: str | None, page_size: int, invalid_token: ApiError
) -> tuple[list[T], str | None]:
    """Cut one page from `items`; tokens are offsets, so they stay valid while the list only grows."""
    start = 0
    if next_token is not None:
        if not next_token.isdigit() or int(next_token) > len(items):
            raise invalid_token
        start = int(next_token)
    end = start + page_size
    return list(items[start:end]), (str(end) if end < len(items) else None)


def graft(target: type, source: type) -> None:
    """Copy the functions and properties `source` defines itself onto moto's class `target`.

    moto dispatches an action to the response method named after it, and looks methods up on the
    class at request time, so grafting works for in-process mocks and the threaded server alike.
    `source` subclasses `target` only so that mypy checks the grafted code against moto's types;
    grafted code must therefore not use zero-argument `super()`.
    """
    for name, value in vars(source).items():
        if name.startswith("__"):
            continue
        if inspect.isfunction(value) or isinstance(value, property):
            setattr(target, name, value)
