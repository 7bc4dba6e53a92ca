"""What the checks talk to (Protocol ports) and what those answer; adapters live in probes.py and codereflex.aws."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

from codereflex.errors import CodeReflexError


class ToolError(CodeReflexError):
    """Our own tooling failed after its bounded retries (throttling, AccessDenied, a 5xx): an `error` measurement.
    The message names the operation and the error code only, never a credential or a response body."""


class HttpRequest(NamedTuple):
    method: str
    url: str
    headers: Mapping[str, str] = MappingProxyType({})
    body: bytes | None = None
    timeout_s: float = 5.0
    follow_redirects: bool = False


class HttpSample(NamedTuple):
    """One request's answer, or why there was none (`failure`: timeout, refused, TLS). Body bounded."""

    status: int | None
    latency_ms: float
    headers: Mapping[str, str] = MappingProxyType({})  # lower-case names
    body: bytes = b""
    failure: str | None = None


class HttpProber(Protocol):
    def probe(self, request: HttpRequest, count: int) -> list[HttpSample]:
        """`count` requests sent at once (one round of a check's concurrency), answers in order."""
        ...


class Invocation(NamedTuple):
    executed_version: str | None
    function_error: str | None
    payload: bytes
    duration_ms: float


class LambdaInvoker(Protocol):
    def invoke(self, function: str, qualifier: str, payload: bytes) -> Invocation: ...


class MetricData(NamedTuple):
    """Every page of GetMetricData: values per query id, oldest first; `complete` only if every result was."""

    series: Mapping[str, Sequence[tuple[datetime, float]]]
    complete: bool
    status: str = "Complete"


class MetricReader(Protocol):
    def metric_data(self, queries: Sequence[Mapping[str, Any]], start: datetime, end: datetime) -> MetricData: ...


class AlarmState(NamedTuple):
    name: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    reason: str = ""


class AlarmReader(Protocol):
    def alarm_states(self, names: Sequence[str]) -> Mapping[str, AlarmState]:
        """The alarms that exist among `names`, by name (a missing one is absent)."""
        ...


class TargetState(NamedTuple):
    target: str
    state: str  # initial | healthy | unhealthy | unused | draining | unavailable
    reason: str = ""


class TargetHealthReader(Protocol):
    def target_health(self, target_group_arn: str) -> list[TargetState]: ...


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None: ...


class Ports(NamedTuple):
    http: HttpProber
    lambdas: LambdaInvoker
    metrics: MetricReader
    alarms: AlarmReader
    targets: TargetHealthReader
    clock: Clock
