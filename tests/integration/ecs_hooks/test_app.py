"""The ECS native hook function against the sandbox's stand-ins, invoked as ECS does until it is not IN_PROGRESS."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import boto3
import moto
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from codereflex.aws.s3 import ReportObjects
from codereflex.errors import TransientError
from ecs_hooks import app
from sandbox.aws.bluegreen import EcsStage, native_blue_green
from sandbox.aws.services import Behaviour, tail
from sandbox.local import Sandbox
from tests.conftest import FakeLambdaContext

REGION = "us-east-1"
BUCKET = "validation"
REVISIONS = "arn:aws:ecs:us-east-1:123456789012:service-revision/shop/web"
DEPLOYMENT = "arn:aws:ecs:us-east-1:123456789012:service-deployment/shop/web/EZe5RNVLH6PPzHXINuP28"
SPEC = """
version: 1
kind: HookValidation
name: web
platform: ecs
hooks: [AfterAllowTestTraffic]
checks:
  - name: smoke
    type: http
    request: {url: "{{ ecs.testListener.url }}/health", timeoutMs: 1000}
    assert:
      status: [200]
      body: [{jsonPath: "$.colour", equals: green}]
      latencyMs: {p99: "<=200"}
    sampling: {count: 12, intervalMs: 200, concurrency: 2}
  - name: green-targets
    type: targetHealth
    targetGroup: "{{ ecs.green.targetGroupArn }}"
    minTargets: "{{ ecs.green.desiredCount }}"
    minHealthyPercent: 100
    sampling: {count: 3, intervalMs: 200}
"""


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]


@dataclass
class World:
    stage: EcsStage
    topic: str
    queue: str

    def notices(self) -> list[dict[str, Any]]:
        sqs, found = client("sqs"), []
        while messages := sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        return found


def _service(stage: EcsStage, client: Callable[[str], Any] = client) -> None:
    native_blue_green(stage, client, cluster="shop", service="web")


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with moto.mock_aws():
        stage = EcsStage(client, green=Behaviour(body={"status": "ok", "colour": "green"}))
        try:
            _service(stage)
            client("s3").create_bucket(Bucket=BUCKET)
            client("s3").put_object(Bucket=BUCKET, Key="specs/shop/web.yaml", Body=SPEC.encode())
            secret = client("secretsmanager").create_secret(Name="state-key", SecretString="k" * 64)["ARN"]
            topic = client("sns").create_topic(Name="notices")["TopicArn"]
            sqs = client("sqs")
            queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
            for key, value in {
                "VALIDATION_BUCKET": BUCKET,
                "NOTIFICATION_TOPIC_ARN": topic,
                "STATE_SECRET_ARN": secret,
                "POWERTOOLS_METRICS_DISABLED": "true",
            }.items():
                monkeypatch.setenv(key, value)
            for cached in (app.settings, app._client, app._signer):
                cached.cache_clear()
            yield World(stage, topic, queue)
        finally:
            stage.stop()
            for cached in (app.settings, app._client, app._signer):
                cached.cache_clear()


def payload(
    stage: str = "POST_TEST_TRAFFIC_SHIFT", execution: str = "3a0345ba-b029-404b-890d-7da2a4b266aa"
) -> dict[str, Any]:
    """ECS's documented payload (lambda-lifecycle-hooks in the ECS developer guide), for the sandbox's service."""
    return {
        "executionId": execution,
        "lifecycleStage": stage,
        "resourceArn": DEPLOYMENT,
        "executionDetails": {
            "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/shop/web",
            "targetServiceRevisionArn": f"{REVISIONS}/9313423515462893900",
            "testTrafficWeights": {},
            "productionTrafficWeights": {},
        },
    }


def invoke(event: dict[str, Any], remaining_ms: int = 55_500) -> dict[str, Any]:
    # 55.5 s left is 10.5 s of measuring after the spec's 30 s run margin and 15 s overhead: a target
    # health read is planned at 10 s, so the first run, busy with the http check, hands them on.
    context = cast(LambdaContext, FakeLambdaContext(remaining_ms=remaining_ms))
    return cast(dict[str, Any], app.lambda_handler(copy.deepcopy(event), context))


def drive(
    event: dict[str, Any],
    *,
    limit: int = 40,
    between: Callable[[dict[str, Any]], dict[str, Any]] = lambda details: details,
) -> list[dict[str, Any]]:
    """ECS's side: invoke, and while the answer is IN_PROGRESS, merge its hookDetails and invoke again."""
    answers: list[dict[str, Any]] = []
    details: dict[str, Any] = dict(event.get("hookDetails") or {})
    for _ in range(limit):
        answer = invoke({**event, "hookDetails": details} if details else event)
        answers.append(answer)
        if answer.get("hookStatus") != "IN_PROGRESS":
            return answers
        assert 1 <= answer["callBackDelay"] <= 900
        details = between({**details, **answer["hookDetails"]})
    raise AssertionError(f"still IN_PROGRESS after {limit} invocations")


