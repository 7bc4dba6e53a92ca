"""The deployment driver: hook order and payload, the hour limit, retries, duplicates, traffic, rollback, events."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sandbox.aws.bluegreen import EcsStage, LambdaStage
from sandbox.aws.deployments import Deployer, SimulatedClock, router_invoker
from sandbox.aws.moto_ext import codedeploy, install
from sandbox.lambdas.eventpattern import EventPattern
from sandbox.local import Sandbox

Payload = dict[str, Any]
Client = Callable[[str], Any]


@pytest.fixture
def client() -> Iterator[Client]:
    install()
    with mock_aws():
        clients: dict[str, Any] = {}

        def make(service: str) -> Any:
            if service not in clients:
                clients[service] = boto3.client(service, region_name="us-east-1")  # type: ignore[call-overload]
            return clients[service]

        yield make


@pytest.fixture
def ecs(client: Client) -> Iterator[EcsStage]:
    stage = EcsStage(client)
    yield stage
    stage.stop()


def reporter(client: Client, status: str, seen: list[tuple[str, Payload]], name: str) -> Callable[[Payload], None]:
    """A hook that records its payload and reports `status`, as a real hook function would."""

    def hook(payload: Payload) -> None:
        seen.append((name, payload))
        client("codedeploy").put_lifecycle_event_hook_execution_status(
            deploymentId=payload["DeploymentId"],
            lifecycleEventHookExecutionId=payload["LifecycleEventHookExecutionId"],
            status=status,
        )

    return hook


def body(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback stand-in
        return json.loads(answer.read())


def test_ecs_hooks_run_in_order_with_exactly_codedeploys_payload(client: Client, ecs: EcsStage) -> None:
    # Given an ECS deployment with a hook on each of the five scriptable events
    seen: list[tuple[str, Payload]] = []
    names = ["BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic"]
    deployment_id = ecs.deploy({name: f"CodeDeployHook_{name}" for name in names})
    hooks = {f"CodeDeployHook_{name}": reporter(client, "Succeeded", seen, name) for name in names}

    # When CodeDeploy runs it, invoking the functions the AppSpec names
    outcome = Deployer(lambda function, payload: hooks[function](payload), clock=SimulatedClock()).run(deployment_id)

    # Then each hook ran once, in CodeDeploy's order, with only the two documented fields, each its own execution
    assert outcome.status == "Succeeded"
    assert [name for name, _ in seen] == names
    assert all(set(payload) == {"DeploymentId", "LifecycleEventHookExecutionId"} for _, payload in seen)
    assert len({payload["LifecycleEventHookExecutionId"] for _, payload in seen}) == 5
    assert all(status == "Succeeded" for status in outcome.events.values())
    info = client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "Succeeded"
    # and production now reaches green
    assert body(ecs.prod_url)["colour"] == "green"


def test_the_test_listener_reaches_green_from_allow_test_traffic_and_production_only_after_allow_traffic(
    client: Client, ecs: EcsStage
) -> None:
    # Given hooks that probe both listeners
    views: dict[str, tuple[str, str]] = {}

    def probe(name: str) -> Callable[[Payload], None]:
        def hook(payload: Payload) -> None:
            views[name] = (body(ecs.test_url)["colour"], body(ecs.prod_url)["colour"])
            reporter(client, "Succeeded", [], name)(payload)

        return hook

    names = ["AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic"]

    # When the deployment runs
    Deployer(clock=SimulatedClock()).run(ecs.deploy(), hooks={name: probe(name) for name in names})

    # Then (test, production) route as CodeDeploy shifts them
    assert views == {
        "AfterInstall": ("blue", "blue"),
        "AfterAllowTestTraffic": ("green", "blue"),
        "BeforeAllowTraffic": ("green", "blue"),
        "AfterAllowTraffic": ("green", "green"),
    }


def test_a_failed_hook_rolls_back_traffic_and_says_so_as_codedeploy_does(client: Client, ecs: EcsStage) -> None:
    # Given a hook that reports Failed after production moved to green
    events: list[dict[str, Any]] = []
    hooks = {"AfterAllowTraffic": reporter(client, "Failed", [], "after")}

    # When the deployment runs
    outcome = Deployer(clock=SimulatedClock(), emit=events.append).run(ecs.deploy(), hooks=hooks)

    # Then it failed, named the hook, rolled traffic back to blue, and recorded the rollback deployment
    assert outcome.status == "Failed"
    assert outcome.error is not None and outcome.error["code"] == "HOOK_EXECUTION_FAILURE"
    assert "AfterAllowTraffic" in outcome.error["message"]
    assert body(ecs.prod_url)["colour"] == "blue"
    assert body(ecs.test_url)["colour"] == "blue"
    cd = client("codedeploy")
    info = cd.get_deployment(deploymentId=outcome.deployment_id)["deploymentInfo"]
    assert (info["status"], info["errorInformation"]["code"]) == ("Failed", "HOOK_EXECUTION_FAILURE")
    rollback = cd.get_deployment(deploymentId=info["rollbackInfo"]["rollbackDeploymentId"])["deploymentInfo"]
    assert (rollback["creator"], rollback["status"]) == ("codeDeployRollback", "Succeeded")
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == outcome.deployment_id
    assert [event["detail"]["state"] for event in events] == ["START", "FAILURE"]


def test_a_hook_that_never_reports_fails_the_deployment_after_one_hour(client: Client) -> None:
    # Given a Lambda deployment whose BeforeAllowTraffic hook returns without reporting
    stage = LambdaStage(client, [lambda e, c: "v1", lambda e, c: "v2"])
    clock = SimulatedClock()
    started = clock.now()

    # When CodeDeploy runs it
    outcome = Deployer(clock=clock).run(stage.deploy(), hooks={"BeforeAllowTraffic": lambda payload: None})

    # Then it waited exactly the hook limit, failed the event as timed out and skipped the rest
    assert clock.now() - started == codedeploy.HOOK_TIMEOUT
    assert outcome.status == "Failed"
    assert outcome.events == {"BeforeAllowTraffic": "Failed", "AllowTraffic": "Skipped", "AfterAllowTraffic": "Skipped"}
    assert outcome.error is not None and "timed out" in outcome.error["message"]
    # and traffic never moved
    assert client("lambda").get_alias(FunctionName="orders", Name="live")["FunctionVersion"] == "1"


def test_a_crashing_hook_is_retried_as_lambda_retries_asynchronous_invocations(client: Client) -> None:
    # Given a hook that crashes twice, then reports
    stage = LambdaStage(client, [lambda e, c: "v1", lambda e, c: "v2"])
    attempts: list[Payload] = []

    def flaky(payload: Payload) -> None:
        attempts.append(payload)
        if len(attempts) < 3:
            raise RuntimeError("cold dependency")
        reporter(client, "Succeeded", [], "flaky")(payload)

    # When the deployment runs
    outcome = Deployer(clock=SimulatedClock()).run(stage.deploy(), hooks={"BeforeAllowTraffic": flaky})

    # Then the same execution was delivered three times, and the third report decided
    assert outcome.status == "Succeeded"
    assert len({p["LifecycleEventHookExecutionId"] for p in attempts}) == 1 and len(attempts) == 3
    assert [call.error is not None for call in outcome.calls] == [True, True, False]


def test_duplicate_deliveries_at_once_are_accepted_once(client: Client) -> None:
    # Given a hook delivered four times at once, each copy reporting
    stage = LambdaStage(client, [lambda e, c: "v1", lambda e, c: "v2"])
    deployment_id = stage.deploy()

    def report(payload: Payload) -> None:
        try:
            reporter(client, "Succeeded", [], "copy")(payload)
        except client("codedeploy").exceptions.LifecycleEventAlreadyCompletedException:
            pass

    # When the deployment runs
    outcome = Deployer(clock=SimulatedClock(), copies=4).run(deployment_id, hooks={"AfterAllowTraffic": report})

    # Then CodeDeploy accepted exactly one report and refused the others as already completed
    answers = [r.answer for r in codedeploy.hook_reports(deployment_id)]
    assert outcome.status == "Succeeded"
    assert answers.count("accepted") == 1
    assert set(answers) == {"accepted", "LifecycleEventAlreadyCompletedException"} and len(answers) == 4


def test_a_lambda_canary_shifts_the_alias_in_steps_and_rolls_back_on_failure(client: Client) -> None:
    # Given a canary configuration and hooks that look at the alias
    stage = LambdaStage(
        client, [lambda e, c: "v1", lambda e, c: "v2"], config="CodeDeployDefault.LambdaCanary10Percent5Minutes"
    )
    lam = client("lambda")
    seen: dict[str, Any] = {}

    def after(payload: Payload) -> None:
        seen["alias"] = lam.get_alias(FunctionName="orders", Name="live")
        reporter(client, "Failed", [], "after")(payload)

    clock = SimulatedClock()
    started = clock.now()

    # When the deployment runs
    outcome = Deployer(clock=clock).run(stage.deploy(), hooks={"AfterAllowTraffic": after})

    # Then traffic went to version 2 after the canary's five minutes, and back to 1 on the failure
    assert seen["alias"]["FunctionVersion"] == "2"
    assert (clock.now() - started).total_seconds() >= 300
    assert outcome.status == "Failed"
    alias = lam.get_alias(FunctionName="orders", Name="live")
    assert alias["FunctionVersion"] == "1" and not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")


def test_an_alarm_in_alarm_stops_the_deployment(client: Client) -> None:
    # Given the deployment group watches an alarm that goes off while a hook runs
    cloudwatch = client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="web-dg-5xx",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    stage = EcsStage(client, alarms=["web-dg-5xx"])
    try:

        def alarming(payload: Payload) -> None:
            cloudwatch.set_alarm_state(AlarmName="web-dg-5xx", StateValue="ALARM", StateReason="5xx")

        # When the deployment runs
        outcome = Deployer(clock=SimulatedClock()).run(stage.deploy(), hooks={"AfterAllowTestTraffic": alarming})

        # Then CodeDeploy stopped it on the alarm and rolled back
        assert outcome.status == "Stopped"
        assert outcome.error is not None and outcome.error["code"] == "ALARM_ACTIVE"
        assert "web-dg-5xx" in outcome.error["message"]
        assert outcome.rollback is not None
        assert body(stage.test_url)["colour"] == "blue"
    finally:
        stage.stop()


def test_deployment_events_match_the_aws_sample_and_the_templates_patterns(
    client: Client, aws_sample: Callable[[str], dict[str, Any]]
) -> None:
    # Given the EventBridge sample of a deployment state change
    sample = aws_sample("codedeploy-deployment-state-change.json")
    stage = LambdaStage(client, [lambda e, c: "v1", lambda e, c: "v2"])
    events: list[dict[str, Any]] = []

    # When a deployment runs to success
    Deployer(clock=SimulatedClock(), emit=events.append).run(stage.deploy())

    # Then its events have the sample's fields, and a rule written for the sample matches them
    assert [event["detail"]["state"] for event in events] == ["START", "SUCCESS"]
    for event in events:
        assert set(event) == set(sample) and set(event["detail"]) == set(sample["detail"])
        assert event["detail-type"] == sample["detail-type"] and event["source"] == sample["source"]
    pattern = EventPattern(
        {"source": ["aws.codedeploy"], "detail-type": [sample["detail-type"]], "detail": {"state": ["SUCCESS"]}}
    )
    assert pattern.matches(events[-1]) and pattern.matches(sample)


def unmodelled(value: Any, shape: Any, path: str = "") -> list[str]:
    """Every key in `value` that botocore's shape does not model (botocore's parser would drop it silently)."""
    if shape.type_name == "structure":
        found = []
        for key, item in value.items():
            if key not in shape.members:
                found.append(f"{path}.{key}")
            else:
                found += unmodelled(item, shape.members[key], f"{path}.{key}")
        return found
    if shape.type_name == "list":
        return [miss for i, item in enumerate(value) for miss in unmodelled(item, shape.member, f"{path}[{i}]")]
    if shape.type_name == "map":
        return [miss for key, item in value.items() for miss in unmodelled(item, shape.value, f"{path}.{key}")]
    return []


def test_every_field_the_sandbox_sends_is_one_botocore_models(client: Client, ecs: EcsStage) -> None:
    # Given an ECS deployment that failed and rolled back, and a Lambda one that succeeded
    ecs_id = ecs.deploy()
    Deployer(clock=SimulatedClock()).run(ecs_id, hooks={"AfterAllowTraffic": reporter(client, "Failed", [], "x")})
    stage = LambdaStage(client, [lambda e, c: 1, lambda e, c: 2])
    lambda_id = stage.deploy()
    Deployer(clock=SimulatedClock()).run(lambda_id)
    backend = codedeploy.backend_for()
    model = client("codedeploy").meta.service_model

    # When the raw answers are checked against botocore's codedeploy model (its shapes, not the parsed result)
    missing = []
    for deployment_id in (ecs_id, lambda_id):
        deployment = backend.deployments[deployment_id]
        missing += unmodelled(codedeploy.deployment_info(backend, deployment), model.shape_for("DeploymentInfo"))
        group = codedeploy.deployment_group_info(backend, deployment.deployment_group)
        missing += unmodelled(group, model.shape_for("DeploymentGroupInfo"))
        target = backend.sandbox_target(deployment_id).to_api(deployment_id)
        missing += unmodelled(target, model.shape_for("DeploymentTarget"))

    # Then nothing is misspelt or invented (ECS's task sets keep botocore's `identifer`)
    assert missing == []


def test_hooks_named_by_the_appspec_run_as_template_functions_through_the_router() -> None:
    # Given a running sandbox and a deployment whose hook names a template function (one that is no hook)
    with Sandbox() as sandbox:
        stage = LambdaStage(sandbox.client, [lambda e, c: 1, lambda e, c: 2])
        function = sandbox.router.function("RepoActivityFunction").function_name
        deployment_id = stage.deploy({"BeforeAllowTraffic": function})

        # When CodeDeploy runs it
        outcome = Deployer(router_invoker(sandbox), clock=SimulatedClock()).run(deployment_id)

        # Then the function got CodeDeploy's payload through the router, never reported, and the hook failed closed
        (delivery,) = [d for d in sandbox.deliveries if d.logical_id == "RepoActivityFunction"]
        assert set(delivery.event) == {"DeploymentId", "LifecycleEventHookExecutionId"}
        assert outcome.status == "Failed"
        assert outcome.error is not None and "timed out" in outcome.error["message"]
