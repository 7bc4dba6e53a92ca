"""Exactly one report per hook execution: duplicates, concurrency, crashes, hand-overs, refusals, bad input."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, cast

import botocore.endpoint
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from codereflex.aws.codedeploy import CodeDeployDeployments
from codereflex.aws.hookrecords import HookRecords
from codereflex.errors import TransientError
from codereflex.validation.probes import HttpProber
from sandbox.aws.bluegreen import EcsStage
from sandbox.aws.deployments import Invoker, router_invoker
from sandbox.aws.hooktime import QueuedContinuer
from sandbox.aws.moto_ext.throttling import throttled
from tests.conftest import AWS_SAMPLES, FakeLambdaContext, load_json

from .conftest import Hooks, NoBackoff
from .test_ecs import SMOKE

HOOK = "AfterAllowTestTraffic"
HOUR = 3600.0


def _deploy(hooks: Hooks, ecs: EcsStage, spec: str = SMOKE) -> str:
    hooks.put_spec(ecs.application, ecs.group, spec)
    return ecs.deploy(hooks.names((HOOK,)))


def _accepted(hooks: Hooks, deployment_id: str) -> list[str]:
    return [r.status for r in hooks.reports(deployment_id) if r.answer == "accepted"]


def test_duplicate_deliveries_report_once(hooks: Hooks, ecs: EcsStage) -> None:
    # Given CodeDeploy's payload delivered three times at once (at-least-once delivery)
    deployment_id = _deploy(hooks, ecs)
    outcome = hooks.run(deployment_id, copies=3)
    # Then one delivery validated and reported; the others (one after another, as the router runs them) did nothing
    assert outcome.status == "Succeeded"
    assert [(r.status, r.answer) for r in hooks.reports(deployment_id)] == [("Succeeded", "accepted")]
    assert sorted(a["outcome"] for a in hooks.answers()) == ["duplicate", "duplicate", "reported"]


@pytest.fixture
def direct(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The hook function's handler called directly, outside the router's one-at-a-time lock: truly concurrent."""
    spec = hooks.sandbox.router.function(f"DeployHook{HOOK}Function")
    for key, value in {**spec.environment, **hooks.sandbox.function_env()}.items():
        monkeypatch.setenv(key, value)
    yield hooks.app.lambda_handler


def _context(hooks: Hooks, request: int) -> LambdaContext:
    name = hooks.function(HOOK)
    context = FakeLambdaContext(
        function_name=name,
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        aws_request_id=f"request-{request}",
        remaining_ms=180_000,
    )
    return cast(LambdaContext, context)


def test_concurrent_invocations_of_one_execution_report_once(hooks: Hooks, ecs: EcsStage, direct: Any) -> None:
    # Given eight invocations of the same hook execution running at the same moment
    deployment_id = _deploy(hooks, ecs)
    answers: list[dict[str, Any]] = []

    def eight_at_once(payload: dict[str, Any]) -> None:
        start = threading.Barrier(8)

        def one(index: int) -> None:
            start.wait()
            try:
                answers.append(direct(dict(payload), _context(hooks, index)))
            except TransientError:
                answers.append({"outcome": "retry-later"})

        threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    outcome = hooks.run(deployment_id, invoker=lambda _function, payload: eight_at_once(payload))
    # Then exactly one PutLifecycleEventHookExecutionStatus call was made
    assert outcome.status == "Succeeded"
    assert [(r.status, r.answer) for r in hooks.reports(deployment_id)] == [("Succeeded", "accepted")]
    assert sorted(a["outcome"] for a in answers) == ["reported"] + ["retry-later"] * 7


class Killed(BaseException):
    """The execution environment dies (out of memory, a timeout): nothing in the handler can catch it."""


def _crashing(hooks: Hooks, monkeypatch: pytest.MonkeyPatch, target: Any, name: str, times: int = 1) -> Invoker:
    """Kill the function the first `times` calls of `target.name`; Lambda sees a function error and retries."""
    original = getattr(target, name)
    left = [times]

    def dying(*args: Any, **kwargs: Any) -> Any:
        if left[0] > 0:
            left[0] -= 1
            raise Killed
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, dying)
    base = router_invoker(hooks.sandbox)

    def invoke(function: str, payload: dict[str, Any]) -> Any:
        try:
            return base(function, payload)
        except Killed:
            raise RuntimeError("Runtime.ExitError: the execution environment died") from None

    return hooks.invoker(invoke)


