"""The engine with the real prober against green and blue services on 127.0.0.1 (set latency and error rates)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from codereflex.validation import engine
from codereflex.validation.engine import Done
from codereflex.validation.ports import Ports
from codereflex.validation.probes import HttpProber
from codereflex.validation.spec import Spec, load

from .services import Behaviour, service

SPEC = """
version: 1
kind: HookValidation
name: orders
platform: ecs
hooks: [AfterAllowTestTraffic]
checks:
  - name: green-latency
    type: http
    request: {url: "{{ ecs.testListener.url }}/health", timeoutMs: 2000}
    assert: {status: [200], body: [{jsonPath: "$.status", equals: ok}], latencyMs: {p50: "<=100", p99: "<=300"}}
    sampling: {count: 40, intervalMs: 0, concurrency: 8, warmup: 4}
    maxFailureRate: 0.05
    failureLimit: 4
    minSamples: 20
  - name: vs-blue
    type: compare
    test: mannWhitney
    experiment: {check: green-latency}
    control: {request: {url: "{{ ecs.prodListener.url }}/health"}, sampling: {count: 40, intervalMs: 0, concurrency: 8}}
    allowedIncrease: 1.5
    minSamplesPerSide: 30
"""


class RealClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def unused(*_: Any) -> Any:
    raise AssertionError("not called")


@pytest.fixture
def sides() -> Iterator[tuple[Behaviour, Behaviour, dict[str, Any]]]:
    green, blue = Behaviour(latency_ms=5), Behaviour(latency_ms=5)
    with service(green) as green_url, service(blue) as blue_url:
        context = {"ecs": {"testListener": {"url": green_url}, "prodListener": {"url": blue_url}}}
        yield green, blue, context


def validate(spec: Spec, context: dict[str, Any]) -> Done:
    prober = HttpProber()
    ports = Ports(prober, unused, unused, unused, unused, RealClock())  # type: ignore[arg-type]
    now = time.time()
    try:
        done = engine.run(spec, "AfterAllowTestTraffic", context, ports, run_deadline=now + 60, hook_deadline=now + 120)
    finally:
        prober.close()
    assert isinstance(done, Done)
    return done


def test_a_green_like_blue_passes(sides: tuple[Behaviour, Behaviour, dict[str, Any]]) -> None:
    done = validate(load(SPEC), sides[2])
    assert done.verdict.status == "Succeeded", done.verdict.reason


def test_a_slow_tail_on_green_fails_on_its_p99(sides: tuple[Behaviour, Behaviour, dict[str, Any]]) -> None:
    green, _, context = sides
    green.tail_ms = 800
    done = validate(load(SPEC), context)
    assert done.verdict.status == "Failed"
    assert done.verdict.deciding_check == "green-latency"
    assert done.verdict.reason.startswith("p99 latency ")
    assert "ms > 300 ms (check green-latency, 40 samples)" in done.verdict.reason


def test_a_green_uniformly_slower_than_blue_fails_the_comparison(
    sides: tuple[Behaviour, Behaviour, dict[str, Any]],
) -> None:
    green, _, context = sides
    green.latency_ms = 40  # within its own absolute thresholds, but several times blue
    done = validate(load(SPEC), context)
    assert done.verdict.status == "Failed", done.verdict.reason
    assert done.verdict.deciding_check == "vs-blue", done.verdict.reason
    assert done.verdict.reason.startswith("green latency above blue x1.5")
    assert done.verdict.reason.endswith("(check vs-blue, green 40 vs blue 40 samples)")


def test_an_error_rate_above_the_allowed_fails(sides: tuple[Behaviour, Behaviour, dict[str, Any]]) -> None:
    green, _, context = sides
    green.error_rate = 0.3
    done = validate(load(SPEC), context)
    assert done.verdict.status == "Failed"
    assert "status 503, not 200" in done.verdict.reason
