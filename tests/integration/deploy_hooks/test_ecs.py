"""ECS blue/green deployments through the hook functions: green that passes, green that fails as real ones do."""

from __future__ import annotations

import botocore.endpoint
import pytest

from sandbox.aws.bluegreen import EcsStage
from sandbox.aws.moto_ext.throttling import throttled
from sandbox.aws.services import Behaviour, fixed, tail

from .conftest import Hooks, NoBackoff

SMOKE = """
version: 1
kind: HookValidation
name: web
platform: ecs
hooks: [AfterAllowTestTraffic]
checks:
  - name: green-smoke
    type: http
    request: {url: "{{ ecs.testListener.url }}/health", timeoutMs: 2000}
    assert:
      status: [200]
      body: [{jsonPath: "$.status", equals: ok}]
      latencyMs: {p50: "<=100", p99: "<=150"}
    sampling: {count: 30, intervalMs: 1000, concurrency: 5}
"""


def test_a_healthy_green_passes_and_the_deployment_succeeds(hooks: Hooks, ecs: EcsStage) -> None:
    # Given a spec for the group and a green service that answers as blue does
    hooks.put_spec(ecs.application, ecs.group, SMOKE)
    deployment_id = ecs.deploy(hooks.names(("AfterAllowTestTraffic",)))

    # When CodeDeploy runs the deployment through the hook function
    outcome = hooks.run(deployment_id)

    # Then the hook reported Succeeded once, and the probes reached green through the test listener
    assert outcome.status == "Succeeded", outcome.error
    assert [(r.status, r.answer) for r in hooks.reports(deployment_id)] == [("Succeeded", "accepted")]
    assert ecs.green.requests >= 30
    assert hooks.verdict()["verdict"] == "Succeeded"


def test_a_slow_tail_on_green_fails_p99_and_rolls_back(hooks: Hooks, ecs: EcsStage) -> None:
    # Given a green whose one request in five takes 300 ms
    hooks.put_spec(ecs.application, ecs.group, SMOKE)
    ecs.green.behave(Behaviour(body={"status": "ok"}, latency=tail(2, 300, 0.2)))
    deployment_id = ecs.deploy(hooks.names(("AfterAllowTestTraffic",)))

    outcome = hooks.run(deployment_id)

    # Then the hook failed on the p99 it measured, and CodeDeploy rolled back
    assert outcome.status == "Failed"
    assert outcome.rollback is not None
    assert [r.status for r in hooks.reports(deployment_id)] == ["Failed"]
    verdict = hooks.verdict()
    assert verdict["check"] == "green-smoke"
    assert "p99" in verdict["reason"] and "150" in verdict["reason"], verdict["reason"]
    # And the report is in the validation bucket, JSON and page, announced on the topic
    listed = hooks.sandbox.client("s3").list_objects_v2(Bucket=hooks.bucket, Prefix=f"reports/{ecs.application}/")
    keys = {item["Key"] for item in listed["Contents"]}
    assert f"reports/{ecs.application}/{deployment_id}/AfterAllowTestTraffic.html" in keys
    (notice,) = hooks.sandbox.notices()
    assert "AfterAllowTestTraffic Failed" in notice.subject
    assert verdict["reason"] in notice.message


def _run(hooks: Hooks, ecs: EcsStage, spec: str, hook: str = "AfterAllowTestTraffic") -> dict[str, object]:
    hooks.put_spec(ecs.application, ecs.group, spec)
    deployment_id = ecs.deploy(hooks.names((hook,)))
    outcome = hooks.run(deployment_id)
    reports = hooks.reports(deployment_id)
    assert len(reports) == 1, reports
    verdict = hooks.verdict()
    # The deployment ends as the one report said
    assert (outcome.status == "Succeeded") == (reports[0].status == "Succeeded") == (verdict["verdict"] == "Succeeded")
    return verdict


def test_intermittent_errors_beyond_the_failure_limit_fail_the_check(hooks: Hooks, ecs: EcsStage) -> None:
    ecs.green.behave(Behaviour(body={"status": "ok"}, error_rate=0.3))
    spec = SMOKE.replace('latencyMs: {p50: "<=100", p99: "<=150"}', 'latencyMs: {p99: "<=1000"}')
    verdict = _run(hooks, ecs, spec + "    failureLimit: 2\n")
    assert verdict["verdict"] == "Failed"
    assert "failureLimit 2" in str(verdict["reason"]) and "green-smoke" in str(verdict["reason"])


def test_consecutive_errors_fail_at_the_consecutive_limit(hooks: Hooks, ecs: EcsStage) -> None:
    ecs.green.behave(Behaviour(body={"status": "ok"}, consecutive_errors=3, error_status=503))
    spec = SMOKE + "    failureLimit: 10\n    consecutiveFailureLimit: 2\n"
    verdict = _run(hooks, ecs, spec)
    assert verdict["verdict"] == "Failed"
    assert "503" in str(verdict["reason"]) and "consecutiveFailureLimit 2" in str(verdict["reason"])


def test_a_wrong_body_behind_a_200_fails(hooks: Hooks, ecs: EcsStage) -> None:
    ecs.green.behave(Behaviour(body={"status": "degraded"}))
    verdict = _run(hooks, ecs, SMOKE)
    assert verdict["verdict"] == "Failed"
    assert verdict["check"] == "green-smoke"
    assert "$.status" in str(verdict["reason"])


TARGETS = """
version: 1
kind: HookValidation
name: web
platform: ecs
hooks: [AfterAllowTestTraffic]
checks:
  - name: green-smoke
    type: http
    request: {url: "{{ ecs.testListener.url }}/health"}
    assert: {status: [200]}
    sampling: {count: 10, intervalMs: 1000, concurrency: 2}
  - name: green-targets
    type: targetHealth
    targetGroup: "{{ ecs.green.targetGroupArn }}"
    minTargets: "{{ ecs.green.desiredCount }}"
    minHealthyPercent: 100
    sampling: {count: 2, intervalMs: 10000}
"""


