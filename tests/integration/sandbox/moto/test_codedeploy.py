"""CodeDeploy: hook execution status, deployment targets, revisions and deployment details, in-process and over HTTP."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from sandbox.aws.moto_ext import codedeploy
from sandbox.aws.moto_ext.codedeploy import LAMBDA_EVENTS, LifecycleEvent, Target, hook_reports

if TYPE_CHECKING:
    from collections.abc import Callable

    from .conftest import Aws

ROLE = "arn:aws:iam::123456789012:role/codedeploy"
# The reference section of the user guide writes AppSpec keys in lower case; CodeDeploy accepts both.
APPSPEC = """version: 0.0
resources:
  - orders:
      type: AWS::Lambda::Function
      properties:
        name: orders
        alias: live
        currentversion: '1'
        targetversion: '2'
"""
REVISION = {"revisionType": "AppSpecContent", "appSpecContent": {"content": APPSPEC}}


@pytest.fixture
def client(aws: Aws) -> Any:
    return aws.session.client("codedeploy", region_name="us-east-1", endpoint_url=aws.endpoint_url)


def _lambda_group(client: Any, **options: Any) -> None:
    client.create_application(applicationName="orders-app", computePlatform="Lambda")
    client.create_deployment_group(
        applicationName="orders-app",
        deploymentGroupName="orders-dg",
        serviceRoleArn=ROLE,
        deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        **options,
    )


def _started(client: Any) -> tuple[str, str]:
    """A Lambda deployment whose BeforeAllowTraffic hook is running: (deployment id, hook execution id)."""
    _lambda_group(client)
    deployment_id = client.create_deployment(
        applicationName="orders-app", deploymentGroupName="orders-dg", revision=REVISION
    )["deploymentId"]
    backend = codedeploy.backend_for()
    target = Target(
        "lambdaTarget",
        "orders:live",
        "arn:aws:lambda:us-east-1:123456789012:function:orders:live",
        [LifecycleEvent(name) for name in LAMBDA_EVENTS],
        backend.sandbox_state.clock(),
        lambda_function_info={
            "functionName": "orders",
            "functionAlias": "live",
            "currentVersion": "1",
            "targetVersion": "2",
        },
    )
    backend.start_deployment(deployment_id, target)
    execution_id = backend.begin_event(deployment_id, "BeforeAllowTraffic", hook=True)
    assert execution_id is not None
    return deployment_id, execution_id


def _code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def test_a_hook_reports_once_and_a_second_report_is_already_completed(client: Any) -> None:
    # Given a deployment whose BeforeAllowTraffic hook is running
    deployment_id, execution_id = _started(client)

    # When the hook reports Succeeded, and then reports again
    answer = client.put_lifecycle_event_hook_execution_status(
        deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status="Succeeded"
    )
    again = _code(
        lambda: client.put_lifecycle_event_hook_execution_status(
            deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status="Failed"
        )
    )

    # Then the first is accepted, the event Succeeded, and the second refused as CodeDeploy refuses a late callback
    assert answer["lifecycleEventHookExecutionId"] == execution_id
    assert again == "LifecycleEventAlreadyCompletedException"
    target = client.batch_get_deployment_targets(deploymentId=deployment_id, targetIds=["orders:live"])
    events = target["deploymentTargets"][0]["lambdaTarget"]["lifecycleEvents"]
    assert [(e["lifecycleEventName"], e["status"]) for e in events] == [
        ("BeforeAllowTraffic", "Succeeded"),
        ("AllowTraffic", "Pending"),
        ("AfterAllowTraffic", "Pending"),
    ]
    assert [r.answer for r in hook_reports(deployment_id)] == ["accepted", "LifecycleEventAlreadyCompletedException"]


@pytest.mark.parametrize(
    ("deployment_id", "execution_id", "status", "code"),
    [
        ("", "ok", "Succeeded", "DeploymentIdRequiredException"),
        ("d-ABCDEF", "ok", "Succeeded", "InvalidDeploymentIdException"),
        ("12345678-uuid", "ok", "Succeeded", "InvalidDeploymentIdException"),
        ("d-ZZZZZZZZZ", "ok", "Succeeded", "DeploymentDoesNotExistException"),
        ("ours", "ok", "Skipped", "InvalidLifecycleEventHookExecutionStatusException"),
        ("ours", "ok", "InProgress", "InvalidLifecycleEventHookExecutionStatusException"),
        ("ours", "not-an-execution", "Succeeded", "InvalidLifecycleEventHookExecutionIdException"),
    ],
)
def test_reports_that_cannot_be_accepted_get_codedeploys_errors(
    client: Any, deployment_id: str, execution_id: str, status: str, code: str
) -> None:
    # Given a running hook
    ours, real_execution = _started(client)

    # When a report names a missing, malformed or unknown deployment, a bad status or another execution
    params = {
        "deploymentId": ours if deployment_id == "ours" else deployment_id,
        "lifecycleEventHookExecutionId": real_execution if execution_id == "ok" else execution_id,
        "status": status,
    }

    # Then CodeDeploy's modelled error answers, and the hook is still waiting
    assert _code(lambda: client.put_lifecycle_event_hook_execution_status(**params)) == code
    assert codedeploy.backend_for().event_status(ours, "BeforeAllowTraffic") == "InProgress"


def test_an_execution_id_of_another_deployment_is_invalid_for_this_one(client: Any) -> None:
    # Given two deployments with running hooks
    first, first_execution = _started(client)
    second = client.create_deployment(applicationName="orders-app", deploymentGroupName="orders-dg", revision=REVISION)[
        "deploymentId"
    ]
    codedeploy.backend_for().start_deployment(
        second,
        Target(
            "lambdaTarget", "orders:live", "arn", [LifecycleEvent(n) for n in LAMBDA_EVENTS], codedeploy._wall_clock()
        ),
    )

    # When the first deployment's execution id is reported against the second
    code = _code(
        lambda: client.put_lifecycle_event_hook_execution_status(
            deploymentId=second, lifecycleEventHookExecutionId=first_execution, status="Succeeded"
        )
    )

    # Then it is refused and the first deployment's hook still waits
    assert code == "InvalidLifecycleEventHookExecutionIdException"
    assert codedeploy.backend_for().event_status(first, "BeforeAllowTraffic") == "InProgress"


def test_a_report_after_the_hour_is_already_completed_and_the_event_failed(client: Any) -> None:
    # Given a running hook and a clock a test controls
    deployment_id, execution_id = _started(client)
    backend = codedeploy.backend_for()
    started = backend.sandbox_state.clock()
    backend.sandbox_state.clock = lambda: started + codedeploy.HOOK_TIMEOUT

    # When the hook reports exactly one hour later
    code = _code(
        lambda: client.put_lifecycle_event_hook_execution_status(
            deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status="Succeeded"
        )
    )

    # Then CodeDeploy has already failed the event as timed out
    assert code == "LifecycleEventAlreadyCompletedException"
    event = backend.sandbox_target(deployment_id).event("BeforeAllowTraffic")
    assert (event.status, (event.diagnostics or {})["errorCode"]) == ("Failed", "ScriptTimedOut")


def test_server_deployments_do_not_take_hook_reports(client: Any) -> None:
    # Given an EC2/on-premises deployment (hooks there are scripts, not Lambda functions)
    client.create_application(applicationName="servers", computePlatform="Server")
    client.create_deployment_group(applicationName="servers", deploymentGroupName="fleet", serviceRoleArn=ROLE)
    revision = {"revisionType": "S3", "s3Location": {"bucket": "b", "key": "app.zip", "bundleType": "zip"}}
    deployment_id = client.create_deployment(applicationName="servers", deploymentGroupName="fleet", revision=revision)[
        "deploymentId"
    ]

    # Then a hook report for it is not supported
    code = _code(
        lambda: client.put_lifecycle_event_hook_execution_status(
            deploymentId=deployment_id, lifecycleEventHookExecutionId="x", status="Succeeded"
        )
    )
    assert code == "UnsupportedActionForDeploymentTypeException"


def test_targets_are_listed_only_once_the_deployment_started(client: Any) -> None:
    # Given a created deployment that has not started
    _lambda_group(client)
    deployment_id = client.create_deployment(
        applicationName="orders-app", deploymentGroupName="orders-dg", revision=REVISION
    )["deploymentId"]

    # Then its targets cannot be listed yet
    assert _code(lambda: client.list_deployment_targets(deploymentId=deployment_id)) == "DeploymentNotStartedException"


def test_batch_get_deployment_targets_refuses_what_is_not_this_deployments_one_target(client: Any) -> None:
    deployment_id, _ = _started(client)
    batch = client.batch_get_deployment_targets

    assert _code(lambda: batch(deploymentId=deployment_id, targetIds=[])) == "DeploymentTargetIdRequiredException"
    assert (
        _code(lambda: batch(deploymentId=deployment_id, targetIds=["a", "b"]))
        == "DeploymentTargetListSizeExceededException"
    )
    assert (
        _code(lambda: batch(deploymentId=deployment_id, targetIds=["other:live"]))
        == "DeploymentTargetDoesNotExistException"
    )
    assert _code(
        lambda: client.list_deployment_targets(deploymentId=deployment_id, targetFilters={"Colour": ["x"]})
    ) == ("InvalidTargetFilterNameException")
    listed = client.list_deployment_targets(deploymentId=deployment_id, targetFilters={"TargetStatus": ["InProgress"]})
    assert listed["targetIds"] == ["orders:live"]
    one = client.get_deployment_target(deploymentId=deployment_id, targetId="orders:live")["deploymentTarget"]
    assert one["lambdaTarget"]["lambdaFunctionInfo"]["targetVersion"] == "2"
    assert _code(lambda: client.get_deployment_target(deploymentId=deployment_id, targetId="x")) == (
        "DeploymentTargetDoesNotExistException"
    )


def test_get_deployment_never_returns_the_appspec_but_get_application_revision_does(client: Any) -> None:
    # Given a Lambda deployment made from an AppSpec
    _lambda_group(client, alarmConfiguration={"enabled": True, "alarms": [{"name": "orders-errors"}]})
    deployment_id = client.create_deployment(
        applicationName="orders-app", deploymentGroupName="orders-dg", revision=REVISION
    )["deploymentId"]

    # When a hook reads the deployment, then its revision, then its group
    info = client.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    revision = client.get_application_revision(applicationName="orders-app", revision=info["revision"])
    group = client.get_deployment_group(applicationName="orders-app", deploymentGroupName="orders-dg")[
        "deploymentGroupInfo"
    ]

    # Then the deployment has CodeDeploy's id format and only the AppSpec's sha256; the revision has its text
    assert deployment_id.startswith("d-") and len(deployment_id) == 11
    assert "content" not in info["revision"]["appSpecContent"]
    assert len(info["revision"]["appSpecContent"]["sha256"]) == 64
    assert (info["computePlatform"], info["deploymentConfigName"]) == ("Lambda", "CodeDeployDefault.LambdaAllAtOnce")
    assert "errorInformation" not in info and "rollbackInfo" not in info
    assert revision["revision"]["appSpecContent"]["content"] == APPSPEC
    assert revision["revisionInfo"]["deploymentGroups"] == ["orders-dg"]
    assert group["alarmConfiguration"]["alarms"] == [{"name": "orders-errors"}]
    assert group["lastAttemptedDeployment"]["deploymentId"] == deployment_id


def test_an_unknown_revision_is_refused(client: Any) -> None:
    _lambda_group(client)
    other = {"revisionType": "AppSpecContent", "appSpecContent": {"sha256": "0" * 64}}

    assert _code(lambda: client.get_application_revision(applicationName="orders-app", revision=other)) == (
        "RevisionDoesNotExistException"
    )
    assert _code(lambda: client.get_application_revision(applicationName="nope", revision=other)) == (
        "ApplicationDoesNotExistException"
    )


def test_ecs_group_details_are_as_botocore_models_them(client: Any) -> None:
    # Given an ECS deployment group with listeners, target groups, services and alarms
    pair = {
        "targetGroups": [{"name": "web-blue"}, {"name": "web-green"}],
        "prodTrafficRoute": {
            "listenerArns": ["arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/a/1/p"]
        },
        "testTrafficRoute": {
            "listenerArns": ["arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/a/1/t"]
        },
    }
    client.create_application(applicationName="web", computePlatform="ECS")
    client.create_deployment_group(
        applicationName="web",
        deploymentGroupName="web-dg",
        serviceRoleArn=ROLE,
        ecsServices=[{"serviceName": "web", "clusterName": "shop"}],
        loadBalancerInfo={"targetGroupPairInfoList": [pair]},
        deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        blueGreenDeploymentConfiguration={"deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"}},
        alarmConfiguration={"enabled": True, "alarms": [{"name": "web-5xx"}]},
    )
    content = json.dumps({"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service"}}]})
    deployment_id = client.create_deployment(
        applicationName="web",
        deploymentGroupName="web-dg",
        revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": content}},
    )["deploymentId"]

    # When a hook reads them
    group = client.get_deployment_group(applicationName="web", deploymentGroupName="web-dg")["deploymentGroupInfo"]
    info = client.get_deployment(deploymentId=deployment_id)["deploymentInfo"]

    # Then they carry what it needs to find the listeners, services and alarms
    assert group["loadBalancerInfo"]["targetGroupPairInfoList"] == [pair]
    assert group["ecsServices"] == [{"serviceName": "web", "clusterName": "shop"}]
    assert group["deploymentConfigName"] == "CodeDeployDefault.ECSAllAtOnce"
    assert group["alarmConfiguration"]["enabled"] is True
    assert info["loadBalancerInfo"]["targetGroupPairInfoList"][0]["testTrafficRoute"] == pair["testTrafficRoute"]
    assert info["computePlatform"] == "ECS"


def test_stop_deployment_is_recorded_and_refused_once_finished(client: Any) -> None:
    deployment_id, _ = _started(client)

    assert client.stop_deployment(deploymentId=deployment_id)["status"] == "Pending"
    codedeploy.backend_for().finish_deployment(deployment_id, "Stopped")
    assert _code(lambda: client.stop_deployment(deploymentId=deployment_id)) == "DeploymentAlreadyCompletedException"


@pytest.mark.parametrize("sample", ["codedeploy-lifecycle-hook-ecs.json", "codedeploy-lifecycle-hook-lambda.json"])
def test_the_aws_sample_payloads_name_deployments_this_account_never_had(
    client: Any, sample: str, aws_sample: Callable[[str], dict[str, Any]]
) -> None:
    # Given a hook handed one of AWS's sample payloads (placeholder ids, not nine-character deployment ids)
    payload = aws_sample(sample)

    # When it reads the deployment and reports on it
    read = _code(lambda: client.get_deployment(deploymentId=payload["DeploymentId"]))
    reported = _code(
        lambda: client.put_lifecycle_event_hook_execution_status(
            deploymentId=payload["DeploymentId"],
            lifecycleEventHookExecutionId=payload["LifecycleEventHookExecutionId"],
            status="Failed",
        )
    )

    # Then both are refused as a malformed id (a hook must log this and stop, not retry for ever)
    assert read == reported == "InvalidDeploymentIdException"