def test_a_healthy_green_succeeds_over_several_invocations_and_is_reported(world: World) -> None:
    answers = drive(payload())

    assert answers[-1] == {"hookStatus": "SUCCEEDED"}
    assert len(answers) >= 2  # the plan outlasted one invocation and was carried in hookDetails
    key = "reports/shop/web/EZe5RNVLH6PPzHXINuP28/POST_TEST_TRAFFIC_SHIFT-3a0345ba-b029-404b-890d-7da2a4b266aa"
    stored = json.loads(client("s3").get_object(Bucket=BUCKET, Key=f"{key}.json")["Body"].read())
    assert stored["verdict"] == "Succeeded" and stored["runs"] == len(answers)
    assert [c["check"] for c in stored["checks"]] == ["smoke", "green-targets"]
    assert "<svg" in client("s3").get_object(Bucket=BUCKET, Key=f"{key}.html")["Body"].read().decode()
    assert world.notices() == []
    assert world.stage.green.requests >= 12 and world.stage.blue.requests == 0


def test_a_slow_green_tail_fails_naming_the_check_and_is_noticed(world: World) -> None:
    world.stage.green.behave(latency=tail(5, 400, 0.25))

    answers = drive(payload())

    final = answers[-1]
    assert final["hookStatus"] == "FAILED"
    reason = final["hookDetails"]["codereflex"]["reason"]
    assert reason.startswith("p99 latency") and "check smoke" in reason
    (notice,) = world.notices()
    assert notice["MessageAttributes"]["outcome"]["Value"] == "Failed"
    assert notice["MessageAttributes"]["application"]["Value"] == "shop"
    assert notice["MessageAttributes"]["deploymentGroup"]["Value"] == "web"
    assert reason in notice["Message"]


def test_a_wrong_body_behind_a_200_fails(world: World) -> None:
    world.stage.green.behave(body={"status": "ok", "colour": "blue"})

    final = drive(payload())[-1]

    assert final["hookStatus"] == "FAILED" and "check smoke" in final["hookDetails"]["codereflex"]["reason"]


def test_an_altered_state_decides_nothing(world: World) -> None:
    def tamper(details: dict[str, Any]) -> dict[str, Any]:
        carried = dict(details["codereflex"])
        carried["publishAttempts"] = 1  # any change to what was signed, here the smallest one
        return {**details, "codereflex": carried}

    final = drive(payload(), between=tamper)[-1]

    assert final["hookStatus"] == "FAILED"
    assert "signature" in final["hookDetails"]["codereflex"]["reason"]


def test_a_forged_state_decides_nothing(world: World) -> None:
    first = invoke(payload())
    assert first["hookStatus"] == "IN_PROGRESS"
    forged = {**first["hookDetails"]["codereflex"], "sig": "A" * 43}

    answer = invoke({**payload(), "hookDetails": {"codereflex": forged}})

    assert answer["hookStatus"] == "FAILED"
    assert "hookDetails.codereflex failed its signature check" in answer["hookDetails"]["codereflex"]["reason"]


