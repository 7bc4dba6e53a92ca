"""The engine end to end on scripted ports: the ways real deployments fail give the verdict the semantics demand."""

from __future__ import annotations

import json
from typing import Any

import pytest

from codereflex.validation import engine
from codereflex.validation.engine import Continue, Done, State
from codereflex.validation.ports import HttpSample, Invocation, MetricData, Ports, TargetState, ToolError
from codereflex.validation.spec import Spec

from .fakes import (
    ECS_CONTEXT,
    LAMBDA_CONTEXT,
    START,
    Alarms,
    Clock,
    Http,
    Lambdas,
    Metrics,
    Targets,
    http_check,
    ok,
    ports,
    spec,
    throttled,
)

HOOK = "AfterAllowTestTraffic"


def run(spec_: Spec, ports_: Ports, context: Any = ECS_CONTEXT, hook: str = HOOK, **kw: Any) -> Done:
    result = engine.run(spec_, hook, context, ports_, run_deadline=START + 870, hook_deadline=START + 3300, **kw)
    assert isinstance(result, Done)
    return result


def test_a_healthy_green_passes_every_sample() -> None:
    clock = Clock()
    http = Http(clock, lambda url, n: ok())
    done = run(spec([http_check(count=10)]), ports(clock, http=http))
    assert done.verdict.status == "Succeeded"
    assert len(http.requests) == 10
    assert http.requests[0].url == "http://green.test:8443/health"
    assert clock.t - START >= 0.9


def test_a_slow_tail_fails_with_the_percentile_threshold_and_check() -> None:
    clock = Clock()
    http = Http(clock, lambda url, n: ok(900 if n % 10 == 9 else 40))
    checked = http_check("green-latency", 40, {"status": [200], "latencyMs": {"p50": "<=100", "p99": "<=500"}})
    done = run(spec([checked]), ports(clock, http=http))
    assert done.verdict.status == "Failed"
    assert done.verdict.reason == "p99 latency 900 ms > 500 ms (check green-latency, 40 samples)"
    assert done.verdict.deciding_check == "green-latency"


def test_a_wrong_body_behind_a_200_fails() -> None:
    clock = Clock()
    http = Http(clock, lambda url, n: ok(body=b'{"status": "degraded"}'))
    checked = http_check(assertions={"status": [200], "body": [{"jsonPath": "$.status", "equals": "ok"}]})
    done = run(spec([checked]), ports(clock, http=http))
    assert done.verdict.status == "Failed"
    assert done.verdict.reason.startswith(
        'body $.status is "degraded", not "ok" (check smoke, 1 sample: 1 failures > failureLimit 0)'
    )


def test_intermittent_errors_within_limits_pass_and_consecutive_ones_fail() -> None:
    limits: dict[str, Any] = {"failureLimit": 3, "consecutiveFailureLimit": 2}
    clock = Clock()
    flaky = Http(clock, lambda url, n: ok(status=503) if n in (2, 6) else ok())
    assert run(spec([http_check(count=10, **limits)]), ports(clock, http=flaky)).verdict.status == "Succeeded"
    clock = Clock()
    streak = Http(clock, lambda url, n: ok(status=503) if n in (4, 5) else ok())
    done = run(spec([http_check(count=10, **limits)]), ports(clock, http=streak))
    assert done.verdict.status == "Failed"
    assert "2 failures in a row" in done.verdict.reason
    assert len(streak.requests) == 6


def test_no_traffic_at_all_fails() -> None:
    clock = Clock()
    down = Http(clock, lambda url, n: HttpSample(None, 2.0, failure="connection refused"))
    done = run(spec([http_check(assertions={"status": [200], "latencyMs": {"p99": "<=500"}})]), ports(clock, http=down))
    assert done.verdict.status == "Failed"
    assert done.verdict.reason.startswith("no response: connection refused")


def test_the_first_failed_gating_check_ends_the_hook() -> None:
    clock = Clock()
    http = Http(clock, lambda url, n: ok(status=500))
    done = run(spec([http_check("first", 3), http_check("second", 3)]), ports(clock, http=http))
    assert [r.name for r in done.verdict.checks] == ["first"]
    assert len(http.requests) == 1


