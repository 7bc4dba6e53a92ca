"""The validation adapters against moto's CloudWatch, ELBv2 and Lambda (and botocore's Stubber for what moto lacks)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import boto3
import moto
import pytest
from botocore.stub import Stubber

from codereflex.aws.cloudwatch import CloudWatchAlarms, CloudWatchMetrics
from codereflex.aws.elbv2 import TargetHealth
from codereflex.aws.lambdas import VersionInvoker
from codereflex.validation.aws_checks import query_of
from codereflex.validation.ports import ToolError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

REGION = "us-east-1"
NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture
def aws() -> Iterator[None]:
    with moto.mock_aws():
        yield


def put_latency(client: Any, values: list[float], version: str) -> None:
    client.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Duration",
                "Dimensions": [{"Name": "ExecutedVersion", "Value": version}],
                "Timestamp": NOW - timedelta(minutes=len(values) - i),
                "Value": v,
                "Unit": "Milliseconds",
            }
            for i, v in enumerate(values)
        ],
    )


def duration_query(query_id: str, version: str) -> dict[str, Any]:
    metric = {"namespace": "AWS/Lambda", "name": "Duration", "dimensions": {"ExecutedVersion": version}}
    return query_of({"id": query_id, "metric": metric, "stat": "Maximum"}, 60)


def test_metric_data_per_version_oldest_first(aws: None) -> None:
    client = boto3.client("cloudwatch", region_name=REGION)
    put_latency(client, [110, 120, 130], "4")
    put_latency(client, [90, 95, 99], "3")
    data = CloudWatchMetrics(client).metric_data(
        [duration_query("green", "4"), duration_query("blue", "3")],
        NOW - timedelta(minutes=10),
        NOW + timedelta(minutes=1),
    )
    assert data.complete
    assert [v for _, v in data.series["green"]] == [110, 120, 130]
    assert [v for _, v in data.series["blue"]] == [90, 95, 99]


class Paged:
    """moto's real GetMetricData answer cut into pages, as CloudWatch pages a long window (moto does not page)."""

    def __init__(self, client: Any, page: int, last_status: str = "Complete") -> None:
        self.client, self.page, self.last_status = client, page, last_status
        self.tokens: list[str | None] = []

    def get_metric_data(self, **kwargs: Any) -> dict[str, Any]:
        token = kwargs.pop("NextToken", None)
        self.tokens.append(token)
        whole = self.client.get_metric_data(**kwargs)
        start = int(token or 0)
        results, more = [], False
        for result in whole["MetricDataResults"]:
            chunk = slice(start, start + self.page)
            more = more or len(result["Values"]) > start + self.page
            results.append(
                {
                    **result,
                    "Timestamps": result["Timestamps"][chunk],
                    "Values": result["Values"][chunk],
                    "StatusCode": "PartialData",
                }
            )
        for result in results:
            result["StatusCode"] = "PartialData" if more else self.last_status
        return {"MetricDataResults": results, **({"NextToken": str(start + self.page)} if more else {})}

    def describe_alarms(self, **kwargs: Any) -> dict[str, Any]:
        raise AssertionError("not used")


def test_every_page_is_followed(aws: None) -> None:
    client = boto3.client("cloudwatch", region_name=REGION)
    put_latency(client, [float(v) for v in range(1, 8)], "4")
    paged = Paged(client, page=3)
    data = CloudWatchMetrics(cast("CloudWatchClient", paged)).metric_data(
        [duration_query("green", "4")], NOW - timedelta(minutes=10), NOW
    )
    assert paged.tokens == [None, "3", "6"]
    assert data.complete
    assert [v for _, v in data.series["green"]] == [1, 2, 3, 4, 5, 6, 7]


def test_a_last_page_that_is_not_complete_is_never_decided_on(aws: None) -> None:
    client = boto3.client("cloudwatch", region_name=REGION)
    put_latency(client, [1.0, 2.0], "4")
    data = CloudWatchMetrics(cast("CloudWatchClient", Paged(client, page=5, last_status="InternalError"))).metric_data(
        [duration_query("green", "4")], NOW - timedelta(minutes=10), NOW
    )
    assert (data.complete, data.status) == (False, "InternalError")


