"""Ports the validation engine's unit tests script: a clock that only moves when slept on, and scripted services."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from codereflex.validation import spec as specs
from codereflex.validation.ports import (
    AlarmState,
    HttpRequest,
    HttpSample,
    Invocation,
    MetricData,
    Ports,
    TargetState,
    ToolError,
)

START = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = START) -> None:
        self.t = now
        self.slept = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.t += seconds
        self.slept += seconds


class Http:
    """Answers each request with `answer(url, n)` (n counts requests to that URL from 0); each takes its latency."""

    def __init__(self, clock: Clock, answer: Callable[[str, int], HttpSample]) -> None:
        self.clock, self.answer = clock, answer
        self.requests: list[HttpRequest] = []

    def probe(self, request: HttpRequest, count: int) -> list[HttpSample]:
        answers = []
        for _ in range(count):
            n = sum(1 for r in self.requests if r.url == request.url)
            self.requests.append(request)
            answers.append(self.answer(request.url, n))
        self.clock.t += max((a.latency_ms for a in answers), default=0) / 1000
        return answers


def ok(latency_ms: float = 50, body: bytes = b'{"status": "ok"}', status: int = 200) -> HttpSample:
    return HttpSample(status, latency_ms, {"content-type": "application/json"}, body)


class Lambdas:
    def __init__(self, answer: Callable[[str, str, bytes], Invocation]) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str]] = []

    def invoke(self, function: str, qualifier: str, payload: bytes) -> Invocation:
        self.calls.append((function, qualifier))
        return self.answer(function, qualifier, payload)


class Metrics:
    def __init__(self, answer: Callable[[int], MetricData]) -> None:
        self.answer = answer
        self.calls: list[tuple[datetime, datetime]] = []

    def metric_data(self, queries: Sequence[Mapping[str, Any]], start: datetime, end: datetime) -> MetricData:
        self.calls.append((start, end))
        return self.answer(len(self.calls) - 1)


class Alarms:
    def __init__(self, answer: Callable[[int], Mapping[str, str]]) -> None:
        self.answer = answer
        self.calls = 0

    def alarm_states(self, names: Sequence[str]) -> Mapping[str, AlarmState]:
        states = self.answer(self.calls)
        self.calls += 1
        return {name: AlarmState(name, state) for name, state in states.items() if name in names}


class Targets:
    def __init__(self, answer: Callable[[int], list[TargetState]]) -> None:
        self.answer = answer
        self.calls = 0

    def target_health(self, target_group_arn: str) -> list[TargetState]:
        states = self.answer(self.calls)
        self.calls += 1
        return states


def throttled(*_: Any) -> Any:
    raise ToolError("GetMetricData: ThrottlingException")


def unused(*_: Any) -> Any:
    raise AssertionError("this port was not expected to be called")


def ports(
    clock: Clock,
    *,
    http: Http | None = None,
    lambdas: Lambdas | None = None,
    metrics: Metrics | None = None,
    alarms: Alarms | None = None,
    targets: Targets | None = None,
) -> Ports:
    return Ports(
        http or Http(clock, unused),
        lambdas or Lambdas(unused),
        metrics or Metrics(unused),
        alarms or Alarms(unused),
        targets or Targets(unused),
        clock,
    )


ECS_CONTEXT: Mapping[str, Any] = {
    "deployment": {"id": "d-ABCDEF123", "application": "orders", "group": "orders-dg", "alarms": ["orders-5xx"]},
    "ecs": {
        "testListener": {"url": "http://green.test:8443"},
        "prodListener": {"url": "http://blue.test"},
        "green": {
            "targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/green/1",
            "desiredCount": 2,
        },
        "loadBalancer": {"dimension": "app/orders/1"},
    },
}
LAMBDA_CONTEXT: Mapping[str, Any] = {
    "deployment": {"id": "d-LAMBDA1", "alarms": []},
    "lambda": {"functionName": "checkout", "alias": "live", "currentVersion": "3", "targetVersion": "4"},
}


def spec(checks: list[dict[str, Any]], platform: str = "ecs", hooks: list[str] | None = None, **top: Any) -> specs.Spec:
    document = {
        "version": 1,
        "kind": "HookValidation",
        "name": "test",
        "platform": platform,
        "hooks": hooks or (["AfterAllowTestTraffic"] if platform == "ecs" else ["BeforeAllowTraffic"]),
        "checks": checks,
        **top,
    }
    import json

    return specs.load(json.dumps(document))


def http_check(
    name: str = "smoke", count: int = 10, assertions: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    check: dict[str, Any] = {
        "name": name,
        "type": "http",
        "request": {"url": "{{ ecs.testListener.url }}/health"},
        "assert": assertions or {"status": [200]},
        "sampling": {"count": count, "intervalMs": 100},
    }
    check.update(fields)
    return check