def test_a_failing_dry_run_check_is_reported_but_never_decides() -> None:
    clock = Clock()
    http = Http(clock, lambda url, n: ok(status=500) if "dry" in url else ok())
    dry = http_check("dry", 2, gating=False, request={"url": "{{ ecs.testListener.url }}/dry"})
    done = run(spec([dry, http_check("gate", 2)]), ports(clock, http=http))
    assert done.verdict.status == "Succeeded"
    assert [(r.name, r.status) for r in done.verdict.checks] == [("dry", "failed"), ("gate", "succeeded")]


def test_an_unresolved_template_fails_before_any_measurement() -> None:
    clock = Clock()
    context = {"ecs": {}, "deployment": {"id": "d-1"}}
    done = run(spec([http_check()]), ports(clock), context=context)
    assert done.verdict.status == "Failed"
    assert (
        done.verdict.reason
        == "{{ ecs.testListener.url }} is not known for this deployment (at $.checks.smoke.request.url)"
    )


def lambda_check(**fields: Any) -> dict[str, Any]:
    return {
        "name": "contract",
        "type": "lambdaInvoke",
        "function": "{{ lambda.functionName }}",
        "qualifier": "{{ lambda.targetVersion }}",
        "repeat": 2,
        "cases": [
            {
                "name": "happy",
                "payload": {"sku": "A1"},
                "expect": {"body": [{"jsonPath": "$.statusCode", "equals": 200}]},
            }
        ],
        **fields,
    }


def test_the_wrong_version_executing_fails() -> None:
    clock = Clock()
    wrong = Lambdas(lambda f, q, p: Invocation("3", None, b'{"statusCode": 200}', 12.0))
    done = run(
        spec([lambda_check()], platform="lambda"), ports(clock, lambdas=wrong), LAMBDA_CONTEXT, "BeforeAllowTraffic"
    )
    assert done.verdict.status == "Failed"
    assert done.verdict.reason.startswith("case happy: ExecutedVersion 3, not 4")
    assert wrong.calls == [("checkout", "4")]  # the version, never the alias


def test_an_alias_as_qualifier_is_refused() -> None:
    clock = Clock()
    aliased = spec([lambda_check(qualifier="{{ lambda.alias }}")], platform="lambda")
    done = run(aliased, ports(clock), LAMBDA_CONTEXT, "BeforeAllowTraffic")
    assert done.verdict.status == "Failed"
    assert "qualifier 'live' is not a version number" in done.verdict.reason


def test_a_differential_replay_finds_a_changed_response() -> None:
    clock = Clock()
    bodies = {
        "4": b'{"statusCode": 200, "total": 10, "requestId": "a"}',
        "3": b'{"statusCode": 200, "total": 9, "requestId": "b"}',
    }
    lambdas = Lambdas(lambda f, q, p: Invocation(q, None, bodies[q], 5.0))
    differential = lambda_check(differential={"qualifier": "{{ lambda.currentVersion }}", "ignore": ["$.requestId"]})
    done = run(
        spec([differential], platform="lambda"), ports(clock, lambdas=lambdas), LAMBDA_CONTEXT, "BeforeAllowTraffic"
    )
    assert done.verdict.reason.startswith("case happy: response differs from version 3")
    bodies["3"] = b'{"statusCode": 200, "total": 10, "requestId": "c"}'
    done = run(
        spec([differential], platform="lambda"), ports(clock, lambdas=lambdas), LAMBDA_CONTEXT, "BeforeAllowTraffic"
    )
    assert done.verdict.status == "Succeeded"


def metric_check(**fields: Any) -> dict[str, Any]:
    return {
        "name": "green-5xx",
        "type": "cloudwatchMetric",
        "window": {"lookbackSeconds": 300, "periodSeconds": 60},
        "queries": [{"id": "e", "expression": "m/r"}],
        "condition": "max(e) <= 0.01",
        "minDatapoints": 3,
        "sampling": {"count": 2, "intervalMs": 60000},
        **fields,
    }


def series(*values: float, complete: bool = True) -> MetricData:
    from datetime import UTC, datetime

    return MetricData(
        {"e": [(datetime.fromtimestamp(START + i * 60, UTC), v) for i, v in enumerate(values)]},
        complete,
        "Complete" if complete else "PartialData",
    )


