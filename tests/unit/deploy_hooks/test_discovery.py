"""What is under test, from CodeDeploy's and ELBv2's answers: the context the spec's templates read."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from codereflex.aws.codedeploy import Deployment
from codereflex.aws.elbv2 import Listener
from codereflex.errors import BadEvent
from codereflex.events.codedeploy import Continuation, HookInvocation, read
from codereflex.validation.templates import resolve
from deploy_hooks.discovery import NotFound, event_status, find
from deploy_hooks.specs import MissingSpec, load_spec

STARTED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb/50dc6c495c0c9188"


class FakeDeployments:
    def __init__(self, targets: list[dict[str, Any]], appspec: str = "", group: Mapping[str, Any] | None = None):
        self._targets, self._appspec, self._group = targets, appspec, dict(group or {})

    def deployment(self, deployment_id: str) -> Deployment:
        raise AssertionError("not asked")

    def group(self, application: str, group: str) -> dict[str, Any]:
        return self._group

    def targets(self, deployment_id: str) -> list[dict[str, Any]]:
        return self._targets

    def appspec(self, application: str, revision: Mapping[str, Any]) -> str:
        return self._appspec


class FakeBalancers:
    def listener(self, listener_arn: str) -> Listener:
        port = 8443 if listener_arn.endswith("test") else 443
        return Listener(listener_arn, f"https://web.example.com:{port}", LB)

    def target_group_arns(self, names: list[str]) -> dict[str, str]:
        return {
            n: f"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{n}/0123456789abcdef" for n in names
        }


def _deployment(platform: str) -> Deployment:
    return Deployment("d-ABCDEFGHI", "app", "group", platform, "InProgress", {"revisionType": "AppSpecContent"})


def _lambda_target(info: Mapping[str, Any]) -> dict[str, Any]:
    events = [{"lifecycleEventName": "BeforeAllowTraffic", "status": "InProgress", "startTime": STARTED}]
    return {"lambdaTarget": {"lambdaFunctionInfo": dict(info), "lifecycleEvents": events}}


@pytest.mark.parametrize(
    "properties",
    [
        {"Name": "orders", "Alias": "live", "CurrentVersion": "3", "TargetVersion": "4"},
        {"name": "orders", "alias": "live", "currentversion": "3", "targetversion": "4"},
        {"NAME": "orders", "alias": "live", "CurrentVersion": "3", "targetVersion": "4"},
    ],
    ids=["capitalised", "lower-case", "mixed"],
)
def test_the_lambda_versions_come_from_the_appspec_in_any_case_when_the_target_has_none(
    properties: dict[str, str],
) -> None:
    appspec = json.dumps(
        {"version": 0.0, "Resources": [{"orders": {"Type": "AWS::Lambda::Function", "Properties": properties}}]}
    )
    deployments = FakeDeployments([_lambda_target({})], appspec)
    found = find(_deployment("Lambda"), "BeforeAllowTraffic", "x", deployments, FakeBalancers())
    assert found.context["lambda"] == {
        "functionName": "orders", "alias": "live", "currentVersion": "3", "targetVersion": "4"
    }  # fmt: skip
    assert found.event_started_at == STARTED.timestamp()


def test_a_yaml_appspec_is_read_too() -> None:
    appspec = "version: 0.0\nresources:\n  - orders:\n      type: AWS::Lambda::Function\n      properties:\n" \
        "        name: orders\n        alias: live\n        currentversion: 1\n        targetversion: 2\n"  # fmt: skip
    found = find(
        _deployment("Lambda"),
        "BeforeAllowTraffic",
        "x",
        FakeDeployments([_lambda_target({})], appspec),
        FakeBalancers(),
    )
    assert found.context["lambda"]["targetVersion"] == "2"


def test_the_targets_own_versions_win() -> None:
    info = {"functionName": "orders", "functionAlias": "live", "currentVersion": "7", "targetVersion": "8"}
    found = find(
        _deployment("Lambda"), "BeforeAllowTraffic", "x", FakeDeployments([_lambda_target(info)]), FakeBalancers()
    )
    assert resolve("{{ lambda.targetVersion }}", found.context) == "8"


def test_a_lambda_deployment_naming_no_version_is_not_found() -> None:
    with pytest.raises(NotFound, match="targetVersion"):
        find(
            _deployment("Lambda"),
            "BeforeAllowTraffic",
            "x",
            FakeDeployments([_lambda_target({"functionName": "f"})]),
            FakeBalancers(),
        )


GROUP = {
    "ecsServices": [{"serviceName": "web", "clusterName": "shop"}],
    "alarmConfiguration": {"enabled": True, "alarms": [{"name": "web-5xx"}, {"name": "web-p99"}]},
    "loadBalancerInfo": {
        "targetGroupPairInfoList": [
            {
                "targetGroups": [{"name": "web-blue"}, {"name": "web-green"}],
                "prodTrafficRoute": {"listenerArns": ["arn:listener/prod"]},
                "testTrafficRoute": {"listenerArns": ["arn:listener/test"]},
            }
        ]
    },
}


def _ecs_target(*colours: str) -> dict[str, Any]:
    sets = [
        {
            "identifer": f"ecs-svc/{c}",
            "taskSetLabel": c.capitalize(),
            "targetGroup": {"name": f"web-{c}"},
            "desiredCount": 3,
        }
        for c in colours
    ]
    return {
        "ecsTarget": {
            "taskSetsInfo": sets,
            "lifecycleEvents": [{"lifecycleEventName": "AfterAllowTestTraffic", "status": "InProgress"}],
        }
    }


def test_the_ecs_context_names_listeners_task_sets_target_groups_and_the_groups_alarms() -> None:
    found = find(
        _deployment("ECS"),
        "AfterAllowTestTraffic",
        "x",
        FakeDeployments([_ecs_target("blue", "green")], group=GROUP),
        FakeBalancers(),
    )
    context = found.context
    assert resolve("{{ ecs.testListener.url }}/health", context) == "https://web.example.com:8443/health"
    assert resolve("{{ ecs.prodListener.url }}", context) == "https://web.example.com:443"
    assert resolve("{{ ecs.green.targetGroupDimension }}", context) == "targetgroup/web-green/0123456789abcdef"
    assert resolve("{{ ecs.loadBalancer.dimension }}", context) == "app/web-alb/50dc6c495c0c9188"
    assert resolve("{{ ecs.green.desiredCount }}", context) == 3
    assert resolve("{{ ecs.blue.taskSet }}", context) == "ecs-svc/blue"
    assert context["deployment"]["alarms"] == ["web-5xx", "web-p99"]
    assert (context["ecs"]["cluster"], context["ecs"]["service"]) == ("shop", "web")


def test_before_install_has_no_green_yet() -> None:
    found = find(
        _deployment("ECS"), "BeforeInstall", "x", FakeDeployments([_ecs_target("blue")], group=GROUP), FakeBalancers()
    )
    assert "green" not in found.context["ecs"]


def test_disabled_alarms_are_not_the_groups_alarms() -> None:
    group = {**GROUP, "alarmConfiguration": {"enabled": False, "alarms": [{"name": "web-5xx"}]}}
    found = find(
        _deployment("ECS"),
        "AfterAllowTestTraffic",
        "x",
        FakeDeployments([_ecs_target("blue", "green")], group=group),
        FakeBalancers(),
    )
    assert found.context["deployment"]["alarms"] == []


def test_event_status_reads_the_hooks_lifecycle_event() -> None:
    assert event_status([_ecs_target("blue")], "afterallowtesttraffic") == "InProgress"
    assert event_status([_ecs_target("blue")], "BeforeInstall") is None


class FakeSpecs:
    bucket = "specs-bucket"

    def __init__(self, objects: Mapping[str, bytes]) -> None:
        self.objects = dict(objects)

    def read(self, key: str) -> bytes | None:
        return self.objects.get(key)


SPEC = json.dumps(
    {
        "version": 1,
        "kind": "HookValidation",
        "name": "s",
        "platform": "lambda",
        "checks": [
            {
                "name": "a",
                "type": "cloudwatchAlarm",
                "hooks": ["AfterAllowTraffic"],
                "alarms": {"fromDeploymentGroup": True},
                "sampling": {"count": 1},
            }
        ],
    }
).encode()


def test_the_spec_is_read_from_its_groups_key() -> None:
    spec = load_spec(FakeSpecs({"specs/app/group.json": SPEC}), _deployment("Lambda"), 180)
    assert spec.name == "s"


def test_a_missing_spec_and_two_specs_are_refused_naming_where() -> None:
    with pytest.raises(
        MissingSpec, match=r"s3://specs-bucket/specs/app/group\.yaml or s3://specs-bucket/specs/app/group\.json"
    ):
        load_spec(FakeSpecs({}), _deployment("Lambda"), 180)
    both = {"specs/app/group.json": SPEC, "specs/app/group.yaml": SPEC}
    with pytest.raises(MissingSpec, match="keep one"):
        load_spec(FakeSpecs(both), _deployment("Lambda"), 180)


def test_payloads_and_continuations_are_read_apart() -> None:
    assert read({"DeploymentId": "d-1", "LifecycleEventHookExecutionId": "e"}) == HookInvocation("d-1", "e")
    assert read({"codereflexContinuation": {"hookExecutionId": "e"}}) == Continuation("e")
    with pytest.raises(BadEvent, match="LifecycleEventHookExecutionId"):
        read({"DeploymentId": "d-1", "LifecycleEventHookExecutionId": "e\n"})
