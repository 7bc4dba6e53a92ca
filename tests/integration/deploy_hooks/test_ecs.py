"""ECS blue/green deployments through the hook functions: green that passes, green that fails as real ones do."""

from __future__ import annotations

from sandbox.aws.bluegreen import EcsStage
from sandbox.aws.services import Behaviour, tail

from .conftest import Hooks

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