def test_metric_condition_passes_and_fails() -> None:
    clock = Clock()
    good = Metrics(lambda n: series(0.0, 0.001, 0.002))
    assert run(spec([metric_check()]), ports(clock, metrics=good)).verdict.status == "Succeeded"
    bad = Metrics(lambda n: series(0.0, 0.03, 0.002))
    done = run(spec([metric_check()]), ports(Clock(), metrics=bad))
    assert done.verdict.reason.startswith("max(e) 0.03 > 0.01 (check green-5xx")


def test_too_few_datapoints_is_inconclusive_and_fails() -> None:
    done = run(spec([metric_check()]), ports(Clock(), metrics=Metrics(lambda n: series(0.0))))
    assert done.verdict.status == "Failed"
    assert "1 datapoint(s) < minDatapoints 3" in done.verdict.reason
    assert done.verdict.checks[0].status == "inconclusive"


def test_partial_data_is_never_decided_on() -> None:
    done = run(
        spec([metric_check(consecutiveErrorLimit=1)]),
        ports(Clock(), metrics=Metrics(lambda n: series(0.0, 0.0, 0.0, complete=False))),
    )
    assert done.verdict.status == "Failed"
    assert done.verdict.checks[0].status == "error"
    assert "PartialData" in done.verdict.reason


def test_throttled_apis_are_retried_then_fail_as_errors() -> None:
    clock = Clock()
    metrics = Metrics(throttled)
    done = run(spec([metric_check(consecutiveErrorLimit=2)]), ports(clock, metrics=metrics))
    assert done.verdict.status == "Failed"
    assert "3 errors in a row > consecutiveErrorLimit 2" in done.verdict.reason
    assert "ThrottlingException" in done.verdict.reason


def test_one_throttle_is_measured_again_and_can_still_pass() -> None:
    calls = {"n": 0}

    def answer(n: int) -> MetricData:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ToolError("GetMetricData: ThrottlingException")
        return series(0.0, 0.0, 0.0)

    done = run(spec([metric_check()]), ports(Clock(), metrics=Metrics(answer)))
    assert done.verdict.status == "Succeeded"
    assert done.verdict.checks[0].counts.errors == 1


def test_nan_datapoints_decide_nothing() -> None:
    done = run(spec([metric_check()]), ports(Clock(), metrics=Metrics(lambda n: series(0.0, float("nan"), 0.0))))
    assert done.verdict.status == "Failed"
    assert "not a finite number" in done.verdict.reason


def alarm_check(**fields: Any) -> dict[str, Any]:
    return {
        "name": "alarms",
        "type": "cloudwatchAlarm",
        "alarms": {"fromDeploymentGroup": True},
        "insufficientDataGraceSeconds": 60,
        "sampling": {"count": 3, "intervalMs": 10000},
        **fields,
    }


def test_alarms_that_never_leave_insufficient_data_fail_after_the_grace() -> None:
    clock = Clock()
    alarms = Alarms(lambda n: {"orders-5xx": "INSUFFICIENT_DATA"})
    done = run(spec([alarm_check()]), ports(clock, alarms=alarms))
    assert done.verdict.status == "Failed"
    assert done.verdict.reason.startswith("alarm orders-5xx is INSUFFICIENT_DATA after 60 s grace")
    assert clock.t - START >= 60


def test_insufficient_data_within_the_grace_then_ok_passes() -> None:
    alarms = Alarms(lambda n: {"orders-5xx": "INSUFFICIENT_DATA" if n < 2 else "OK"})
    assert run(spec([alarm_check()]), ports(Clock(), alarms=alarms)).verdict.status == "Succeeded"


def test_an_alarm_in_alarm_fails_and_a_missing_alarm_is_an_error() -> None:
    done = run(spec([alarm_check()]), ports(Clock(), alarms=Alarms(lambda n: {"orders-5xx": "ALARM"})))
    assert done.verdict.reason.startswith("alarm orders-5xx is ALARM")
    done = run(spec([alarm_check(consecutiveErrorLimit=0)]), ports(Clock(), alarms=Alarms(lambda n: {})))
    assert done.verdict.status == "Failed"
    assert "alarm orders-5xx does not exist" in done.verdict.reason


def test_no_alarms_to_watch_is_inconclusive() -> None:
    context = {**ECS_CONTEXT, "deployment": {"id": "d-1", "alarms": []}}
    done = run(spec([alarm_check()]), ports(Clock()), context=context)
    assert done.verdict.status == "Failed"
    assert "no alarms to watch" in done.verdict.reason