def test_a_run_killed_while_measuring_is_reported_failed_by_a_retry_before_the_hour(
    hooks: Hooks, ecs: EcsStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run that dies in the middle of its probes, after it claimed the hook
    deployment_id = _deploy(hooks, ecs)
    invoker = _crashing(hooks, monkeypatch, HttpProber, "probe")
    started = hooks.clock.now()
    outcome = hooks.run(deployment_id, invoker=invoker)
    # Then a later retry (its lease over) took it over and reported Failed, once, well within the hour
    (report,) = hooks.reports(deployment_id)
    assert (report.status, report.answer) == ("Failed", "accepted")
    assert (report.at - started).total_seconds() < HOUR - 300
    assert outcome.status == "Failed"
    assert "ended without reporting" in hooks.verdict()["reason"]


@pytest.mark.parametrize(
    ("adapter", "method"),
    [
        # Nothing was claimed, so Lambda's retry validates from the start and decides on the evidence
        pytest.param(HookRecords, "create", id="killed-before-it-claimed-the-hook"),
        # The decided verdict is sent by the retry that takes the record over: one call in all
        pytest.param(CodeDeployDeployments, "report", id="killed-between-deciding-and-reporting"),
    ],
)
def test_a_run_killed_where_nothing_was_reported_ends_with_one_report_of_the_evidence(
    hooks: Hooks, ecs: EcsStage, monkeypatch: pytest.MonkeyPatch, adapter: type, method: str
) -> None:
    deployment_id = _deploy(hooks, ecs)
    invoker = _crashing(hooks, monkeypatch, adapter, method)
    outcome = hooks.run(deployment_id, invoker=invoker)
    assert outcome.status == "Succeeded"
    assert [(r.status, r.answer) for r in hooks.reports(deployment_id)] == [("Succeeded", "accepted")]


def test_an_unexpected_exception_reports_failed_at_once(
    hooks: Hooks, ecs: EcsStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment_id = _deploy(hooks, ecs)

    def broken(*_: Any, **__: Any) -> Any:
        raise KeyError("secret-looking-detail")

    monkeypatch.setattr(HttpProber, "probe", broken)
    outcome = hooks.run(deployment_id)
    assert outcome.status == "Failed"
    verdict = hooks.verdict()
    assert len(hooks.reports(deployment_id)) == 1
    # The error's type is named; its text (which could hold anything) is not
    assert "KeyError" in verdict["reason"] and "secret-looking-detail" not in verdict["reason"]


TOO_LONG = SMOKE.replace("count: 30, intervalMs: 1000, concurrency: 5", "count: 4000, intervalMs: 1000")
LONG = SMOKE.replace("count: 30, intervalMs: 1000, concurrency: 5", "count: 300, intervalMs: 1000, concurrency: 1")


def test_a_plan_longer_than_one_run_is_carried_across_runs_and_reported_once(hooks: Hooks, ecs: EcsStage) -> None:
    # Given a plan of 300 samples a second apart: five minutes, more than one 180 s run can measure
    deployment_id = _deploy(hooks, ecs, LONG)
    spans: list[float] = []
    base = router_invoker(hooks.sandbox)

    def timed(function: str, payload: dict[str, Any]) -> Any:
        started = hooks.clock.now()
        try:
            return base(function, payload)
        finally:
            spans.append((hooks.clock.now() - started).total_seconds())

    outcome = hooks.run(deployment_id, invoker=hooks.invoker(timed))
    # Then the runs handed over to each other through the record and the last one reported, once
    assert hooks.continuations >= 2
    assert [a["outcome"] for a in hooks.answers()].count("handed-over") == hooks.continuations
    assert [(r.status, r.answer) for r in hooks.reports(deployment_id)] == [("Succeeded", "accepted")]
    assert outcome.status == "Succeeded"
    assert ecs.green.requests >= 300
    # Each run ended (handed over or reported) at least 30 s before its 180 s were up
    assert len(spans) == hooks.continuations + 1
    assert max(spans) <= 180 - 30, spans


def test_a_continuation_nobody_handed_over_decides_nothing(hooks: Hooks, ecs: EcsStage) -> None:
    deployment_id = _deploy(hooks, ecs)
    hooks.run(deployment_id)
    (report,) = hooks.reports(deployment_id)
    function = f"DeployHook{HOOK}Function"
    # A continuation naming the finished execution, and one naming an execution never seen
    done = hooks.sandbox.invoke(function, {"codereflexContinuation": {"hookExecutionId": report.execution_id}})
    unknown = hooks.sandbox.invoke(function, {"codereflexContinuation": {"hookExecutionId": "forged"}})
    assert done["outcome"] == "duplicate"
    assert unknown["outcome"] == "ignored"
    assert len(hooks.reports(deployment_id)) == 1


def test_a_deployment_no_longer_in_progress_is_left_alone(hooks: Hooks, ecs: EcsStage) -> None:
    # Given a deployment that ended (its hook answered by someone else)
    deployment_id = _deploy(hooks, ecs)
    seen: list[dict[str, Any]] = []

    def other(payload: dict[str, Any]) -> None:
        seen.append(payload)
        hooks.sandbox.client("codedeploy").put_lifecycle_event_hook_execution_status(
            deploymentId=payload["DeploymentId"],
            lifecycleEventHookExecutionId=payload["LifecycleEventHookExecutionId"],
            status="Succeeded",
        )

    hooks.run(deployment_id, invoker=lambda _function, payload: other(payload))
    # When our function gets that execution late
    answer = hooks.sandbox.invoke(f"DeployHook{HOOK}Function", seen[0])
    # Then it reports nothing
    assert answer["outcome"] == "left-alone"
    assert len(hooks.reports(deployment_id)) == 1


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, "no validation spec for web-app/web-dg at s3://"),
        ("version: 1\nkind: HookValidation\nname: web\nplatform: ecs\nchecks: []\n", "spec s3://"),
        (
            SMOKE.replace("count: 30, intervalMs: 1000, concurrency: 5", "count: 4000, intervalMs: 1000"),
            "the plan can take",
        ),
        (SMOKE.replace("testListener.url", "stagingListener.url"), "is not known for ecs deployments"),
        (SMOKE.replace("platform: ecs", "platform: lambda").replace("hooks: [AfterAllowTestTraffic]", ""), "spec"),
    ],
    ids=["missing", "bad", "plan-too-long", "unknown-template", "wrong-platform"],
)
def test_a_spec_that_cannot_run_reports_failed_with_the_reason(
    hooks: Hooks, ecs: EcsStage, spec: str | None, expected: str
) -> None:
    if spec is not None:
        hooks.put_spec(ecs.application, ecs.group, spec)
    deployment_id = ecs.deploy(hooks.names((HOOK,)))
    outcome = hooks.run(deployment_id)
    assert outcome.status == "Failed"
    assert [r.status for r in hooks.reports(deployment_id)] == ["Failed"]
    assert expected in hooks.verdict()["reason"], hooks.verdict()["reason"]
    assert ecs.green.requests == 0  # refused before measuring anything


