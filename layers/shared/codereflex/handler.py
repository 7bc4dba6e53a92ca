"""What every entry point does with failures: permanent ones are logged, counted and final."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeGuard

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from codereflex.errors import BadEvent, PermanentError, TransientError
from codereflex.events.reading import shape_error

if TYPE_CHECKING:
    from pydantic import ValidationError

P = ParamSpec("P")


def final_on_permanent_error(
    logger: Logger, metrics: Metrics
) -> Callable[[Callable[P, dict[str, Any]]], Callable[P, dict[str, Any]]]:
    """Turn a permanent failure into a logged, counted `{"outcome": "rejected"}` instead of a retry.

    Lambda retries an async invocation that raises, then sends it to the failure destination; for
    an event that can never succeed (bad shape, target gone, access denied) that is noise, so the
    handler returns normally and the metrics `Rejected` and `Rejected.<reason>` (under the function's
    service, which its alarm watches) say why. Transient errors propagate so Lambda does retry them.
    An event that is not a JSON object (a list, a string, a number, null: anyone may invoke a
    function with anything) is a BadEvent before the handler reads it, so no handler needs its own check.
    """

    def decorate(handler: Callable[P, dict[str, Any]]) -> Callable[P, dict[str, Any]]:
        @functools.wraps(handler)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> dict[str, Any]:
            try:
                event = args[0] if args else kwargs.get("event")
                if not isinstance(event, Mapping):
                    raise shape_error("", "must be a JSON object")
                return handler(*args, **kwargs)
            except PermanentError as error:
                failure: PermanentError = error
            except TransientError as error:
                logger.warning("Transient failure, Lambda will retry", reason=str(error))
                metrics.add_metric(name="TransientFailures", unit=MetricUnit.Count, value=1)
                raise
            except Exception as error:
                if not _is_validation_error(error):
                    raise
                failure = BadEvent(_describe(error))
            logger.error("Event rejected", reason=failure.reason, error=str(failure))
            metrics.add_metric(name="Rejected", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name=f"Rejected.{failure.reason}", unit=MetricUnit.Count, value=1)
            return {"outcome": "rejected", "reason": failure.reason, "error": str(failure)}

        return wrapper

    return decorate


def _is_validation_error(error: Exception) -> TypeGuard[ValidationError]:
    # Not imported here: a handler that parses without pydantic should not pay for its import.
    # An error can only be pydantic's when pydantic_core is already loaded.
    core = sys.modules.get("pydantic_core")
    return core is not None and isinstance(error, core.ValidationError)


def _describe(error: ValidationError) -> str:
    """Name the fields that failed, without echoing their values (they may be anything)."""
    problems = [f"{'.'.join(str(p) for p in item['loc']) or '<root>'}: {item['msg']}" for item in error.errors()]
    return "event does not match the expected shape: " + "; ".join(problems[:5])
