"""The sandbox's CodePipeline: executions run source and build, wait at an approval, and go on as AWS's would."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygit2
import pytest
from botocore.exceptions import ClientError

from sandbox.aws.moto_ext import hold_builds, set_build_status
from sandbox.aws.pipelines import approval_pipeline
from sandbox.demo.demo_kit import commit
from sandbox.local import Sandbox

if TYPE_CHECKING:
    from collections.abc import Iterator

SAMPLES = Path(__file__).parents[2] / "data" / "aws-samples"
HANDLERS = (Path(__file__).parents[2] / "unit" / "sandbox" / "fixtures" / "fn").resolve()
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/codebuild-service"
# The fixture handler returns the event it received, so each invocation records its payload.
TEMPLATE = f"""
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    CodeUri: {HANDLERS}
    Handler: router_fixture_fn.app.record
    Runtime: python3.11
Resources:
  ApprovalTopic:
    Type: AWS::SNS::Topic
  MailTopic:
    Type: AWS::SNS::Topic
  PipelineWatcher:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Actions:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [aws.codepipeline]
              detail-type: [CodePipeline Action Execution State Change]
              detail:
                type: {{category: [Approval], provider: [Manual]}}
  ApprovalSubscriber:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Notified:
          Type: SNS
          Properties:
            Topic: !Ref ApprovalTopic