def test_a_genuine_state_of_another_execution_is_ignored_and_the_checks_run_afresh(world: World) -> None:
    first = invoke(payload())
    other = payload(execution="0b6e3f2c-5d1a-4b8e-9c7f-2a4d6e8f0a1b")

    answers = drive({**other, "hookDetails": first["hookDetails"]})

    assert answers[-1] == {"hookStatus": "SUCCEEDED"}
    key = f"reports/shop/web/EZe5RNVLH6PPzHXINuP28/POST_TEST_TRAFFIC_SHIFT-{other['executionId']}.json"
    stored = json.loads(client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert stored["runs"] == len(answers)  # its own runs from the first, none borrowed


def test_the_service_s_own_hook_details_are_kept_beside_the_state(world: World) -> None:
    answers = drive({**payload(), "hookDetails": {"team": "payments"}})

    assert answers[-1] == {"hookStatus": "SUCCEEDED"}


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"lifecycleStage": "PRODUCTION_TRAFFIC_SHIFT"}, "has no CodeDeploy hook"),
        ({"resourceArn": "arn:aws:ecs:us-east-1:123456789012:service/shop/web"}, "resourceArn"),
        ({"executionDetails": None}, "executionDetails.serviceArn"),
        ({"hookDetails": ["not", "an", "object"]}, "hookDetails"),
    ],
)
def test_malformed_or_unsupported_payloads_fail_with_the_reason(
    world: World, change: dict[str, Any], said: str
) -> None:
    answer = invoke({**payload(), **change})

    assert answer["hookStatus"] == "FAILED"
    assert said in answer["hookDetails"]["codereflex"]["reason"]


def test_a_missing_spec_fails_and_says_where_it_looked(world: World) -> None:
    client("s3").delete_object(Bucket=BUCKET, Key="specs/shop/web.yaml")

    answer = invoke(payload())

    assert answer["hookStatus"] == "FAILED"
    assert "specs/shop/web.yaml" in answer["hookDetails"]["codereflex"]["reason"]
    assert len(world.notices()) == 1


