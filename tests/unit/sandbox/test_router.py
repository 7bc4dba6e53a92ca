"""Contract of the sandbox's EventBridge -> Lambda router, on a fixture template with real handler imports."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import textwrap
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from sandbox.lambdas.router import (
    FunctionNotDeployedError,
    HandlerImportError,
    Invocation,
    MarshalError,
    Router,
    RouterError,
    UnknownFunctionError,
    event_from_entry,
)
from sandbox.lambdas.template import Resolver, TemplateError, load_template

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_TEMPLATE = FIXTURES / "template.yaml"
CODE_DIR = (FIXTURES / "fn").resolve()
RESOURCES = {
    "Table": "sandbox-table",
    "Table.Arn": "arn:aws:dynamodb:us-east-1:123456789012:table/sandbox-table",
    "Topic": "arn:aws:sns:us-east-1:123456789012:sandbox-topic",
}


def make_router(**parameters: str) -> Router:
    template = load_template(FIXTURE_TEMPLATE)
    return Router(template, Resolver(template, parameters=parameters, resources=RESOURCES, stack_name="sandbox"))


@pytest.fixture
def router() -> Router:
    return make_router()


def codecommit_event(event: str = "referenceUpdated", reference_type: str = "branch", **extra: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "01234567-0123-0123-0123-012345678901",
        "detail-type": "CodeCommit Repository State Change",
        "source": "aws.codecommit",
        "account": "123456789012",
        "time": "2026-11-23T18:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:codecommit:us-east-1:123456789012:demo"],
        "detail": {"event": event, "referenceType": reference_type, "referenceName": "main", "repositoryName": "demo"},
        **extra,
    }


def build_event() -> dict[str, Any]:
    event = codecommit_event()
    event.update(source="aws.codebuild", **{"detail-type": "CodeBuild Build State Change"})
    event["detail"] = {"build-status": "SUCCEEDED", "project-name": "demo"}
    return event


def pull_request_event() -> dict[str, Any]:
    event = codecommit_event()
    event["detail-type"] = "CodeCommit Pull Request State Change"
    event["detail"] = {"event": "pullRequestCreated", "pullRequestId": "1"}
    return event


def fixture_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key.startswith("FIXTURE_")}


# --- matching -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(codecommit_event("referenceUpdated"), ["OnPush", "OnAnyRepositoryEvent"], id="branch updated"),
        pytest.param(
            codecommit_event("referenceCreated"), ["OnPush", "Exploder", "OnAnyRepositoryEvent"], id="branch created"
        ),
        pytest.param(
            codecommit_event("referenceCreated", "tag"), ["Exploder", "OnAnyRepositoryEvent"], id="tag created"
        ),
        pytest.param(pull_request_event(), ["OnAnyRepositoryEvent"], id="pull request"),
        pytest.param(build_event(), ["OnBuild"], id="legacy CloudWatchEvent rule"),
        pytest.param({**codecommit_event(), "source": "aws.s3"}, [], id="nothing listens"),
    ],
)
def test_an_event_matches_exactly_the_functions_whose_patterns_match(
    router: Router, event: dict[str, Any], expected: list[str]
) -> None:
    # Given the fixture's rules
    # When an event arrives on the default bus
    matched = router.match(event)
    # Then exactly the functions with a matching pattern are selected, in template order
    assert [spec.logical_id for spec in matched] == expected


def test_a_function_disabled_by_its_condition_is_not_routed() -> None:
    # Given the fixture at Stage=dev, where ProdAudit's condition is false
    dev = make_router()
    # When an event its pattern would match arrives
    matched = [spec.logical_id for spec in dev.match(build_event())]
    # Then it is not routed, but is listed as disabled
    assert "ProdAudit" not in matched
    assert [spec.logical_id for spec in dev.disabled_functions] == ["ProdAudit"]
    with pytest.raises(FunctionNotDeployedError, match="condition IsProd is false"):
        dev.invoke("ProdAudit", build_event())
    # And at Stage=prod the same event reaches it
    prod = make_router(Stage="prod")
    assert [spec.logical_id for spec in prod.match(build_event())] == ["OnBuild", "ProdAudit"]


# --- routing --------------------------------------------------------------------------------------


def test_route_invokes_every_match_and_records_a_failure_without_stopping(router: Router) -> None:
    # Given an event three functions match, the second of which raises
    event = codecommit_event("referenceCreated")
    # When it is routed
    invocations = router.route(event)
    # Then every target ran, in order, each outcome recorded
    assert [i.logical_id for i in invocations] == ["OnPush", "Exploder", "OnAnyRepositoryEvent"]
    assert [i.rule for i in invocations] == ["Push", "NewReference", "Any"]
    failed = invocations[1]
    assert not failed.ok
    assert isinstance(failed.error, RuntimeError)
    assert str(failed.error) == "boom in sandbox-Exploder"
    for ok in (invocations[0], invocations[2]):
        assert ok.ok
        assert ok.result["event"]["detail"]["event"] == "referenceCreated"
    # And each invocation has its own request id
    assert len({i.request_id for i in invocations}) == 3


def test_route_delivers_a_private_json_copy_of_the_event(router: Router) -> None:
    # Given an event / When routed to a handler that mutates what it receives
    event = codecommit_event()
    invocations = router.route(event)
    # Then the caller's event is untouched and each handler got its own copy
    assert "mutated_by_handler" not in event
    assert all("mutated_by_handler" not in i.event for i in invocations)


def test_route_rejects_an_event_that_is_not_json(router: Router) -> None:
    # Given an event holding a non-JSON value / When routed / Then the router refuses it up front
    with pytest.raises(RouterError, match="not JSON-serialisable"):
        router.route({**codecommit_event(), "detail": {"when": dt.datetime.now(dt.UTC)}})


def test_put_events_wraps_entries_like_eventbridge(router: Router) -> None:
    # Given a PutEvents entry for a CodeCommit-like event
    entry = {
        "Source": "aws.codecommit",
        "DetailType": "CodeCommit Repository State Change",
        "Detail": '{"event": "referenceUpdated", "referenceType": "branch"}',
        "Resources": ["arn:aws:codecommit:us-east-1:123456789012:demo"],
    }
    # When it is put on the default bus
    invocations = router.put_events([entry])
    # Then the functions receive the full EventBridge envelope
    assert [i.logical_id for i in invocations] == ["OnPush", "OnAnyRepositoryEvent"]
    delivered = invocations[0].result["event"]
    assert delivered["detail-type"] == "CodeCommit Repository State Change"
    assert delivered["detail"] == {"event": "referenceUpdated", "referenceType": "branch"}
    assert (delivered["account"], delivered["region"], delivered["version"]) == ("123456789012", "us-east-1", "0")
    uuid.UUID(delivered["id"])
    # And an entry for another bus reaches none of the default-bus rules
    assert router.put_events([{**entry, "EventBusName": "other-bus"}]) == []


def test_event_from_entry_validates_the_entry() -> None:
    # Given entries EventBridge would reject / When wrapped / Then the problem is named
    with pytest.raises(RouterError, match="needs DetailType"):
        event_from_entry({"Source": "x", "Detail": "{}"})
    with pytest.raises(RouterError, match="not valid JSON"):
        event_from_entry({"Source": "x", "DetailType": "y", "Detail": "{"})
    # And a fixed time is kept in EventBridge's format
    event = event_from_entry(
        {"Source": "x", "DetailType": "y", "Time": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)}
    )
    assert (event["time"], event["detail"], event["resources"]) == ("2026-01-02T03:04:05Z", {}, [])


# --- invocation: context, environment, imports ------------------------------------------------------


def test_the_context_is_built_from_the_template(router: Router) -> None:
    # Given OnPush (Timeout 30, MemorySize 512) in stack "sandbox"
    # When invoked directly
    result = router.invoke("OnPush", codecommit_event())
    # Then the context carries the Lambda fields the template implies
    context = result["context"]
    assert context["function_name"] == "sandbox-OnPush"
    assert context["function_version"] == "$LATEST"
    assert context["memory_limit_in_mb"] == 512
    assert context["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:sandbox-OnPush"
    assert context["log_group_name"] == "/aws/lambda/sandbox-OnPush"
    assert "[$LATEST]" in context["log_stream_name"]
    assert uuid.UUID(context["aws_request_id"]).version == 4
    # And the remaining time counts down from the Timeout
    assert 25_000 < context["remaining_ms"] <= 30_000


def test_the_function_environment_is_applied_during_the_call_only(
    router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a variable the function also sets, already present in the process
    monkeypatch.setenv("FIXTURE_SCOPE", "outer")
    before = dict(os.environ)
    # When OnPush is invoked
    result = router.invoke("OnPush", codecommit_event())
    # Then the handler saw its resolved Environment and Lambda's reserved variables
    env = result["env"]
    assert env["FIXTURE_SCOPE"] == "function"
    assert env["FIXTURE_STAGE"] == "dev"
    assert env["FIXTURE_TABLE"] == "sandbox-table"
    assert env["FIXTURE_TOPIC"] == f"{RESOURCES['Topic']}|us-east-1|dev|sandbox"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "sandbox-OnPush"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["LAMBDA_TASK_ROOT"] == str(CODE_DIR)
    assert env["_HANDLER"] == "router_fixture_fn.app.record"
    # And afterwards os.environ is exactly as before
    assert dict(os.environ) == before


def test_the_environment_is_restored_when_the_handler_raises(router: Router, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a handler that changes os.environ and then raises
    monkeypatch.setenv("FIXTURE_SCOPE", "outer")
    before = dict(os.environ)
    # When it is invoked directly
    with pytest.raises(RuntimeError, match="boom"):
        router.invoke("Exploder", codecommit_event("referenceCreated"))
    # Then its changes and the function's variables are gone
    assert dict(os.environ) == before
    assert "FIXTURE_LEAK" not in os.environ


def test_env_overrides_win_over_the_template(router: Router) -> None:
    # Given an override for a template variable and a new one
    overrides = {"FIXTURE_STAGE": "override", "FIXTURE_EXTRA": "1"}
    # When invoked with them / Then the handler sees them, and they vanish afterwards
    env = router.invoke("OnBuild", build_event(), env_overrides=overrides)["env"]
    assert (env["FIXTURE_STAGE"], env["FIXTURE_EXTRA"]) == ("override", "1")
    assert "FIXTURE_EXTRA" not in os.environ


def test_the_handler_imports_from_its_code_uri(router: Router) -> None:
    # Given Handler router_fixture_fn.app.record and CodeUri fn/
    # When invoked
    result = router.invoke("OnBuild", build_event())
    # Then the module came from the CodeUri directory, which is on sys.path as Lambda's /var/task
    assert Path(result["module_file"]).resolve().is_relative_to(CODE_DIR)
    assert str(CODE_DIR) in result["sys_path"]
    assert str(CODE_DIR) in sys.path


def test_concurrent_invocations_do_not_interleave_environments(router: Router) -> None:
    # Given two threads invoking the same function with different environments, each pausing mid-call
    results: dict[str, Any] = {}

    def call(token: str) -> None:
        event = {**build_event(), "sleep": 0.05}
        results[token] = router.invoke("OnBuild", event, env_overrides={"FIXTURE_TOKEN": token})

    threads = [threading.Thread(target=call, args=(token,)) for token in ("one", "two")]
    # When they run at the same time
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then each call saw only its own environment, before and after its pause
    for token in ("one", "two"):
        assert results[token]["env"]["FIXTURE_TOKEN"] == token
        assert results[token]["env_after_sleep"]["FIXTURE_TOKEN"] == token
    assert "FIXTURE_TOKEN" not in os.environ


def test_invoke_errors_are_specific(router: Router) -> None:
    # Given names that are not invocable / When invoked / Then the error says which and why
    with pytest.raises(UnknownFunctionError, match="no function 'Nope' in the template"):
        router.invoke("Nope", {})
    recorded = router.invoke_recorded("Exploder", {})
    assert isinstance(recorded, Invocation)
    assert isinstance(recorded.error, RuntimeError)


def test_cold_start_forgets_imported_modules(router: Router) -> None:
    # Given a warm function
    router.invoke("OnBuild", build_event())
    assert "router_fixture_fn.app" in sys.modules
    # When a cold start is requested
    router.cold_start("OnBuild")
    # Then its modules are re-imported on the next call
    assert "router_fixture_fn.app" not in sys.modules
    assert router.invoke("OnBuild", build_event())["context"]["function_name"] == "sandbox-OnBuild"


def test_handler_module_is_initialised_as_an_invocation_would_and_is_what_invocations_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a cold function whose template says WARNING
    quiet = make_router(LogLevel="WARNING")
    quiet.cold_start()
    # When its module is asked for before any invocation, and one of its names replaced
    module = quiet.handler_module("OnBuild")
    monkeypatch.setattr(module, "_REPORTED_ENV_PREFIXES", ("FIXTURE_",))
    result = quiet.invoke("OnBuild", build_event())
    # Then it was imported in the function's environment (its logger at WARNING) and the invocation ran it, warm
    assert module is sys.modules["router_fixture_fn.app"]
    assert "Fixture recorded" not in capsys.readouterr().out
    assert not any(key.startswith("AWS_LAMBDA_") for key in result["env"])
    quiet.cold_start()  # the next test's router starts from nothing too


def test_a_new_execution_environment_logs_at_its_own_level_to_the_stdout_of_its_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a function that ran in an earlier sandbox whose log level said WARNING, its output taken
    quiet = make_router(LogLevel="WARNING")
    quiet.invoke("OnBuild", build_event())
    assert "Fixture recorded" not in capsys.readouterr().out
    # When a new sandbox starts it cold (as Sandbox does) with INFO
    loud = make_router(LogLevel="INFO")
    loud.cold_start()
    loud.invoke("OnBuild", build_event())
    # Then its INFO line is printed, where print would go now (Powertools keeps both level and stream
    # of the first configuration it made, which Lambda never carries to a new execution environment)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(line["message"], line["function"]) for line in lines] == [("Fixture recorded", "sandbox-OnBuild")]
    quiet.cold_start()  # the next test's router starts from nothing too


# --- schedules ------------------------------------------------------------------------------------


def test_invoke_scheduled_sends_a_scheduled_event(router: Router) -> None:
    # Given OnPush's Nightly schedule
    when = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)
    # When it fires
    invocation = router.invoke_scheduled("OnPush", when=when)
    # Then the handler gets EventBridge's Scheduled Event for that rule
    assert invocation.ok
    assert invocation.rule == "Nightly"
    payload = invocation.result["event"]
    assert payload["source"] == "aws.events"
    assert payload["detail-type"] == "Scheduled Event"
    assert payload["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/sandbox-OnPushNightly"]
    assert (payload["time"], payload["detail"], payload["account"]) == ("2026-11-23T03:00:00Z", {}, "123456789012")


def test_invoke_scheduled_needs_a_schedule(router: Router) -> None:
    # Given a function without a schedule / When fired / Then the router says so
    with pytest.raises(RouterError, match="OnBuild has 0 schedules"):
        router.invoke_scheduled("OnBuild")
    with pytest.raises(RouterError, match="no Schedule/ScheduleV2 event named 'Hourly'"):
        router.invoke_scheduled("OnPush", "Hourly")


# --- templates beyond the fixture -----------------------------------------------------------------


def write_template(tmp_path: Path, resources: str) -> Path:
    path = tmp_path / "template.yaml"
    body = textwrap.dedent(
        f"""
        Globals:
          Function:
            CodeUri: {CODE_DIR}
            Handler: router_fixture_fn.app.record
            Runtime: python3.11
        Resources:
        """
    ) + textwrap.indent(textwrap.dedent(resources), "  ")
    path.write_text(body)
    return path


def test_input_input_path_and_input_transformer_shape_the_payload(tmp_path: Path) -> None:
    # Given rules that rewrite what their target receives
    path = write_template(
        tmp_path,
        """
        Fn:
          Type: AWS::Serverless::Function
          Properties:
            Events:
              Constant:
                Type: EventBridgeRule
                Properties:
                  Pattern: {source: [aws.codecommit]}
                  Input: '{"fixed": true}'
              DetailOnly:
                Type: EventBridgeRule
                Properties:
                  Pattern: {source: [aws.codecommit]}
                  InputPath: $.detail
              Transformed:
                Type: EventBridgeRule
                Properties:
                  Pattern: {source: [aws.codecommit]}
                  InputTransformer:
                    InputPathsMap: {repo: $.detail.repositoryName, res: "$.resources[0]", kind: "$.detail-type"}
                    InputTemplate: >-
                      {"repo": <repo>, "label": "<repo> via <kind>",
                      "first": "<res>", "rule": <aws.events.rule-name>}
              Sentence:
                Type: EventBridgeRule
                Properties:
                  Pattern: {source: [aws.codecommit]}
                  InputTransformer:
                    InputPathsMap: {repo: $.detail.repositoryName}
                    InputTemplate: Repository <repo> changed
        """,
    )
    router = Router.from_template(path, stack_name="st")
    # When a matching event is routed
    payloads = {i.rule: i.result["event"] for i in router.route(codecommit_event())}
    # Then each target receives its own shape of the event
    assert payloads["Constant"] == {"fixed": True}
    assert payloads["DetailOnly"]["repositoryName"] == "demo"
    assert payloads["Transformed"] == {
        "repo": "demo",
        "label": "demo via CodeCommit Repository State Change",
        "first": "arn:aws:codecommit:us-east-1:123456789012:demo",
        "rule": "st-FnTransformed",
    }
    assert payloads["Sentence"] == "Repository demo changed"


def test_rules_on_a_custom_bus_and_disabled_rules(tmp_path: Path) -> None:
    # Given one rule on a custom bus and one disabled rule
    path = write_template(
        tmp_path,
        """
        Bus: {Type: AWS::Events::EventBus, Properties: {Name: pipeline}}
        OnBus:
          Type: AWS::Serverless::Function
          Properties:
            Events:
              E: {Type: EventBridgeRule, Properties: {EventBusName: !Ref Bus, Pattern: {source: [aws.codecommit]}}}
        Off:
          Type: AWS::Serverless::Function
          Properties:
            Events:
              E: {Type: EventBridgeRule, Properties: {State: DISABLED, Pattern: {source: [aws.codecommit]}}}
        """,
    )
    router = Router.from_template(path)
    # When the same event arrives on each bus
    # Then only the enabled rule on that bus matches
    assert router.match(codecommit_event()) == []
    assert [s.logical_id for s in router.match(codecommit_event(), event_bus_name="pipeline")] == ["OnBus"]


def test_a_malformed_pattern_fails_when_the_router_is_built(tmp_path: Path) -> None:
    # Given a rule whose pattern has a bare string leaf
    path = write_template(
        tmp_path,
        """
        Fn:
          Type: AWS::Serverless::Function
          Properties:
            Events:
              Bad: {Type: EventBridgeRule, Properties: {Pattern: {source: aws.codecommit}}}
        """,
    )
    # When the router is built / Then the error names the function, the event and the field
    with pytest.raises(TemplateError, match=r"Fn\.Events\.Bad: source: match values must be in an array"):
        Router.from_template(path)


@pytest.mark.parametrize(
    ("handler", "error", "message"),
    [
        ("router_fixture_fn.app.missing", HandlerImportError, "router_fixture_fn.app has no function missing"),
        ("router_fixture_fn.nope.handler", HandlerImportError, "cannot import router_fixture_fn.nope"),
        ("handler", HandlerImportError, "looks like package.module.function"),
        ("router_fixture_fn.app.not_json", MarshalError, "Runtime.MarshalError"),
    ],
)
def test_broken_handlers_are_reported(tmp_path: Path, handler: str, error: type[Exception], message: str) -> None:
    # Given a function whose handler cannot be loaded or returns something that is not JSON
    path = write_template(
        tmp_path,
        f"""
        Fn:
          Type: AWS::Serverless::Function
          Properties:
            Handler: {handler}
            Events:
              E: {{Type: EventBridgeRule, Properties: {{Pattern: {{source: [aws.codecommit]}}}}}}
        """,
    )
    router = Router.from_template(path)
    # When an event is routed to it
    (invocation,) = router.route(codecommit_event())
    # Then the failure is recorded as Lambda would report it
    assert isinstance(invocation.error, error)
    assert message in str(invocation.error)


# --- SNS -> Lambda ------------------------------------------------------------------------------

SNS_SAMPLE = Path(__file__).parents[2] / "data" / "aws-samples" / "sns-approval-lambda-event.json"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:approvals"


def sns_router(tmp_path: Path) -> Router:
    path = write_template(
        tmp_path,
        """
        Approvals:
          Type: AWS::SNS::Topic
        Everything:
          Type: AWS::Serverless::Function
          Properties:
            Events:
              Notified:
                Type: SNS
                Properties:
                  Topic: !Ref Approvals
        AliceOnly:
          Type: AWS::Serverless::Function
          Properties:
            Events:
              Mail:
                Type: SNS
                Properties:
                  Topic: !Ref Approvals
                  FilterPolicy:
                    approver: [alice@example.com]
        """,
    )
    return Router.from_template(path, resources={"Approvals": TOPIC_ARN}, stack_name="st")


def test_a_published_message_reaches_the_subscribed_functions_as_the_lambda_sns_event(tmp_path: Path) -> None:
    # Given a function subscribed to a topic with SAM's `Type: SNS`
    router = sns_router(tmp_path)

    # When a message with an attribute for someone else is published
    invocations = router.deliver_sns(
        TOPIC_ARN,
        '{"hello": "world"}',
        message_id="95df01b4-ee98-5cb9-9903-4c221d41eb5e",
        subject="APPROVAL NEEDED",
        attributes={"approver": {"Type": "String", "Value": "bob@example.com"}},
        timestamp=dt.datetime(2026, 3, 2, 9, 0, 1, 250_000, tzinfo=dt.UTC),
    )

    # Then only the unfiltered function runs, and it gets the record in the Lambda guide's shape
    assert [i.logical_id for i in invocations] == ["Everything"]
    event = invocations[0].result["event"]
    sample = json.loads(SNS_SAMPLE.read_text())
    record, sample_record = event["Records"][0], sample["Records"][0]
    assert set(record) == set(sample_record)
    assert set(record["Sns"]) == set(sample_record["Sns"])
    assert record["EventSource"] == "aws:sns"
    assert record["EventSubscriptionArn"].startswith(TOPIC_ARN + ":")
    assert record["Sns"]["TopicArn"] == TOPIC_ARN
    assert record["Sns"]["Message"] == '{"hello": "world"}'
    assert record["Sns"]["Subject"] == "APPROVAL NEEDED"
    assert record["Sns"]["MessageAttributes"] == {"approver": {"Type": "String", "Value": "bob@example.com"}}
    assert record["Sns"]["Timestamp"] == "2026-03-02T09:00:01.250Z"


def test_a_filter_policy_lets_through_the_messages_it_names(tmp_path: Path) -> None:
    router = sns_router(tmp_path)

    for_alice = router.deliver_sns(
        TOPIC_ARN, "hi", message_id="1", attributes={"approver": {"Type": "String", "Value": "alice@example.com"}}
    )
    without_attributes = router.deliver_sns(TOPIC_ARN, "hi", message_id="2")
    other_topic = router.deliver_sns(TOPIC_ARN + "-other", "hi", message_id="3")

    assert sorted(i.logical_id for i in for_alice) == ["AliceOnly", "Everything"]
    assert [i.logical_id for i in without_attributes] == ["Everything"]
    assert other_topic == []


def test_an_sns_event_must_name_a_topic_arn(tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        """
        Fn:
          Type: AWS::Serverless::Function
          Properties:
            Events:
              Notified:
                Type: SNS
                Properties:
                  Topic: not-an-arn
        """,
    )
    with pytest.raises(TemplateError, match="Topic must resolve to a topic ARN"):
        Router.from_template(path, stack_name="st")