"""


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.yaml"
    path.write_text(textwrap.dedent(TEMPLATE))
    return path


def _open(template: Path, tmp_path: Path, **options: Any) -> Iterator[Sandbox]:
    with Sandbox(template=template, **options) as sandbox:
        repo = pygit2.init_repository(str(tmp_path / "app.git"), bare=True, initial_head="main")
        first = commit(repo, "Add the greeting\n\nLonger story.", {"README": "hello\n"}, [])
        repo.create_reference_direct("refs/heads/main", first, True)
        sandbox.import_repository("app", tmp_path / "app.git", in_place=True)
        sandbox.client("codebuild").create_project(
            name="app-build",
            source={"type": "CODECOMMIT", "location": sandbox.store.clone_url("app")},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={
                "type": "ARM_CONTAINER",
                "image": "aws/codebuild/standard",
                "computeType": "BUILD_GENERAL1_SMALL",
            },
            serviceRole=ROLE,
        )
        sandbox.pipelines.clock = Clock()
        yield sandbox


@pytest.fixture
def sandbox(template: Path, tmp_path: Path) -> Iterator[Sandbox]:
    yield from _open(template, tmp_path)


def _clock(sandbox: Sandbox) -> Clock:
    clock = sandbox.pipelines.clock
    assert isinstance(clock, Clock)
    return clock


def create(sandbox: Sandbox, *, mode: str | None = None, notify: bool = False, **approval: Any) -> None:
    configuration = {"NotificationArn": sandbox.stack.refs["ApprovalTopic"]} if notify else {}
    deploy = {
        "name": "Deploy",
        "actions": [
            {
                "name": "Ship",
                "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                "configuration": {"ProjectName": "app-build"},
                "inputArtifacts": [{"name": "SourceArtifact"}],
            }
        ],
    }
    declaration = approval_pipeline(
        "app",
        repository="app",
        project="app-build",
        mode=mode,
        approval={"configuration": {**configuration, **approval.pop("configuration", {})}, **approval},
        after=[deploy],
    )
    sandbox.pipelines.create(declaration)


def states(sandbox: Sandbox, execution_id: str | None = None) -> list[tuple[str, str, str]]:
    """(detail-type kind, where, state) of every event the pipelines emitted, in order."""
    found = []
    for event in sandbox.pipelines.events:
        detail = event["detail"]
        if execution_id is not None and detail["execution-id"] != execution_id:
            continue
        kind = event["detail-type"].split()[1]
        where = detail.get("action") or detail.get("stage") or detail["pipeline"]
        found.append((kind, where, detail["state"]))
    return found


def waiting(sandbox: Sandbox) -> dict[str, Any]:
    stage = sandbox.client("codepipeline").get_pipeline_state(name="app")["stageStates"][2]
    return dict(stage)


def approve(sandbox: Sandbox, token: str, status: str = "Approved") -> None:
    sandbox.client("codepipeline").put_approval_result(
        pipelineName="app",
        stageName="Approval",
        actionName="Approve",
        result={"status": status, "summary": f"{status} by alice@example.com via codereflex: fine"},
        token=token,
    )


def test_an_execution_runs_source_and_build_and_waits_at_the_approval(sandbox: Sandbox) -> None:
    # Given a pipeline Source -> Build -> Approval -> Deploy
    create(sandbox)
    tip = sandbox.client("codecommit").get_branch(repositoryName="app", branchName="main")["branch"]["commitId"]

    # When an execution starts
    execution_id = sandbox.pipelines.start("app")

    # Then it ran source and build and waits at the approval, saying so in AWS's events
    assert states(sandbox) == [
        ("Pipeline", "app", "STARTED"),
        ("Stage", "Source", "STARTED"),
        ("Action", "Source", "STARTED"),
        ("Action", "Source", "SUCCEEDED"),
        ("Stage", "Source", "SUCCEEDED"),
        ("Stage", "Build", "STARTED"),
        ("Action", "Build", "STARTED"),
        ("Action", "Build", "SUCCEEDED"),
        ("Stage", "Build", "SUCCEEDED"),
        ("Stage", "Approval", "STARTED"),
        ("Action", "Approve", "STARTED"),
    ]
    codepipeline = sandbox.client("codepipeline")
    stage = waiting(sandbox)
    assert stage["latestExecution"] == {"pipelineExecutionId": execution_id, "status": "InProgress"}
    assert stage["actionStates"][0]["latestExecution"]["status"] == "InProgress"
    # And the source revision is the branch tip, with its message and a link to the commit
    execution = codepipeline.get_pipeline_execution(pipelineName="app", pipelineExecutionId=execution_id)
    (revision,) = execution["pipelineExecution"]["artifactRevisions"]
    assert revision["name"] == "SourceArtifact"
    assert revision["revisionId"] == tip
    assert revision["revisionSummary"] == "Add the greeting\n\nLonger story."
    assert revision["revisionUrl"] == (
        f"https://us-east-1.console.aws.amazon.com/codesuite/codecommit/repositories/app/commit/{tip}?region=us-east-1"
    )
    # And the build built that commit through the CodeBuild stand-in
    details = codepipeline.list_action_executions(pipelineName="app", filter={"pipelineExecutionId": execution_id})
    by_action = {d["actionName"]: d for d in details["actionExecutionDetails"]}
    build_id = by_action["Build"]["output"]["executionResult"]["externalExecutionId"]
    (build,) = sandbox.client("codebuild").batch_get_builds(ids=[build_id])["builds"]
    assert build["sourceVersion"] == tip
    assert build["initiator"] == "codepipeline/app"
    assert [d["status"] for d in details["actionExecutionDetails"]] == ["InProgress", "Succeeded", "Succeeded"]
    # And the function subscribed to approval events got the STARTED event
    (delivered,) = [i for i in sandbox.deliveries if i.logical_id == "PipelineWatcher"]
    assert delivered.result["event"]["detail"]["state"] == "STARTED"


def test_the_events_have_the_shapes_of_aws_samples(sandbox: Sandbox) -> None:
    create(sandbox, timeoutInMinutes=5)
    sandbox.pipelines.start("app")
    _clock(sandbox).now += timedelta(minutes=5)
    sandbox.pipelines.settle()

    emitted = {
        (e["detail-type"], e["detail"].get("action") or e["detail"].get("stage"), e["detail"]["state"]): e
        for e in sandbox.pipelines.events
    }
    pairs = {
        "codepipeline-action-execution-approval-started.json": (
            "CodePipeline Action Execution State Change",
            "Approve",
            "STARTED",
        ),
        "codepipeline-stage-execution.json": ("CodePipeline Stage Execution State Change", "Source", "STARTED"),
        "codepipeline-pipeline-execution-failed.json": ("CodePipeline Pipeline Execution State Change", None, "FAILED"),
    }
    for name, key in pairs.items():
        sample = json.loads((SAMPLES / name).read_text())
        event = emitted[key]
        assert set(event) == set(sample), name
        assert set(event["detail"]) == set(sample["detail"]), name
        for field in ("version",):
            assert type(event["detail"][field]) is type(sample["detail"][field]), (name, field)
        assert event["resources"] == [f"arn:aws:codepipeline:us-east-1:123456789012:{event['detail']['pipeline']}"]
    trigger = emitted["CodePipeline Pipeline Execution State Change", None, "STARTED"]["detail"]["execution-trigger"]
    assert trigger["trigger-type"] == "StartPipelineExecution"
    assert trigger["trigger-detail"].startswith("arn:aws:")
    started = emitted["CodePipeline Action Execution State Change", "Approve", "STARTED"]["detail"]
    assert started["type"] == {"owner": "AWS", "category": "Approval", "provider": "Manual", "version": "1"}
    # A failed action carries its result as the documented FAILED sample does, minus nothing
    failed_sample = json.loads((SAMPLES / "codepipeline-action-execution-failed.json").read_text())["detail"]
    failed = emitted["CodePipeline Action Execution State Change", "Approve", "FAILED"]["detail"]
    assert set(failed) == set(failed_sample)
    assert set(failed["execution-result"]) <= set(failed_sample["execution-result"])
    assert failed["execution-result"]["error-code"] == "JobFailed"
    # No event carries the approval token
    token = sandbox.client("codepipeline").list_action_executions(pipelineName="app")["actionExecutionDetails"][0]
    assert token["output"]["executionResult"]["externalExecutionId"] not in json.dumps(sandbox.pipelines.events)


def test_the_approval_message_reaches_the_notification_topics_subscriber(sandbox: Sandbox) -> None:
    # Given an approval that names a topic, with custom data but no external link
    create(sandbox, notify=True, configuration={"CustomData": "Check the release notes"}, timeoutInMinutes=90)

    # When an execution reaches it
    sandbox.pipelines.start("app")

    # Then the function subscribed to that topic got CodePipeline's documented message, as an SNS event
    (delivered,) = [i for i in sandbox.deliveries if i.logical_id == "ApprovalSubscriber"]
    record = delivered.result["event"]["Records"][0]["Sns"]
    assert record["TopicArn"] == sandbox.stack.refs["ApprovalTopic"]
    assert record["Subject"] == "APPROVAL NEEDED: AWS CodePipeline app for action Approve"
    message = json.loads(record["Message"])
    sample = json.loads((SAMPLES / "codepipeline-approval-sns-message.json").read_text())
    assert set(message) == set(sample)
    assert set(message["approval"]) == set(sample["approval"])
    token = waiting(sandbox)["actionStates"][0]["latestExecution"]["token"]
    assert message["approval"] | {"token": "-"} == {
        "pipelineName": "app",
        "stageName": "Approval",
        "actionName": "Approve",
        "token": "-",
        "expires": "2026-03-02T10:30Z",
        "externalEntityLink": None,
        "approvalReviewLink": f"{message['consoleLink']}/Approval/Approve/approve/{token}",
        "customData": "Check the release notes",
    }
    assert message["approval"]["token"] == token
    assert message["consoleLink"] == "https://console.aws.amazon.com/codepipeline/home?region=us-east-1#/view/app"


def test_approving_moves_the_pipeline_on_to_its_end(sandbox: Sandbox) -> None:
    create(sandbox)
    execution_id = sandbox.pipelines.start("app")
    before = len(sandbox.pipelines.events)

    # When the approval is answered and the sandbox settles
    approve(sandbox, waiting(sandbox)["actionStates"][0]["latestExecution"]["token"])
    sandbox.pipelines.settle()

    # Then the approval succeeded, Deploy ran and the execution succeeded
    assert states(sandbox)[before:] == [
        ("Action", "Approve", "SUCCEEDED"),
        ("Stage", "Approval", "SUCCEEDED"),
        ("Stage", "Deploy", "STARTED"),
        ("Action", "Ship", "STARTED"),
        ("Action", "Ship", "SUCCEEDED"),
        ("Stage", "Deploy", "SUCCEEDED"),
        ("Pipeline", "app", "SUCCEEDED"),
    ]
    summary = sandbox.pipelines.events[before]["detail"]["execution-result"]["external-execution-summary"]
    assert summary == "Approved by alice@example.com via codereflex: fine"
    status = sandbox.client("codepipeline").get_pipeline_execution(pipelineName="app", pipelineExecutionId=execution_id)
    assert status["pipelineExecution"]["status"] == "Succeeded"


def test_rejecting_fails_the_execution(sandbox: Sandbox) -> None:
    create(sandbox)
    execution_id = sandbox.pipelines.start("app")
    before = len(sandbox.pipelines.events)

    approve(sandbox, waiting(sandbox)["actionStates"][0]["latestExecution"]["token"], status="Rejected")
    sandbox.pipelines.settle()

    assert states(sandbox)[before:] == [
        ("Action", "Approve", "FAILED"),
        ("Stage", "Approval", "FAILED"),
        ("Pipeline", "app", "FAILED"),
    ]
    status = sandbox.client("codepipeline").get_pipeline_execution(pipelineName="app", pipelineExecutionId=execution_id)
    assert status["pipelineExecution"]["status"] == "Failed"


def test_an_unanswered_approval_expires_and_fails_the_execution(sandbox: Sandbox) -> None:
    create(sandbox, timeoutInMinutes=30)
    sandbox.pipelines.start("app")
    token = waiting(sandbox)["actionStates"][0]["latestExecution"]["token"]
    before = len(sandbox.pipelines.events)

    _clock(sandbox).now += timedelta(minutes=29)
    sandbox.pipelines.settle()
    assert len(sandbox.pipelines.events) == before

    _clock(sandbox).now += timedelta(minutes=1)
    sandbox.pipelines.settle()
    assert states(sandbox)[before:] == [
        ("Action", "Approve", "FAILED"),
        ("Stage", "Approval", "FAILED"),
        ("Pipeline", "app", "FAILED"),
    ]
    with pytest.raises(ClientError, match="InvalidApprovalTokenException"):
        approve(sandbox, token)


def test_a_newer_execution_supersedes_a_waiting_one(sandbox: Sandbox) -> None:
    # Given an execution waiting at the approval
    create(sandbox)
    older = sandbox.pipelines.start("app")
    older_token = waiting(sandbox)["actionStates"][0]["latestExecution"]["token"]

    # When a newer execution reaches the approval stage
    newer = sandbox.pipelines.start("app")

    # Then the older's approval was abandoned and the older execution superseded
    assert states(sandbox, older)[-3:] == [
        ("Action", "Approve", "ABANDONED"),
        ("Stage", "Approval", "CANCELED"),
        ("Pipeline", "app", "SUPERSEDED"),
    ]
    codepipeline = sandbox.client("codepipeline")
    assert (
        codepipeline.get_pipeline_execution(pipelineName="app", pipelineExecutionId=older)["pipelineExecution"][
            "status"
        ]
        == "Superseded"
    )
    # And the stage now waits on the newer execution, with another token
    stage = waiting(sandbox)
    assert stage["latestExecution"]["pipelineExecutionId"] == newer
    assert stage["actionStates"][0]["latestExecution"]["token"] != older_token
    # And the older token answers nothing
    with pytest.raises(ClientError, match="InvalidApprovalTokenException"):
        approve(sandbox, older_token)


def test_parallel_executions_wait_at_once_and_are_answered_by_external_execution_id(sandbox: Sandbox) -> None:
    create(sandbox, mode="PARALLEL")
    first, second = sandbox.pipelines.start("app"), sandbox.pipelines.start("app")
    codepipeline = sandbox.client("codepipeline")
    assert "token" not in waiting(sandbox)["actionStates"][0]["latestExecution"]

    # When the first is approved with the token ListActionExecutions gives
    paginator = codepipeline.get_paginator("list_action_executions")
    details = [
        d
        for page in paginator.paginate(pipelineName="app", filter={"pipelineExecutionId": first})
        for d in page["actionExecutionDetails"]
    ]
    (approval,) = [d for d in details if d["actionName"] == "Approve"]
    approve(sandbox, approval["output"]["executionResult"]["externalExecutionId"])
    sandbox.pipelines.settle()

    # Then the first ran to its end and the second still waits
    statuses = {
        summary["pipelineExecutionId"]: summary["status"]
        for summary in codepipeline.list_pipeline_executions(pipelineName="app")["pipelineExecutionSummaries"]
    }
    assert statuses == {first: "Succeeded", second: "InProgress"}


def test_a_running_build_holds_the_execution_until_it_ends(sandbox: Sandbox) -> None:
    hold_builds("app-build")
    create(sandbox)
    execution_id = sandbox.pipelines.start("app")
    assert states(sandbox)[-1] == ("Action", "Build", "STARTED")

    details = sandbox.client("codepipeline").list_action_executions(pipelineName="app")["actionExecutionDetails"]
    set_build_status(details[0]["output"]["executionResult"]["externalExecutionId"], "FAILED")
    sandbox.pipelines.settle()

    assert states(sandbox, execution_id)[-3:] == [
        ("Action", "Build", "FAILED"),
        ("Stage", "Build", "FAILED"),
        ("Pipeline", "app", "FAILED"),
    ]


def test_each_email_subscriber_receives_what_its_filter_policy_accepts(sandbox: Sandbox) -> None:
    # Given two approvers subscribed with a filter on their own address, and one subscription without a filter
    sns, topic = sandbox.client("sns"), sandbox.stack.refs["MailTopic"]
    for address in ("alice@example.com", "bob@example.com"):
        sns.subscribe(
            TopicArn=topic,
            Protocol="email",
            Endpoint=address,
            Attributes={"FilterPolicy": json.dumps({"approver": [address]})},
        )
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="everyone@example.com")

    # When one message per approver is published
    for address in ("alice@example.com", "bob@example.com"):
        sandbox.publish(
            topic, f"Your link, {address}", subject="Approve app", attributes={"approver": address, "kind": "request"}
        )

    # Then each approver has their own message, and the unfiltered subscription has both
    (alice,) = sandbox.mailbox("alice@example.com")
    assert (alice.subject, alice.message, alice.attributes) == (
        "Approve app",
        "Your link, alice@example.com",
        {"approver": "alice@example.com", "kind": "request"},
    )
    assert [mail.message for mail in sandbox.mailbox("Bob@Example.com")] == ["Your link, bob@example.com"]
    assert len(sandbox.mailbox("everyone@example.com")) == 2
    assert sandbox.mailbox("nobody@example.com") == []


def test_a_served_sandbox_runs_on_after_an_answer_over_http(template: Path, tmp_path: Path) -> None:
    # Given a sandbox serving AWS over HTTP (as `up` does), with an execution waiting
    for sandbox in _open(template, tmp_path, server=True):
        create(sandbox)
        execution_id = sandbox.pipelines.start("app")

        # When the approval is answered through the HTTP endpoint
        approve(sandbox, waiting(sandbox)["actionStates"][0]["latestExecution"]["token"])
        sandbox.pipelines.settle()

        # Then the worker ran the rest of the pipeline
        status = sandbox.client("codepipeline").get_pipeline_execution(
            pipelineName="app", pipelineExecutionId=execution_id
        )
        assert status["pipelineExecution"]["status"] == "Succeeded"
        assert states(sandbox)[-1] == ("Pipeline", "app", "SUCCEEDED")


def test_the_approval_stage_shows_the_previous_execution_until_a_newer_one_arrives(sandbox: Sandbox) -> None:
    # Given an execution that waited at the approval, and a newer one still building
    create(sandbox)
    older = sandbox.pipelines.start("app")
    hold_builds("app-build")
    newer = sandbox.pipelines.start("app")

    # Then the approval stage still names the older execution: its token is not the newer's
    stage = waiting(sandbox)
    assert stage["latestExecution"] == {"pipelineExecutionId": older, "status": "InProgress"}
    details = sandbox.client("codepipeline").list_action_executions(
        pipelineName="app", filter={"pipelineExecutionId": newer}
    )["actionExecutionDetails"]
    assert [(d["actionName"], d["status"]) for d in details] == [("Build", "InProgress"), ("Source", "Succeeded")]
