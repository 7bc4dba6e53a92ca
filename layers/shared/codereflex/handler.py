"""What every entry point does with what logic decided (its report) and with failures (permanent ones are final)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from codereflex.errors import PermanentError, TransientError
from codereflex.events.reading import shape_error
from codereflex.report import Report

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
            logger.error("Event rejected", reason=failure.reason, error=str(failure))
            metrics.add_metric(name="Rejected", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name=f"Rejected.{failure.reason}", unit=MetricUnit.Count, value=1)
            return {"outcome": "rejected", "reason": failure.reason, "error": str(failure)}

        return wrapper

    return decorate


def emit(report: Report, logger: Logger, metrics: Metrics) -> dict[str, Any]:
    """Say what logic decided: its log lines and metrics, then return its response (or raise its error)."""
    for line in report.lines:
        getattr(logger, line.level)(line.message, **line.fields)
    for count in report.counts:
        metrics.add_metric(name=count.name, unit=MetricUnit[count.unit], value=count.value)
    if report.error is not None:
        raise report.error
    return dict(report.response)
