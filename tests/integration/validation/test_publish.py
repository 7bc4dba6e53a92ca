"""Publishing a hook's report against moto's S3 and SNS: keys, pages, one notice, metrics, retries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import moto
import pytest
from aws_lambda_powertools import Metrics

from codereflex.aws.s3 import ReportObjects, S3ObjectStore
from codereflex.aws.sns import SnsTopic
from codereflex.validation import engine, report
from codereflex.validation.engine import Done
from codereflex.validation.publish import Links, Ports, Subject, publish
from tests.unit.validation.fakes import ECS_CONTEXT, START, Clock, Http, http_check, ok, ports, spec

BUCKET = "validation-bucket"
SUBJECT = Subject.codedeploy("orders-app", "orders-dg", "d-ABCDEF123", "AfterAllowTestTraffic")
SECRET_BODY = b'{"status": "ok", "debug": "AKIAIOSFODNN7EXAMPLE"}'


class World:
    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.s3.create_bucket(Bucket=BUCKET)
        sns, sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        self.topic = sns.create_topic(Name="notices")["TopicArn"]
        self.queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=queue_arn)
        self.sqs = sqs
        self.metrics = Metrics(namespace="CodeReflexTest", service="deploy-hooks")
        self.metrics.clear_metrics()  # Powertools keeps one metric set per process: start from none
        store = ReportObjects(S3ObjectStore(self.s3, BUCKET))
        self.ports = Ports(store, SnsTopic(sns, self.topic), self.metrics, Links(BUCKET, "us-east-1"))

    def notices(self) -> list[dict[str, Any]]:
        found = []
        while messages := self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        return found

    def object(self, key: str) -> tuple[str, str]:
        response = self.s3.get_object(Bucket=BUCKET, Key=key)
        return response["Body"].read().decode(), response["ContentType"]

    def counted(self) -> dict[str, float]:
        return {name: sum(values) for name, values in self.metrics.metric_set.items() for values in [values["Value"]]}


@pytest.fixture
def world() -> Iterator[World]:
    with moto.mock_aws():
        world = World()
        yield world
        world.metrics.clear_metrics()


def hook_report(slow_sample: int | None = 7, body: bytes = b'{"status": "ok"}') -> dict[str, Any]:
    """A real engine run's report: green answers 40 ms, one sample (if any) 900 ms."""
    clock = Clock()
    http = Http(clock, lambda url, n: ok(900 if n == slow_sample else 40, body=body))
    checks = [http_check("latency", 20, {"status": [200], "latencyMs": {"p99": "<=500"}})]
    done = engine.run(
        spec(checks),
        "AfterAllowTestTraffic",
        ECS_CONTEXT,
        ports(clock, http=http),
        run_deadline=START + 800,
        hook_deadline=START + 3000,
    )
    assert isinstance(done, Done) and done.state is not None
    meta = report.Meta("d-ABCDEF123", "hook-exec-1", "AfterAllowTestTraffic", "orders", "ab" * 32, START, clock.t)
    return report.report(done.verdict, done.state.measurements, meta)


def test_a_failed_hook_is_stored_as_json_and_page_and_noticed_once_with_its_attributes(world: World) -> None:
    published = publish(hook_report(), SUBJECT, world.ports)

    assert published.json_key == "reports/orders-app/d-ABCDEF123/AfterAllowTestTraffic.json"
    assert published.html_key == "reports/orders-app/d-ABCDEF123/AfterAllowTestTraffic.html"
    assert (published.verdict, published.first) == ("Failed", True)
    assert published.reason.startswith("p99 latency") and "check latency" in published.reason
    stored, content_type = world.object(published.json_key)
    assert content_type == "application/json" and json.loads(stored)["decidingCheck"] == "latency"
    page, content_type = world.object(published.html_key)
    assert content_type.startswith("text/html") and "<svg" in page and "latency" in page

    (notice,) = world.notices()
    assert notice["MessageId"] == published.notice_id
    assert {k: v["Value"] for k, v in notice["MessageAttributes"].items()} == {
        "kind": "deployment-validation",
        "application": "orders-app",
        "deploymentGroup": "orders-dg",
        "outcome": "Failed",
    }
    assert published.reason in notice["Message"]
    # The console link needs a signed-in reader; nothing in it grants access by itself.
    assert (
        "https://us-east-1.console.aws.amazon.com/s3/object/validation-bucket?region=us-east-1&prefix="
        "reports%2Forders-app%2Fd-ABCDEF123%2FAfterAllowTestTraffic.html"
    ) in notice["Message"]
    assert "X-Amz-Signature" not in notice["Message"] and "X-Amz-Security-Token" not in notice["Message"]
    assert world.counted() == {"Hooks.Failed": 1, "DeploymentsStoppedByAnalysis": 1}


