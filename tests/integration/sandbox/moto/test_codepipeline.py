"""CodePipeline: executions that wait at a manual approval, its token, expiry, PARALLEL mode, and AWS's errors."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from sandbox.aws.moto_ext import codepipeline as cp

if TYPE_CHECKING:
    from mypy_boto3_codepipeline import CodePipelineClient

    from .conftest import Aws

ACCOUNT = "123456789012"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(aws: Aws) -> Clock:
    clock = Clock()
    cp.set_clock(clock)
    return clock


@pytest.fixture
def codepipeline(aws: Aws, clock: Clock) -> CodePipelineClient:
    return aws.codepipeline()


def _role(aws: Aws) -> str:
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}}]}
    return str(aws.iam().create_role(RoleName="pipeline", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])


def _approval(name: str = "Approve", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
        **extra,
    }


def create_pipeline(aws: Aws, codepipeline: CodePipelineClient, *, mode: str | None = None, **approval: Any) -> None:
    pipeline: dict[str, Any] = {
        "name": "app",
        "roleArn": _role(aws),
        "artifactStore": {"type": "S3", "location": "artifacts"},
        "stages": [
            {"name": "Review", "actions": [_approval(**approval)]},
            {"name": "Release", "actions": [_approval("Again")]},
        ],
    }
    if mode is not None:
        pipeline["executionMode"] = mode
    codepipeline.create_pipeline(pipeline=pipeline)  # type: ignore[arg-type]


def wait_at_approval(execution_id: str) -> cp.ActionRun:
    """What the runner does when an execution reaches the Review stage: the approval starts waiting."""
    backend = cp.backend_for()
    execution = backend.sandbox_execution("app", execution_id)
    declaration = backend.pipelines["app"].pipeline["stages"][0]["actions"][0]
    backend.sandbox_set_stage(execution, "Review", "InProgress")
    return backend.sandbox_begin_action(execution, "Review", declaration)


def start(codepipeline: CodePipelineClient) -> str:
    execution_id = codepipeline.start_pipeline_execution(name="app")["pipelineExecutionId"]
    wait_at_approval(execution_id)
    return execution_id


def review_state(codepipeline: CodePipelineClient) -> dict[str, Any]:
    stage = codepipeline.get_pipeline_state(name="app")["stageStates"][0]
    return dict(stage)


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_a_waiting_approval_shows_its_token_for_its_execution(aws: Aws, codepipeline: CodePipelineClient) -> None:
    # Given an execution waiting at a manual approval
    create_pipeline(aws, codepipeline)
    execution_id = start(codepipeline)

    # When its state is read
    stage = review_state(codepipeline)
    latest = stage["actionStates"][0]["latestExecution"]

    # Then the stage names this execution and the action waits with a lowercase-hex UUID token
    assert stage["latestExecution"] == {"pipelineExecutionId": execution_id, "status": "InProgress"}
    assert latest["status"] == "InProgress"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", latest["token"])
    assert "latestExecution" not in codepipeline.get_pipeline_state(name="app")["stageStates"][1]
    execution = codepipeline.get_pipeline_execution(pipelineName="app", pipelineExecutionId=execution_id)
    assert execution["pipelineExecution"]["status"] == "InProgress"
    assert execution["pipelineExecution"]["executionMode"] == "SUPERSEDED"


def test_approving_records_who_and_a_second_answer_is_already_completed(
    aws: Aws, codepipeline: CodePipelineClient, clock: Clock
) -> None:
    # Given a waiting approval and its token
    create_pipeline(aws, codepipeline)
    start(codepipeline)
    token = review_state(codepipeline)["actionStates"][0]["latestExecution"]["token"]
    clock.now += timedelta(minutes=3)

    # When it is approved
    approved = codepipeline.put_approval_result(
        pipelineName="app",
        stageName="Review",
        actionName="Approve",
        result={"status": "Approved", "summary": "Approved by alice@example.com via codereflex: ok"},
        token=token,
    )

    # Then the action succeeded with the summary and caller, at the backend's time
    assert approved["approvedAt"] == clock.now
    latest = review_state(codepipeline)["actionStates"][0]["latestExecution"]
    assert latest["status"] == "Succeeded"
    assert latest["summary"] == "Approved by alice@example.com via codereflex: ok"
    assert f":{ACCOUNT}:" in latest["lastUpdatedBy"]  # the caller, as STS names it
    # And answering again, either way, is refused as already completed
    for status in ("Approved", "Rejected"):
        with pytest.raises(ClientError) as refused:
            codepipeline.put_approval_result(
                pipelineName="app",
                stageName="Review",
                actionName="Approve",
                result={"status": status, "summary": "again"},
                token=token,
            )
        assert error_code(refused) == "ApprovalAlreadyCompletedException"


def test_rejecting_fails_the_action(aws: Aws, codepipeline: CodePipelineClient) -> None:
    create_pipeline(aws, codepipeline)
    start(codepipeline)
    token = review_state(codepipeline)["actionStates"][0]["latestExecution"]["token"]

    codepipeline.put_approval_result(
        pipelineName="app",
        stageName="Review",
        actionName="Approve",
        result={"status": "Rejected", "summary": "no"},
        token=token,
    )

    assert review_state(codepipeline)["actionStates"][0]["latestExecution"]["status"] == "Failed"


@pytest.mark.parametrize(
    ("result", "token", "code"),
    [
        ({"status": "approved", "summary": "case matters"}, None, "ValidationException"),
        ({"status": "Approved", "summary": "x" * 513}, None, "ValidationException"),
        ({"status": "Approved", "summary": "ok"}, "1a2b3c4d-573f-4ea7-a67E-XAMPLETOKEN", "ValidationException"),
        (
            {"status": "Approved", "summary": "ok"},
            "00000000-0000-4000-8000-000000000000",
            "InvalidApprovalTokenException",
        ),
    ],
    ids=["status-case", "summary-513", "token-pattern", "wrong-token"],
)
def test_put_approval_result_refuses_what_aws_refuses(
    aws: Aws, codepipeline: CodePipelineClient, result: dict[str, str], token: str | None, code: str
) -> None:
    create_pipeline(aws, codepipeline)
    start(codepipeline)
    waiting = review_state(codepipeline)["actionStates"][0]["latestExecution"]["token"]

    with pytest.raises(ClientError) as refused:
        codepipeline.put_approval_result(
            pipelineName="app",
            stageName="Review",
            actionName="Approve",
            result=result,  # type: ignore[arg-type]
            token=token or waiting,
        )

    assert error_code(refused) == code
    # Nothing was decided
    assert review_state(codepipeline)["actionStates"][0]["latestExecution"]["status"] == "InProgress"


def test_a_summary_of_512_characters_is_accepted(aws: Aws, codepipeline: CodePipelineClient) -> None:
    create_pipeline(aws, codepipeline)
    start(codepipeline)
    token = review_state(codepipeline)["actionStates"][0]["latestExecution"]["token"]

    codepipeline.put_approval_result(
        pipelineName="app",
        stageName="Review",
        actionName="Approve",
        result={"status": "Approved", "summary": "x" * 512},
        token=token,
    )

    assert review_state(codepipeline)["actionStates"][0]["latestExecution"]["status"] == "Succeeded"


@pytest.mark.parametrize(
    ("names", "code"),
    [
        ({"pipelineName": "other", "stageName": "Review", "actionName": "Approve"}, "PipelineNotFoundException"),
        ({"pipelineName": "app", "stageName": "Nope", "actionName": "Approve"}, "StageNotFoundException"),
        ({"pipelineName": "app", "stageName": "Review", "actionName": "Nope"}, "ActionNotFoundException"),
        # The token of Review/Approve does not answer Release/Again.
        ({"pipelineName": "app", "stageName": "Release", "actionName": "Again"}, "InvalidApprovalTokenException"),
    ],
)
def test_put_approval_result_names_what_does_not_exist(
    aws: Aws, codepipeline: CodePipelineClient, names: dict[str, str], code: str
) -> None:
    create_pipeline(aws, codepipeline)
    start(codepipeline)
    token = review_state(codepipeline)["actionStates"][0]["latestExecution"]["token"]

    with pytest.raises(ClientError) as refused:
        codepipeline.put_approval_result(**names, result={"status": "Approved", "summary": "ok"}, token=token)

    assert error_code(refused) == code


def test_an_approval_expires_after_its_timeout(aws: Aws, codepipeline: CodePipelineClient, clock: Clock) -> None:
    # Given an approval with a 60-minute timeout
    create_pipeline(aws, codepipeline, timeoutInMinutes=60)
    start(codepipeline)
    token = review_state(codepipeline)["actionStates"][0]["latestExecution"]["token"]

    # When 59 minutes pass it still waits
    clock.now += timedelta(minutes=59)
    assert review_state(codepipeline)["actionStates"][0]["latestExecution"]["status"] == "InProgress"

    # When the hour is up it has failed, and its token no longer answers it
    clock.now += timedelta(minutes=1)
    assert review_state(codepipeline)["actionStates"][0]["latestExecution"]["status"] == "Failed"
    with pytest.raises(ClientError) as refused:
        codepipeline.put_approval_result(
            pipelineName="app",
            stageName="Review",
            actionName="Approve",
            result={"status": "Approved", "summary": "late"},
            token=token,
        )
    assert error_code(refused) == "InvalidApprovalTokenException"


def test_the_default_timeout_is_seven_days(aws: Aws, codepipeline: CodePipelineClient, clock: Clock) -> None:
    create_pipeline(aws, codepipeline)
    start(codepipeline)

    clock.now += timedelta(days=7) - timedelta(seconds=1)
    assert review_state(codepipeline)["actionStates"][0]["latestExecution"]["status"] == "InProgress"
    clock.now += timedelta(seconds=1)
    assert review_state(codepipeline)["actionStates"][0]["latestExecution"]["status"] == "Failed"


def test_parallel_mode_hides_the_token_and_lists_it_as_external_execution_id(
    aws: Aws, codepipeline: CodePipelineClient
) -> None:
    # Given a PARALLEL pipeline with two executions waiting at the same approval
    create_pipeline(aws, codepipeline, mode="PARALLEL")
    first, second = start(codepipeline), start(codepipeline)

    # Then GetPipelineState carries no token
    assert "token" not in review_state(codepipeline)["actionStates"][0]["latestExecution"]

    # And each execution's approval lists its own token as externalExecutionId
    tokens = {}
    for execution_id in (first, second):
        details = codepipeline.list_action_executions(pipelineName="app", filter={"pipelineExecutionId": execution_id})
        (detail,) = details["actionExecutionDetails"]
        assert detail["pipelineExecutionId"] == execution_id
        assert detail["input"]["actionTypeId"] == {
            "category": "Approval",
            "owner": "AWS",
            "provider": "Manual",
            "version": "1",
        }
        tokens[execution_id] = detail["output"]["executionResult"]["externalExecutionId"]
    assert len(set(tokens.values())) == 2

    # When the first is approved with that token, only the first has moved on
    codepipeline.put_approval_result(
        pipelineName="app",
        stageName="Review",
        actionName="Approve",
        result={"status": "Approved", "summary": "ok"},
        token=tokens[first],
    )
    statuses = {
        detail["pipelineExecutionId"]: detail["status"]
        for detail in codepipeline.list_action_executions(pipelineName="app")["actionExecutionDetails"]
    }
    assert statuses == {first: "Succeeded", second: "InProgress"}


def test_list_action_executions_pages_for_the_paginator(aws: Aws, codepipeline: CodePipelineClient) -> None:
    # Given five executions waiting in PARALLEL mode
    create_pipeline(aws, codepipeline, mode="PARALLEL")
    started = [start(codepipeline) for _ in range(5)]

    # When listed two at a time with boto3's paginator
    pages = list(
        codepipeline.get_paginator("list_action_executions").paginate(
            pipelineName="app", PaginationConfig={"PageSize": 2}
        )
    )

    # Then three pages hold all five, newest first
    assert [len(page["actionExecutionDetails"]) for page in pages] == [2, 2, 1]
    listed = [detail["pipelineExecutionId"] for page in pages for detail in page["actionExecutionDetails"]]
    assert listed == list(reversed(started))
    with pytest.raises(ClientError) as refused:
        codepipeline.list_action_executions(pipelineName="app", nextToken="garbage")
    assert error_code(refused) == "InvalidNextTokenException"


def test_list_action_executions_refuses_an_unknown_execution(aws: Aws, codepipeline: CodePipelineClient) -> None:
    create_pipeline(aws, codepipeline)
    start(codepipeline)

    with pytest.raises(ClientError) as refused:
        codepipeline.list_action_executions(
            pipelineName="app", filter={"pipelineExecutionId": "00000000-0000-4000-8000-000000000000"}
        )

    assert error_code(refused) == "PipelineExecutionNotFoundException"


def test_list_pipeline_executions_pages_newest_first(aws: Aws, codepipeline: CodePipelineClient) -> None:
    create_pipeline(aws, codepipeline, mode="PARALLEL")
    started = [codepipeline.start_pipeline_execution(name="app")["pipelineExecutionId"] for _ in range(3)]

    pages = list(
        codepipeline.get_paginator("list_pipeline_executions").paginate(
            pipelineName="app", PaginationConfig={"PageSize": 2}
        )
    )

    listed = [summary["pipelineExecutionId"] for page in pages for summary in page["pipelineExecutionSummaries"]]
    assert listed == list(reversed(started))
    assert {summary["status"] for page in pages for summary in page["pipelineExecutionSummaries"]} == {"InProgress"}
    assert pages[0]["pipelineExecutionSummaries"][0]["trigger"]["triggerType"] == "StartPipelineExecution"


def test_a_client_request_token_starts_one_execution(aws: Aws, codepipeline: CodePipelineClient) -> None:
    create_pipeline(aws, codepipeline)

    first = codepipeline.start_pipeline_execution(name="app", clientRequestToken="retry-1")
    second = codepipeline.start_pipeline_execution(name="app", clientRequestToken="retry-1")

    assert first["pipelineExecutionId"] == second["pipelineExecutionId"]
    assert len(codepipeline.list_pipeline_executions(pipelineName="app")["pipelineExecutionSummaries"]) == 1


def test_tags_are_listed_for_the_pipeline_arn(aws: Aws, codepipeline: CodePipelineClient) -> None:
    create_pipeline(aws, codepipeline)
    arn = f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:app"

    codepipeline.tag_resource(resourceArn=arn, tags=[{"key": "codereflex:quorum", "value": "2"}])

    assert codepipeline.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "codereflex:quorum", "value": "2"}]


def test_concurrent_answers_decide_once(aws: Aws, codepipeline: CodePipelineClient) -> None:
    # Given a waiting approval
    create_pipeline(aws, codepipeline)
    start(codepipeline)
    token = review_state(codepipeline)["actionStates"][0]["latestExecution"]["token"]

    # When eight callers answer it at once
    def answer(index: int) -> str:
        client = aws.codepipeline()
        try:
            client.put_approval_result(
                pipelineName="app",
                stageName="Review",
                actionName="Approve",
                result={"status": "Approved", "summary": f"caller {index}"},
                token=token,
            )
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return "decided"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(answer, range(8)))

    # Then exactly one decided, and the others were told it is already completed
    assert sorted(outcomes) == ["ApprovalAlreadyCompletedException"] * 7 + ["decided"]
