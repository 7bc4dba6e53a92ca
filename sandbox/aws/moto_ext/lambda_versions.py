"""Lambda versions that run in-process: Invoke answers with the version's Python code, grafted onto moto.

moto runs function code only in Docker. A test gives a published version a Python callable with
`run_version`; Invoke of that version (by number, by an alias pointing at it, or by an alias whose
RoutingConfig sends a share of calls to it) then runs the callable and answers as Lambda does:
`Payload`, `FunctionError: Unhandled` with Lambda's error payload when the code raises, and
`ExecutedVersion`. Each invocation also lands in moto's CloudWatch as Lambda's own metrics
(Invocations, Errors, Duration by FunctionName, by Resource, and for alias calls by ExecutedVersion),
so per-version metric checks have data. `executed_as` lets a test make a version report another one
(the "wrong version executing" fault); anything not given code falls back to moto's own Invoke.
"""

from __future__ import annotations

import json
import random
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from moto.awslambda.models import LambdaBackend, lambda_backends
from moto.awslambda.responses import LambdaResponse
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.models import DEFAULT_ACCOUNT_ID

from sandbox.aws.moto_ext._support import graft

DEFAULT_REGION = "us-east-1"
Handler = Callable[[Any, Any], Any]
_STATE = "_sandbox_lambda_versions"
_moto_invoke = LambdaBackend.invoke
_moto_invoke_response = LambdaResponse.invoke


@dataclass(frozen=True)
class Code:
    handler: Handler
    executed_as: str | None = None


@dataclass(frozen=True)
class LambdaInvocation:
    function_name: str
    qualifier: str | None
    executed_version: str
    event: Any
    error: str | None
    duration_ms: float


@dataclass
class VersionsState:
    code: dict[tuple[str, str], Code] = field(default_factory=dict)
    invocations: list[LambdaInvocation] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(0))  # noqa: S311 - traffic split, not secrets
    lock: threading.RLock = field(default_factory=threading.RLock)