def target_check(**fields: Any) -> dict[str, Any]:
    return {
        "name": "targets",
        "type": "targetHealth",
        "targetGroup": "{{ ecs.green.targetGroupArn }}",
        "minTargets": "{{ ecs.green.desiredCount }}",
        "initialGraceSeconds": 30,
        "sampling": {"count": 2, "intervalMs": 10000},
        **fields,
    }


def test_a_target_the_load_balancer_routes_around_fails() -> None:
    states = [TargetState("10.0.0.1:80", "healthy"), TargetState("10.0.0.2:80", "unhealthy", "Target.Timeout")]
    done = run(spec([target_check()]), ports(Clock(), targets=Targets(lambda n: states)))
    assert done.verdict.status == "Failed"
    assert done.verdict.reason.startswith(
        "1 of 2 targets healthy (< 2 or < 100%): 10.0.0.2:80 unhealthy Target.Timeout"
    )


def test_initial_targets_are_allowed_only_within_the_grace() -> None:
    starting = Targets(lambda n: [TargetState("a", "initial" if n < 2 else "healthy"), TargetState("b", "healthy")])
    assert run(spec([target_check()]), ports(Clock(), targets=starting)).verdict.status == "Succeeded"
    stuck = Targets(lambda n: [TargetState("a", "initial"), TargetState("b", "healthy")])
    assert run(spec([target_check()]), ports(Clock(), targets=stuck)).verdict.status == "Failed"


def compare_check(**fields: Any) -> dict[str, Any]:
    return {
        "name": "vs-blue",
        "type": "compare",
        "test": "mannWhitney",
        "experiment": {"check": "green"},
        "control": {"request": {"url": "{{ ecs.prodListener.url }}/q"}, "sampling": {"count": 30, "intervalMs": 100}},
        "allowedIncrease": 1.2,
        "minSamplesPerSide": 20,
        **fields,
    }


def latency_by_side(green_ms: float) -> Any:
    import random

    rng = random.Random(3)  # noqa: S311 - seeded test data
    return lambda url, n: ok(rng.gauss(green_ms if "green" in url else 100, 5))


def test_green_slower_than_blue_beyond_the_allowed_increase_fails() -> None:
    clock = Clock()
    checks = [http_check("green", 30), compare_check()]
    done = run(spec(checks), ports(clock, http=Http(clock, latency_by_side(150))))
    assert done.verdict.status == "Failed"
    assert done.verdict.reason.startswith("green latency above blue x1.2 (median 1")
    clock = Clock()
    done = run(spec(checks), ports(clock, http=Http(clock, latency_by_side(110))))
    assert done.verdict.status == "Succeeded"


def test_too_few_samples_per_side_is_inconclusive_never_a_pass() -> None:
    clock = Clock()
    checks = [http_check("green", 5), compare_check()]
    done = run(spec(checks), ports(clock, http=Http(clock, latency_by_side(100))))
    assert done.verdict.status == "Failed"
    assert "latency samples green 5, blue 30 < minSamplesPerSide 20" in done.verdict.reason


def test_a_plan_longer_than_one_run_continues_from_its_state_and_decides_the_same() -> None:
    checks = [http_check("a", 30, sampling={"count": 30, "intervalMs": 10000}), alarm_check(), target_check()]
    answer_alarms = Alarms(lambda n: {"orders-5xx": "OK"})
    answer_targets = Targets(lambda n: [TargetState("a", "healthy"), TargetState("b", "healthy")])

    clock = Clock()
    whole = engine.run(
        spec(checks),
        HOOK,
        ECS_CONTEXT,
        ports(clock, http=Http(clock, lambda u, n: ok()), alarms=answer_alarms, targets=answer_targets),
        run_deadline=START + 10_000,
        hook_deadline=START + 10_000,
    )
    assert isinstance(whole, Done)

    clock = Clock()
    http = Http(clock, lambda u, n: ok())
    state: State | None = None
    runs = 0
    while True:
        runs += 1
        result = engine.run(
            spec(checks),
            HOOK,
            ECS_CONTEXT,
            ports(clock, http=http, alarms=answer_alarms, targets=answer_targets),
            run_deadline=clock.t + 120,
            hook_deadline=START + 3300,
            state=state,
        )
        if isinstance(result, Done):
            break
        assert isinstance(result, Continue)
        state = State.from_json(result.state.to_json())  # what a durable store keeps
        clock.t += 5  # the next run starts a little later
    assert runs >= 3
    assert result.verdict.status == whole.verdict.status == "Succeeded"
    assert len(http.requests) == 30
    assert result.state is not None and result.state.runs == runs
    assert [r.name for r in result.verdict.checks] == ["a", "alarms", "targets"]