def test_a_crash_is_failed_with_a_reason_not_an_error(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("token=hunter2hunter2")

    monkeypatch.setattr(app, "handle", crash)

    answer = invoke(payload())

    assert answer["hookStatus"] == "FAILED"
    assert "RuntimeError" in answer["hookDetails"]["codereflex"]["reason"]
    assert "hunter2" not in json.dumps(answer)


def test_through_the_router_with_the_template_s_settings_a_healthy_green_succeeds() -> None:
    with Sandbox(function_env={"POWERTOOLS_METRICS_DISABLED": "true"}) as sandbox:
        stage = EcsStage(sandbox.client, green=Behaviour(body={"status": "ok", "colour": "green"}))
        try:
            _service(stage, sandbox.client)
            bucket = sandbox.stack.refs["ValidationBucket"]
            sandbox.client("s3").put_object(Bucket=bucket, Key="specs/shop/web.yaml", Body=SPEC.encode())

            answer = sandbox.invoke("EcsHooksFunction", payload())
            details: dict[str, Any] = {}
            while answer["hookStatus"] == "IN_PROGRESS":
                details = {**details, **answer["hookDetails"]}
                answer = sandbox.invoke("EcsHooksFunction", {**payload(), "hookDetails": details})

            assert answer == {"hookStatus": "SUCCEEDED"}
            listed = sandbox.client("s3").list_objects_v2(Bucket=bucket, Prefix="reports/shop/web/")["Contents"]
            assert sorted(item["Key"].rsplit(".", 1)[-1] for item in listed) == ["html", "json"]
        finally:
            stage.stop()


class FlakyReports:
    """The bucket refuses the next `failures` report writes (S3 throttling past the client's retries)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, failures: int) -> None:
        self.failures = failures
        real = ReportObjects.put_bytes

        def put_bytes(
            store: ReportObjects, key: str, data: bytes, content_type: str, *, if_absent: bool = False
        ) -> bool:
            if self.failures > 0:
                self.failures -= 1
                raise TransientError(f"s3 PutObject {key}: SlowDown")
            return real(store, key, data, content_type, if_absent=if_absent)

        monkeypatch.setattr(ReportObjects, "put_bytes", put_bytes)


def test_a_success_whose_report_cannot_be_stored_is_asked_again_and_then_reported(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    FlakyReports(monkeypatch, failures=1)

    answers = drive(payload())

    assert answers[-1] == {"hookStatus": "SUCCEEDED"}
    assert answers[-2]["hookStatus"] == "IN_PROGRESS" and answers[-2]["callBackDelay"] == 30
    key = "reports/shop/web/EZe5RNVLH6PPzHXINuP28/POST_TEST_TRAFFIC_SHIFT-3a0345ba-b029-404b-890d-7da2a4b266aa.json"
    assert json.loads(client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())["verdict"] == "Succeeded"


def test_a_success_that_can_never_be_reported_is_failed(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    FlakyReports(monkeypatch, failures=1_000)

    final = drive(payload())[-1]

    assert final["hookStatus"] == "FAILED"
    assert "the report could not be stored" in final["hookDetails"]["codereflex"]["reason"]


def test_a_failure_whose_report_cannot_be_stored_is_still_failed_at_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.stage.green.behave(body={"status": "ok", "colour": "blue"})
    FlakyReports(monkeypatch, failures=1_000)

    final = drive(payload())[-1]

    assert final["hookStatus"] == "FAILED" and "check smoke" in final["hookDetails"]["codereflex"]["reason"]


@pytest.mark.parametrize(
    ("service", "said"),
    [
        ({"loadBalancers": []}, "no blue/green advancedConfiguration"),
        (None, "is not active"),
    ],
)
def test_a_service_that_is_not_native_blue_green_fails_saying_so(
    world: World, service: dict[str, Any] | None, said: str
) -> None:
    if service is not None:
        client("ecs").create_service(cluster="shop", serviceName="plain", taskDefinition="web", **service)
    client("s3").put_object(Bucket=BUCKET, Key="specs/shop/plain.yaml", Body=SPEC.encode())
    event = payload()
    event["resourceArn"] = DEPLOYMENT.replace("/web/", "/plain/")
    event["executionDetails"]["serviceArn"] = "arn:aws:ecs:us-east-1:123456789012:service/shop/plain"

    answer = invoke(event)

    assert answer["hookStatus"] == "FAILED" and said in answer["hookDetails"]["codereflex"]["reason"]


@pytest.mark.parametrize("event", [[], "x", 3, None, {"executionId": float("inf")}], ids=repr)
def test_an_event_that_is_not_ecs_s_payload_is_failed_with_the_reason(world: World, event: Any) -> None:
    context = cast(LambdaContext, FakeLambdaContext())

    answer = app.lambda_handler(event, context)

    assert answer["hookStatus"] == "FAILED"
    assert "event does not match the expected shape" in answer["hookDetails"]["codereflex"]["reason"]
    assert world.notices() == []


def test_each_production_traffic_step_has_its_own_report(world: World) -> None:
    green, blue = f"{REVISIONS}/9313423515462893900", f"{REVISIONS}/1920498462936580504"
    for share in (0, 10):
        event = payload("PRE_PRODUCTION_TRAFFIC_SHIFT", execution="a2b3c4d5-e6f7-8901-abcd-ef1234567890")
        event["executionDetails"]["productionTrafficWeights"] = {green: share, blue: 100 - share}
        answer = invoke(event)
        # This spec has no BeforeAllowTraffic checks: a hook with nothing to decide on is FAILED, named.
        assert "no checks for BeforeAllowTraffic" in answer["hookDetails"]["codereflex"]["reason"]

    listed = client("s3").list_objects_v2(Bucket=BUCKET, Prefix="reports/shop/web/")["Contents"]
    reports = [item["Key"].rsplit("/", 1)[-1] for item in listed]
    assert sorted(name for name in reports if name.endswith(".json") and not name.endswith(".notice.json")) == [
        "PRE_PRODUCTION_TRAFFIC_SHIFT-a2b3c4d5-e6f7-8901-abcd-ef1234567890-at0.json",
        "PRE_PRODUCTION_TRAFFIC_SHIFT-a2b3c4d5-e6f7-8901-abcd-ef1234567890-at10.json",
    ]


def test_a_check_that_would_ask_a_person_fails_saying_ecs_native_hooks_cannot(world: World) -> None:
    # Given the shared spec with a metric check (no data: inconclusive) that asks a person
    asking = (
        SPEC.replace("checks:\n", "people: {approvers: [alice@example.com]}\nchecks:\n")
        + """
  - name: green-requests
    type: cloudwatchMetric
    window: {lookbackSeconds: 300, periodSeconds: 60, endOffsetSeconds: 0}
    queries:
      - {id: req, stat: Sum, metric: {namespace: Shop, name: Requests, dimensions: {Service: web}}}
    condition: "sum(req) >= 1"
    minDatapoints: 1
    sampling: {count: 1, intervalMs: 1000}
    onInconclusive: person
"""
    )
    client("s3").put_object(Bucket=BUCKET, Key="specs/shop/web.yaml", Body=asking.encode())

    final = drive(payload())[-1]

    # Then the hook fails closed, naming the check and why nobody was asked
    assert final["hookStatus"] == "FAILED"
    reason = final["hookDetails"]["codereflex"]["reason"]
    assert "check green-requests" in reason and "ECS native hooks cannot ask a person" in reason, reason
