"""The stand-ins hooks call: loopback services, listeners, target health, Lambda versions, alarms, throttling."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from sandbox.aws.bluegreen import EcsStage, LambdaStage
from sandbox.aws.moto_ext import install, lambda_versions
from sandbox.aws.moto_ext.elbv2 import target_states
from sandbox.aws.moto_ext.throttling import throttled
from sandbox.aws.services import Service, fixed, tail

Client = Callable[[str], Any]
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture
def client() -> Iterator[Client]:
    install()
    with mock_aws():
        yield lambda service: boto3.client(service, region_name="us-east-1", config=NO_RETRIES)  # type: ignore[call-overload]


@pytest.fixture
def ecs(client: Client) -> Iterator[EcsStage]:
    stage = EcsStage(client)
    yield stage
    stage.stop()


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback stand-in
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_a_services_knobs_change_its_answers_while_it_runs() -> None:
    # Given a running service of one target
    service = Service("green", count=1)
    url = f"http://{service.targets[0].ip}:{service.targets[0].port}/"
    try:
        assert get(url) == (200, {"status": "ok", "service": "green"})

        # When a test sets a wrong body behind a 200, then three consecutive errors, then 40 ms latency
        service.behave(body={"status": "degraded"})
        wrong = get(url)
        service.behave(consecutive_errors=3)
        errors = [get(url)[0] for _ in range(4)]
        service.behave(latency=fixed(40))
        started = time.monotonic()
        get(url)
        elapsed = time.monotonic() - started

        # Then each answer follows the knob set at that moment
        assert wrong == (200, {"status": "degraded"})
        assert errors == [500, 500, 500, 200]
        assert elapsed >= 0.04
    finally:
        service.stop()


def test_error_rate_and_tail_latency_follow_their_distribution() -> None:
    # Given a target failing a quarter of its requests, and one with a 10 % slow tail
    service = Service("green", count=2, seed=7)
    service.targets[0].behave(error_rate=0.25)
    service.targets[1].behave(latency=tail(0, 300, 0.1))
    try:
        # When each answers many requests (decided without serving, to stay fast)
        failing = sum(service.targets[0].answer()[1] == 500 for _ in range(2000))
        slow = sum(service.targets[1].answer()[0] >= 0.3 for _ in range(2000))

        # Then the shares are the configured ones
        assert 400 < failing < 600
        assert 140 < slow < 260
    finally:
        service.stop()


def test_a_target_marked_unhealthy_gets_no_traffic_but_is_reported_unhealthy(client: Client, ecs: EcsStage) -> None:
    # Given blue's second target fails its health checks while answering 500s
    ecs.blue.targets[1].behave(status=500)
    ecs.mark("blue", 1, "unhealthy")

    # When production is probed
    statuses = [get(ecs.prod_url)[0] for _ in range(10)]

    # Then the load balancer quietly routed around it, and DescribeTargetHealth says why
    assert statuses == [200] * 10
    assert ecs.blue.targets[1].requests == 0
    health = client("elbv2").describe_target_health(TargetGroupArn=ecs.target_groups["blue"])[
        "TargetHealthDescriptions"
    ]
    states = {h["Target"]["Id"]: (h["TargetHealth"]["State"], h["TargetHealth"].get("Reason")) for h in health}
    assert states[ecs.blue.targets[1].ip] == ("unhealthy", "Target.ResponseCodeMismatch")
    assert states[ecs.blue.targets[0].ip] == ("healthy", None)


def test_when_every_target_is_unhealthy_the_load_balancer_routes_to_all(ecs: EcsStage) -> None:
    # Given both blue targets marked unhealthy (ELB then fails open)
    ecs.mark("blue", 0, "unhealthy")
    ecs.mark("blue", 1, "initial")

    # When production is probed, both still answer
    for _ in range(4):
        assert get(ecs.prod_url)[0] == 200
    assert ecs.blue.targets[0].requests == 2 and ecs.blue.targets[1].requests == 2


def test_listeners_are_reachable_at_the_url_elbv2_describes(client: Client, ecs: EcsStage) -> None:
    # Given the ALB and its listeners as a hook would find them
    elb = client("elbv2")
    balancer = elb.describe_load_balancers(LoadBalancerArns=[ecs.load_balancer_arn])["LoadBalancers"][0]
    listener = elb.describe_listeners(ListenerArns=[ecs.listener_arns["test"]])["Listeners"][0]

    # Then http://<DNSName>:<Port> is the test listener, forwarding to blue before any deployment
    assert get(f"http://{balancer['DNSName']}:{listener['Port']}/") == (200, {"status": "ok", "colour": "blue"})


def test_lambda_versions_run_in_process_and_report_executed_version_and_errors(client: Client) -> None:
    # Given version 1 that answers and version 2 that raises
    def broken(event: Any, context: Any) -> Any:
        raise KeyError("orderId")

    LambdaStage(client, [lambda event, context: {"ok": True, "seen": event}, broken])
    lam = client("lambda")

    # When each version is invoked by its number
    good = lam.invoke(FunctionName="orders", Qualifier="1", Payload=b'{"orderId": 7}')
    bad = lam.invoke(FunctionName="orders", Qualifier="2", Payload=b"{}")

    # Then the answers are Lambda's: payload, ExecutedVersion, and Unhandled with an error payload
    assert (good["StatusCode"], good["ExecutedVersion"], good.get("FunctionError")) == (200, "1", None)
    assert json.loads(good["Payload"].read()) == {"ok": True, "seen": {"orderId": 7}}
    error = json.loads(bad["Payload"].read())
    assert (bad["ExecutedVersion"], bad["FunctionError"], error["errorType"]) == ("2", "Unhandled", "KeyError")


def test_an_alias_with_routing_config_splits_calls_and_lambda_metrics_say_which_version_ran(client: Client) -> None:
    # Given the alias sends half its calls to version 2
    LambdaStage(client, [lambda e, c: 1, lambda e, c: 2])
    lam = client("lambda")
    lam.update_alias(FunctionName="orders", Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})

    # When the alias is invoked 200 times
    executed = [lam.invoke(FunctionName="orders", Qualifier="live")["ExecutedVersion"] for _ in range(200)]

    # Then both versions ran about half the time, and CloudWatch has Invocations per ExecutedVersion
    assert 70 < executed.count("2") < 130
    cloudwatch = client("cloudwatch")
    per_version = cloudwatch.list_metrics(
        Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=[{"Name": "ExecutedVersion", "Value": "2"}]
    )["Metrics"]
    assert per_version
    assert {d["Name"] for d in per_version[0]["Dimensions"]} == {"FunctionName", "Resource", "ExecutedVersion"}


def test_a_version_can_be_made_to_report_another_one(client: Client) -> None:
    # Given version 2's code that reports version 1 (the wrong version executing)
    LambdaStage(client, [lambda e, c: 1, lambda e, c: 2])
    lambda_versions.run_version("orders", "2", lambda e, c: 2, executed_as="1")

    # Then Invoke of version 2 says version 1 ran
    assert client("lambda").invoke(FunctionName="orders", Qualifier="2")["ExecutedVersion"] == "1"


def test_a_new_alarm_has_insufficient_data_and_then_the_states_a_test_sets(client: Client) -> None:
    cloudwatch = client("cloudwatch")
    alarm = {
        "AlarmName": "orders-errors",
        "MetricName": "Errors",
        "Namespace": "AWS/Lambda",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    }

    def state() -> str:
        return str(cloudwatch.describe_alarms(AlarmNames=["orders-errors"])["MetricAlarms"][0]["StateValue"])

    # Given a new alarm: CloudWatch has not evaluated it yet
    cloudwatch.put_metric_alarm(**alarm)
    initial = state()
    # When a test sets it, and the alarm is then updated
    cloudwatch.set_alarm_state(AlarmName="orders-errors", StateValue="ALARM", StateReason="errors")
    cloudwatch.put_metric_alarm(**{**alarm, "Threshold": 2})

    # Then it started INSUFFICIENT_DATA and an update kept the state it had
    assert initial == "INSUFFICIENT_DATA"
    assert state() == "ALARM"


def test_the_load_balancer_publishes_per_target_group_metrics(client: Client, ecs: EcsStage) -> None:
    # Given production routes to blue, one of whose targets fails every request
    ecs.blue.targets[0].behave(error_rate=1.0)

    # When production gets ten requests
    for _ in range(10):
        get(ecs.prod_url)

    # Then AWS/ApplicationELB has blue's requests and 5XX counts by TargetGroup, as GetMetricData reads them
    dimensions = [
        {"Name": "TargetGroup", "Value": ecs.target_groups["blue"].split(":")[-1]},
        {"Name": "LoadBalancer", "Value": ecs.load_balancer_arn.split(":loadbalancer/")[-1]},
    ]
    queries = [
        {
            "Id": name.lower(),
            "MetricStat": {
                "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": name, "Dimensions": dimensions},
                "Period": 60,
                "Stat": "Sum",
            },
        }
        for name in ("RequestCount", "HTTPCode_Target_5XX_Count")
    ]
    now = time.time()
    results = client("cloudwatch").get_metric_data(MetricDataQueries=queries, StartTime=now - 300, EndTime=now + 60)
    sums = {r["Id"]: sum(r["Values"]) for r in results["MetricDataResults"]}
    assert sums == {"requestcount": 10.0, "httpcode_target_5xx_count": 5.0}


@pytest.mark.parametrize(
    ("service", "operation", "code", "call"),
    [
        ("cloudwatch", "DescribeAlarms", "Throttling", lambda c: c("cloudwatch").describe_alarms()),
        (
            "codedeploy",
            "GetDeployment",
            "ThrottlingException",
            lambda c: c("codedeploy").get_deployment(deploymentId="d-AAAAAAAAA"),
        ),
        (
            "elbv2",
            "DescribeTargetHealth",
            "Throttling",
            lambda c: c("elbv2").describe_target_health(TargetGroupArn="x"),
        ),
        ("lambda", "Invoke", "TooManyRequestsException", lambda c: c("lambda").invoke(FunctionName="orders")),
    ],
)
def test_an_api_throttles_its_next_n_calls_in_its_own_protocol(
    client: Client, service: str, operation: str, code: str, call: Callable[[Client], Any]
) -> None:
    # Given an API that throttles its next two calls
    with throttled(service, operation, 2, code=code) as throttle:
        # When it is called three times
        answers = []
        for _ in range(3):
            try:
                call(client)
                answers.append("ok")
            except ClientError as error:
                answers.append(error.response["Error"]["Code"])

    # Then two calls were throttled with the service's code, and the third reached the service
    assert answers[:2] == [code, code]
    assert answers[2] != code
    assert throttle.answered == 2


def test_a_pinned_health_can_be_undone(ecs: EcsStage) -> None:
    # Given a green target marked unhealthy, then healthy again
    ecs.mark("green", 0, "unhealthy")
    ecs.mark("green", 0, "healthy")

    # Then every green target is healthy
    assert {state for _, _, state in target_states(ecs.target_groups["green"])} == {"healthy"}