@dataclass
class _Context:
    """The `context` a Python handler gets (the fields hook-checked code reads)."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 128
    deadline: float = field(default_factory=lambda: time.monotonic() + 3.0)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class SandboxLambdaBackend(LambdaBackend):
    @property
    def sandbox_versions(self) -> VersionsState:
        state = self.__dict__.get(_STATE)
        if state is None:
            state = self.__dict__.setdefault(_STATE, VersionsState())
        return cast(VersionsState, state)

    def invoke(
        self, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> str | bytes | None:
        name, qualifier = _split(function_name, qualifier)
        version, by_alias = self._resolve(name, qualifier)
        code = self.sandbox_versions.code.get((name, version))
        if code is None:
            return _moto_invoke(self, function_name, qualifier, body, headers, response_headers)
        arn = f"arn:aws:lambda:{self.region_name}:{self.account_id}:function:{name}:{qualifier or '$LATEST'}"
        event = json.loads(body) if body else {}
        started = time.monotonic()
        error: str | None = None
        try:
            result = code.handler(event, _Context(name, version, arn))
            payload = json.dumps(result).encode()
        except Exception as raised:  # the function's own failure is Lambda's Unhandled, not the sandbox's
            error = type(raised).__name__
            payload = json.dumps(
                {
                    "errorMessage": str(raised),
                    "errorType": error,
                    "requestId": str(uuid.uuid4()),
                    "stackTrace": traceback.format_tb(raised.__traceback__),
                }
            ).encode()
            response_headers["x-amz-function-error"] = "Unhandled"
        duration_ms = (time.monotonic() - started) * 1000
        executed = code.executed_as or version
        response_headers["x-amz-executed-version"] = executed
        response_headers["Content-Length"] = str(len(payload))
        with self.sandbox_versions.lock:
            self.sandbox_versions.invocations.append(
                LambdaInvocation(name, qualifier, executed, event, error, duration_ms)
            )
        self._put_metrics(name, qualifier, executed if by_alias else None, error is not None, duration_ms)
        return payload

    def _resolve(self, name: str, qualifier: str | None) -> tuple[str, bool]:
        """The version that runs, and whether an alias chose it (its RoutingConfig split included)."""
        if qualifier is None or qualifier == "$LATEST" or qualifier.isdigit():
            return qualifier or "$LATEST", False
        alias = self.get_alias(qualifier, name)
        weights = cast(dict[str, Any], alias.routing_config or {}).get("AdditionalVersionWeights") or {}
        with self.sandbox_versions.lock:
            draw = self.sandbox_versions.rng.random()
        for version, weight in weights.items():
            if draw < float(weight):
                return str(version), True
            draw -= float(weight)
        return str(alias.function_version), True

    def _put_metrics(
        self, name: str, qualifier: str | None, executed: str | None, failed: bool, duration: float
    ) -> None:
        dimension_sets = [[{"Name": "FunctionName", "Value": name}]]
        if qualifier is not None:
            resource = [{"Name": "FunctionName", "Value": name}, {"Name": "Resource", "Value": f"{name}:{qualifier}"}]
            dimension_sets.append(resource)
            if executed is not None:
                dimension_sets.append([*resource, {"Name": "ExecutedVersion", "Value": executed}])
        # Naive UTC, as moto keeps every datum (its S3 and its default timestamps): GetMetricData compares them all.
        now = datetime.now(UTC).replace(tzinfo=None)
        data = [
            {"MetricName": metric, "Value": value, "Unit": unit, "Dimensions": dimensions, "Timestamp": now}
            for dimensions in dimension_sets
            for metric, value, unit in (
                ("Invocations", 1.0, "Count"),
                ("Errors", 1.0 if failed else 0.0, "Count"),
                ("Duration", duration, "Milliseconds"),
            )
        ]
        cloudwatch_backends[self.account_id][self.region_name].put_metric_data("AWS/Lambda", data)


class SandboxLambdaResponse(LambdaResponse):
    def invoke(self) -> tuple[int, dict[str, str], str | bytes]:
        """moto's Invoke reads a `qualifier` query parameter; botocore sends `Qualifier`."""
        qualifier = self.querystring.get("Qualifier", [None])[0]
        if qualifier is not None and not self._get_param("qualifier"):
            self.querystring["qualifier"] = [qualifier]
        return cast(tuple[int, dict[str, str], str | bytes], _moto_invoke_response(self))


def _split(function_name: str, qualifier: str | None) -> tuple[str, str | None]:
    """A name, partial ARN or ARN, with the qualifier it may carry."""
    if function_name.startswith("arn:"):
        parts = function_name.split(":")
        return parts[6], (parts[7] if len(parts) > 7 else qualifier)
    name, _, inline = function_name.partition(":")
    return name, inline or qualifier


def patch() -> None:
    """Graft in-process versions onto moto's Lambda backend (idempotent)."""
    graft(LambdaBackend, SandboxLambdaBackend)
    graft(LambdaResponse, SandboxLambdaResponse)


def backend_for(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> SandboxLambdaBackend:
    patch()
    return cast(SandboxLambdaBackend, lambda_backends[account_id][region])


def run_version(
    function_name: str,
    version: str,
    handler: Handler,
    *,
    executed_as: str | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
    region: str = DEFAULT_REGION,
) -> None:
    """From now on, invoking `function_name` version `version` runs `handler(event, context)` in this process."""
    backend = backend_for(account_id, region)
    with backend.sandbox_versions.lock:
        backend.sandbox_versions.code[function_name, version] = Code(handler, executed_as)


def invocations(
    function_name: str | None = None, *, account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION
) -> list[LambdaInvocation]:
    """Every in-process invocation so far, oldest first."""
    found = backend_for(account_id, region).sandbox_versions.invocations
    return [i for i in found if function_name is None or i.function_name == function_name]