def test_a_value_the_deployment_does_not_have_yet_is_unresolved_and_fails(hooks: Hooks, ecs: EcsStage) -> None:
    # Given a BeforeInstall check on green's target group, which does not exist before Install
    spec = SMOKE.replace("hooks: [AfterAllowTestTraffic]", "hooks: [BeforeInstall]").replace(
        "{{ ecs.testListener.url }}/health", "{{ ecs.testListener.url }}/{{ ecs.green.taskSet }}"
    )
    hooks.put_spec(ecs.application, ecs.group, spec)
    deployment_id = ecs.deploy(hooks.names(("BeforeInstall",)))
    outcome = hooks.run(deployment_id)
    assert outcome.status == "Failed"
    assert "ecs.green.taskSet" in hooks.verdict()["reason"]


@pytest.mark.parametrize("sample", ["codedeploy-lifecycle-hook-ecs.json", "codedeploy-lifecycle-hook-lambda.json"])
def test_the_aws_samples_are_read_and_rejected_as_unreportable(hooks: Hooks, sample: str) -> None:
    # AWS's own samples name deployments that do not exist: read, then refused by CodeDeploy, never retried
    answer = hooks.sandbox.invoke(f"DeployHook{HOOK}Function", load_json(AWS_SAMPLES / sample))
    assert answer["outcome"] == "rejected"
    assert answer["reason"] == "unreportable"
    assert "InvalidDeploymentIdException" in answer["error"]
    assert hooks.reports() == []


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"DeploymentId": "d-ABCDEFGHI"},
        {"DeploymentId": 7, "LifecycleEventHookExecutionId": "x"},
        {"DeploymentId": "d-ABCDEFGHI", "LifecycleEventHookExecutionId": ""},
        {"codereflexContinuation": "x"},
        ["DeploymentId"],
    ],
    ids=["empty", "no-execution", "number", "empty-execution", "bad-continuation", "list"],
)
def test_malformed_payloads_report_nothing_and_say_why(hooks: Hooks, payload: Any) -> None:
    answer = hooks.sandbox.invoke(f"DeployHook{HOOK}Function", payload)
    assert answer["outcome"] == "rejected"
    assert answer["reason"] == "bad-event"
    assert "does not match the expected shape" in answer["error"]
    assert hooks.reports() == []