def test_a_succeeded_hook_is_stored_and_counted_without_a_notice(world: World) -> None:
    published = publish(hook_report(slow_sample=None), SUBJECT, world.ports)

    assert (published.verdict, published.notice_id) == ("Succeeded", None)
    assert world.object(published.html_key)[0].count("Succeeded") >= 1
    assert world.notices() == []
    assert world.counted() == {"Hooks.Succeeded": 1}


def test_a_person_decided_hook_is_noticed_even_when_it_succeeded(world: World) -> None:
    published = publish(hook_report(slow_sample=None), SUBJECT, world.ports, decided_by="alice@example.com")

    (notice,) = world.notices()
    assert "decided by alice@example.com" in notice["Message"] and published.notice_id == notice["MessageId"]
    assert json.loads(world.object(published.json_key)[0])["decidedBy"] == "alice@example.com"
    assert world.counted() == {"Hooks.Succeeded": 1, "Hooks.DecidedByPerson": 1}


def test_a_retry_publishes_the_first_report_again_and_sends_no_second_notice(world: World) -> None:
    first = publish(hook_report(), SUBJECT, world.ports)
    world.metrics.clear_metrics()
    # A retry whose own run came out differently still gets the stored verdict: one execution, one report.
    again = publish(hook_report(slow_sample=None), SUBJECT, world.ports)

    assert (again.verdict, again.reason, again.first) == (first.verdict, first.reason, False)
    assert again.notice_id == first.notice_id
    assert len(world.notices()) == 1
    assert json.loads(world.object(first.json_key)[0])["verdict"] == "Failed"
    assert world.counted() == {}  # counted once, by the attempt that stored it


def test_a_retry_after_a_crash_between_json_and_page_completes_the_page_and_the_notice(world: World) -> None:
    failed = hook_report()
    world.ports.store.put_bytes(SUBJECT.key(".json"), json.dumps(failed).encode(), "application/json")

    published = publish(failed, SUBJECT, world.ports)

    assert "<svg" in world.object(published.html_key)[0]
    assert len(world.notices()) == 1


def test_secrets_in_green_bodies_never_reach_the_bucket_or_the_notice(world: World) -> None:
    failing = hook_report(body=SECRET_BODY)
    failing["reason"] = "body was " + SECRET_BODY.decode()

    published = publish(failing, SUBJECT, world.ports)

    for key in (published.json_key, published.html_key):
        assert "AKIAIOSFODNN7EXAMPLE" not in world.object(key)[0]
    assert all("AKIAIOSFODNN7EXAMPLE" not in json.dumps(n) for n in world.notices())


def test_names_cannot_add_folders_or_climb_out_of_the_reports_prefix() -> None:
    odd = Subject.codedeploy("../etc", "g", "d-1/2", "..")
    assert odd.key(".json") == "reports/..%2Fetc/d-1%2F2/%2E%2E.json"
    native = Subject.ecs_native("shop", "web", "EZe5RNVLH6", "POST_TEST_TRAFFIC_SHIFT", "e8d5a28f")
    assert native.key(".html") == "reports/shop/web/EZe5RNVLH6/POST_TEST_TRAFFIC_SHIFT-e8d5a28f.html"


def test_console_links_follow_the_partition() -> None:
    assert Links("b", "cn-north-1").console("k").startswith("https://cn-north-1.console.amazonaws.cn/s3/object/b?")
    assert ".console.amazonaws-us-gov.com/" in Links("b", "us-gov-west-1").console("k")