def test_alarm_states_of_metric_alarms_by_name_in_batches_of_100(aws: None) -> None:
    client = boto3.client("cloudwatch", region_name=REGION)
    names = [f"orders-{i:03d}" for i in range(120)]
    for name in names:
        client.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
    client.set_alarm_state(AlarmName="orders-007", StateValue="ALARM", StateReason="Threshold Crossed: 3 > 1")
    client.set_alarm_state(AlarmName="orders-110", StateValue="INSUFFICIENT_DATA", StateReason="no datapoints")
    states = CloudWatchAlarms(client).alarm_states([*names, "not-there"])
    assert len(states) == 120
    assert "not-there" not in states
    assert states["orders-007"].state == "ALARM"
    assert states["orders-110"].state == "INSUFFICIENT_DATA"
    assert states["orders-000"].state == "OK"


def test_target_health_reports_a_stopped_target(aws: None) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    elbv2 = boto3.client("elbv2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instances = [i["InstanceId"] for i in ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2)["Instances"]]
    group = elbv2.create_target_group(Name="green", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
    elbv2.register_targets(TargetGroupArn=group["TargetGroupArn"], Targets=[{"Id": i, "Port": 8080} for i in instances])
    ec2.stop_instances(InstanceIds=[instances[1]])
    states = TargetHealth(elbv2).target_health(group["TargetGroupArn"])
    assert [(s.target, s.state) for s in states] == [
        (f"{instances[0]}:8080", "healthy"),
        (f"{instances[1]}:8080", "unused"),
    ]
    assert states[1].reason == "Target.InvalidState"


def test_a_target_group_that_does_not_exist_is_our_error_by_its_code(aws: None) -> None:
    elbv2 = boto3.client("elbv2", region_name=REGION)
    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/gone/0123456789abcdef"
    with pytest.raises(ToolError, match=r"^DescribeTargetHealth: TargetGroupNotFound$"):
        TargetHealth(elbv2).target_health(arn)


def test_an_invoke_that_does_not_say_which_version_ran_is_not_the_target() -> None:
    # moto's docker-free Lambda answers without ExecutedVersion: the engine then never sees the target's.
    with moto.mock_aws(config={"lambda": {"use_docker": False}}):
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        client = boto3.client("lambda", region_name=REGION)
        client.create_function(
            FunctionName="checkout",
            Runtime="python3.11",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": b"not run"},
            Publish=True,
        )
        got = VersionInvoker(client).invoke("checkout", "1", b'{"sku": "A1"}')
    assert got.executed_version is None
    assert got.function_error is None
    assert got.payload == b'{"sku": "A1"}'
    assert got.duration_ms > 0


def test_executed_version_function_error_and_throttling_are_read() -> None:
    client = boto3.client("lambda", region_name=REGION)
    stub = Stubber(client)  # botocore's own model checks every parameter the adapter sends
    stub.add_response(
        "invoke",
        {
            "StatusCode": 200,
            "ExecutedVersion": "4",
            "FunctionError": "Unhandled",
            "Payload": io.BytesIO(b'{"errorType": "KeyError"}'),
        },
        {
            "FunctionName": "checkout",
            "Qualifier": "4",
            "InvocationType": "RequestResponse",
            "Payload": b'{"sku": "A1"}',
        },
    )
    stub.add_client_error("invoke", "TooManyRequestsException", http_status_code=429)
    with stub:
        got = VersionInvoker(client).invoke("checkout", "4", json.dumps({"sku": "A1"}).encode())
        assert (got.executed_version, got.function_error) == ("4", "Unhandled")
        assert got.payload == b'{"errorType": "KeyError"}'
        with pytest.raises(ToolError, match=r"^Invoke: TooManyRequestsException$"):
            VersionInvoker(client).invoke("checkout", "4", b"{}")