def test_a_target_the_load_balancer_routes_around_fails_target_health(hooks: Hooks, ecs: EcsStage) -> None:
    # Given one of green's two targets unhealthy: the listener sends every request to the other
    for index in range(2):
        ecs.mark("green", index, "healthy")
    ecs.mark("green", 1, "unhealthy")
    verdict = _run(hooks, ecs, TARGETS)
    # Then the probes all passed, and the target health check failed the hook
    assert ecs.green.targets[1].requests == 0
    assert verdict["verdict"] == "Failed"
    assert verdict["check"] == "green-targets", verdict


def test_healthy_targets_pass_target_health(hooks: Hooks, ecs: EcsStage) -> None:
    for index in range(2):
        ecs.mark("green", index, "healthy")
    assert _run(hooks, ecs, TARGETS)["verdict"] == "Succeeded"


ALARMS = """
version: 1
kind: HookValidation
name: web
platform: ecs
hooks: [AfterAllowTestTraffic]
checks:
  - name: group-alarms
    type: cloudwatchAlarm
    alarms: {fromDeploymentGroup: true}
    acceptStates: [OK]
    insufficientDataGraceSeconds: 60
    sampling: {count: 3, intervalMs: 20000}
"""


def test_alarms_that_never_leave_insufficient_data_fail_after_their_grace(hooks: Hooks) -> None:
    # Given a deployment group whose alarm was just created (INSUFFICIENT_DATA, as CloudWatch starts it)
    cloudwatch = hooks.sandbox.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="web-5xx",
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    stage = EcsStage(hooks.sandbox.client, alarms=("web-5xx",))
    try:
        verdict = _run(hooks, stage, ALARMS)
    finally:
        stage.stop()
    assert verdict["verdict"] == "Failed"
    assert verdict["check"] == "group-alarms"
    assert "INSUFFICIENT_DATA" in str(verdict["reason"])


NO_TRAFFIC = """
version: 1
kind: HookValidation
name: web
platform: ecs
hooks: [AfterAllowTestTraffic]
checks:
  - name: green-requests
    type: cloudwatchMetric
    window: {lookbackSeconds: 300, periodSeconds: 60, endOffsetSeconds: 0}
    queries:
      - id: req
        metric:
          namespace: AWS/ApplicationELB
          name: RequestCount
          dimensions:
            LoadBalancer: "{{ ecs.loadBalancer.dimension }}"
            TargetGroup: "{{ ecs.green.targetGroupDimension }}"
        stat: Sum
    condition: "sum(req) >= 1"
    minDatapoints: 1
    sampling: {count: 2, intervalMs: 60000}
"""


def test_no_traffic_at_all_is_inconclusive_and_fails(hooks: Hooks, ecs: EcsStage) -> None:
    verdict = _run(hooks, ecs, NO_TRAFFIC)
    assert verdict["verdict"] == "Failed"
    assert verdict["check"] == "green-requests"


def test_throttled_apis_are_errors_that_fail_the_hook(
    hooks: Hooks, ecs: EcsStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given DescribeTargetHealth refused, every attempt botocore makes (its backoff on the simulated clock)
    monkeypatch.setattr(botocore.endpoint, "time", NoBackoff())
    for index in range(2):
        ecs.mark("green", index, "healthy")
    spec = TARGETS.replace("minHealthyPercent: 100", "minHealthyPercent: 100\n    consecutiveErrorLimit: 1")
    with throttled("elbv2", "DescribeTargetHealth", 100):
        verdict = _run(hooks, ecs, spec)
    # Then the check errs after its limit, naming the operation and code, and the hook fails closed
    assert verdict["verdict"] == "Failed"
    assert verdict["check"] == "green-targets"
    assert "DescribeTargetHealth" in str(verdict["reason"]) and "Throttling" in str(verdict["reason"])


def test_the_sandbox_names_the_hook_functions_as_the_template_does(hooks: Hooks) -> None:
    # CodeDeploy invokes them by these names (an AppSpec's Hooks, a DeploymentPreference)
    assert hooks.function("AfterAllowTestTraffic") == "CodeDeployHook_codereflex-AfterAllowTestTraffic"


COMPARE = """
version: 1
kind: HookValidation
name: web
platform: ecs
hooks: [AfterAllowTestTraffic]
checks:
  - name: green-probes
    type: http
    request: {url: "{{ ecs.testListener.url }}/health"}
    assert: {status: [200], latencyMs: {p99: "<=2000"}}
    sampling: {count: 30, intervalMs: 0, concurrency: 6}
  - name: green-vs-blue
    type: compare
    test: mannWhitney
    experiment: {check: green-probes}
    control: {request: {url: "{{ ecs.prodListener.url }}/health"}, sampling: {count: 30, intervalMs: 0, concurrency: 6}}
    allowedIncrease: 1.5
    minSamplesPerSide: 20
"""


def test_green_significantly_slower_than_blue_fails_the_comparison(hooks: Hooks, ecs: EcsStage) -> None:
    # Given green within its own absolute limit, but five times as slow as blue behind production
    ecs.blue.behave(Behaviour(body={"status": "ok"}, latency=fixed(4)))
    ecs.green.behave(Behaviour(body={"status": "ok"}, latency=fixed(40)))
    verdict = _run(hooks, ecs, COMPARE)
    assert verdict["verdict"] == "Failed"
    assert verdict["check"] == "green-vs-blue"
    assert "green 30 vs blue 30" in str(verdict["reason"]), verdict["reason"]