def test_a_deployment_that_cannot_be_read_reports_failed_naming_the_call(
    hooks: Hooks, ecs: EcsStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(botocore.endpoint, "time", NoBackoff())
    deployment_id = _deploy(hooks, ecs)
    with throttled("codedeploy", "GetDeployment", 5):
        outcome = hooks.run(deployment_id)
    assert outcome.status == "Failed"
    assert [r.status for r in hooks.reports(deployment_id)] == ["Failed"]
    assert "GetDeployment: ThrottlingException" in hooks.verdict()["reason"]


def test_codedeploys_duplicate_during_a_later_run_does_nothing_and_asks_no_retry(
    hooks: Hooks, ecs: EcsStage, direct: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a five-minute plan, and CodeDeploy's payload delivered again while its second run measures
    deployment_id = _deploy(hooks, ecs, LONG)
    payloads: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    probe = HttpProber.probe

    def probing(prober: HttpProber, request: Any, count: int) -> Any:
        record = hooks.sandbox.client("dynamodb").scan(TableName=_table(hooks))["Items"]
        runs = max((int(item["runs"]["N"]) for item in record if "runs" in item), default=0)
        if runs == 2 and payloads and not answers:
            answers.append(direct(dict(payloads[0]), _context(hooks, 99)))
        return probe(prober, request, count)

    monkeypatch.setattr(HttpProber, "probe", probing)
    base = hooks.invoker()

    def remember(function: str, payload: dict[str, Any]) -> Any:
        payloads.append(payload)
        return base(function, payload)

    outcome = hooks.run(deployment_id, invoker=remember)
    # Then that delivery was a plain duplicate (no retry asked of Lambda), and the hook reported once
    assert [a["outcome"] for a in answers] == ["duplicate"]
    assert outcome.status == "Succeeded"
    assert len(hooks.reports(deployment_id)) == 1


def _table(hooks: Hooks) -> str:
    return hooks.sandbox.router.function(f"DeployHook{HOOK}Function").environment["IDEMPOTENCY_TABLE"]


def test_a_report_refused_for_a_moment_is_sent_by_lambdas_retry(
    hooks: Hooks, ecs: EcsStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given PutLifecycleEventHookExecutionStatus throttled for every attempt of the first call
    monkeypatch.setattr(botocore.endpoint, "time", NoBackoff())
    deployment_id = _deploy(hooks, ecs)
    with throttled("codedeploy", "PutLifecycleEventHookExecutionStatus", 5):
        outcome = hooks.run(deployment_id)
    # Then the run released its record and raised; Lambda's retry sent the decided verdict, once
    assert outcome.status == "Succeeded"
    assert [(r.status, r.answer) for r in hooks.reports(deployment_id)] == [("Succeeded", "accepted")]
    assert any(isinstance(d.error, TransientError) for d in hooks.sandbox.deliveries)


def test_a_hand_over_that_cannot_be_made_reports_failed(
    hooks: Hooks, ecs: EcsStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a plan longer than one run, and Lambda refusing the function's invocation of itself
    def refused(_self: Any, _payload: Any) -> None:
        raise RuntimeError("TooManyRequestsException")

    monkeypatch.setattr(QueuedContinuer, "hand_over", refused)
    deployment_id = _deploy(hooks, ecs, LONG)
    outcome = hooks.run(deployment_id)
    # Then the run took its record back and failed closed, saying why
    assert outcome.status == "Failed"
    assert "could not hand over to the next run" in hooks.verdict()["reason"]
    assert len(hooks.reports(deployment_id)) == 1