def test_the_hooks_deadline_ends_the_check_inconclusive_and_failed() -> None:
    clock = Clock()
    http = Http(clock, lambda u, n: ok())
    long = http_check(count=100, sampling={"count": 100, "intervalMs": 10000})
    result = engine.run(
        spec([long]), HOOK, ECS_CONTEXT, ports(clock, http=http), run_deadline=START + 5000, hook_deadline=START + 300
    )
    assert isinstance(result, Done)
    assert result.verdict.status == "Failed"
    assert "the hook's deadline came first" in result.verdict.reason
    assert clock.t <= START + 300


def test_state_is_json_and_refuses_another_spec() -> None:
    clock = Clock()
    first = engine.run(
        spec([http_check(count=20)]),
        HOOK,
        ECS_CONTEXT,
        ports(clock, http=Http(clock, lambda u, n: ok())),
        run_deadline=START + 6,
        hook_deadline=START + 3300,
    )
    assert isinstance(first, Continue)
    text = first.state.to_json()
    assert json.loads(text)["version"] == 1
    other = spec([http_check(count=6)])
    done = run(other, ports(clock, http=Http(clock, lambda u, n: ok())), state=State.from_json(text))
    assert done.verdict.reason == "the spec changed while this hook was being validated"


def test_blue_is_judged_by_greens_assertions_in_an_error_comparison() -> None:
    def answer(url: str, n: int) -> Any:
        wrong = ("green" in url and n % 3 == 0) or ("blue" in url and n % 10 == 0)
        return ok(body=b'{"status": "degraded"}' if wrong else b'{"status": "ok"}')

    body_ok = {"status": [200], "body": [{"jsonPath": "$.status", "equals": "ok"}]}
    green = http_check("green", 60, body_ok, gating=False, failureLimit=59)
    errors = {
        "name": "errors-vs-blue",
        "type": "compare",
        "test": "twoProportion",
        "experiment": {"check": "green"},
        "control": {"request": {"url": "{{ ecs.prodListener.url }}/q"}, "sampling": {"count": 60, "intervalMs": 0}},
        "minSamplesPerSide": 50,
    }
    clock = Clock()
    done = run(spec([green, errors]), ports(clock, http=Http(clock, answer)))
    assert done.verdict.status == "Failed"
    assert done.verdict.reason.startswith("green error rate above blue +0 (20/60 vs 6/60")
    assert done.verdict.reason.endswith("(check errors-vs-blue, green 60 vs blue 60 samples)")


def test_a_run_too_short_for_one_slot_fails_instead_of_continuing_for_an_hour() -> None:
    clock = Clock()
    slow = http_check(request={"url": "{{ ecs.testListener.url }}", "timeoutMs": 30000})
    result = engine.run(
        spec([slow]), HOOK, ECS_CONTEXT, ports(clock), run_deadline=START + 20, hook_deadline=START + 3300
    )
    assert isinstance(result, Done)
    assert result.verdict.status == "Failed"
    assert "one slot needs 30 s, more than a run has" in result.verdict.reason


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "null",
        '{"version": 2}',
        '{"version": 1}',
        '{"version": 1, "specSha256": "x", "hook": "h", "startedAt": 1, "checkIndex": 0, "slot": 0,'
        ' "measurements": [{"check": "c", "i": 0, "outcome": "passed", "reason": ""}], "results": []}',
    ],
)
def test_a_state_that_is_not_one_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="not a validation state"):
        State.from_json(text)


def test_a_hook_that_is_not_one_fails_with_the_reason() -> None:
    done = run(spec([http_check()]), ports(Clock()), hook="Deploy")
    assert done.verdict.status == "Failed"
    assert "'Deploy' is not a CodeDeploy lifecycle hook" in done.verdict.reason
    assert (
        run(spec([http_check()]), ports(Clock()), hook="AfterInstall").verdict.reason
        == "the spec has no checks for AfterInstall"
    )
