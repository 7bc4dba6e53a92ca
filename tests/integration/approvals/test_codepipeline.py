"""The CodePipeline adapter against the sandbox's CodePipeline: a token only for the execution that waits."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from codereflex.approvals.model import APPROVED, REJECTED, ActionDetails, ActionRef, BuildSummary, Revision
from codereflex.aws.codecommit import CodeCommitCommits
from codereflex.aws.codepipeline import CodePipelineApprovals
from codereflex.errors import TargetGone
from sandbox.aws.moto_ext import codepipeline as cp
from sandbox.aws.moto_ext import install
from sandbox.git import gitstore
from sandbox.git.gitstore import GitStore
from tests.integration.sandbox.moto.conftest import GitRepo

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
APPROVAL = {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}
SOURCE = {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"}
BUILD = {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def git_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitStore:
    monkeypatch.setattr(gitstore, "_current", gitstore.current())
    return gitstore.configure(GitStore(root=tmp_path / "git", base_url="http://127.0.0.1:9", region="us-east-1"))


@pytest.fixture
def clock(git_store: GitStore) -> Iterator[Clock]:
    install()
    with mock_aws():
        clock = Clock()
        cp.set_clock(clock)
        yield clock


@pytest.fixture
def client(clock: Clock) -> Any:
    return boto3.client("codepipeline", region_name="us-east-1")


def create_pipeline(client: Any, mode: str | None = None, **approval: Any) -> None:
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}}]}
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName=f"pipeline-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument=json.dumps(trust))
    pipeline: dict[str, Any] = {
        "name": "app",
        "roleArn": role["Role"]["Arn"],
        "artifactStore": {"type": "S3", "location": "artifacts"},
        "stages": [
            {
                "name": "Source",
                "actions": [
                    {
                        "name": "Code",
                        "actionTypeId": {
                            "category": "Source",
                            "owner": "AWS",
                            "provider": "CodeCommit",
                            "version": "1",
                        },
                        "configuration": {"RepositoryName": "payments", "BranchName": "main"},
                        "outputArtifacts": [{"name": "SourceOutput"}],
                    }
                ],
            },
            {
                "name": "Test",
                "actions": [
                    {
                        "name": "Unit",
                        "actionTypeId": BUILD,
                        "configuration": {"ProjectName": "payments-ci"},
                        "inputArtifacts": [{"name": "SourceOutput"}],
                    }
                ],
            },
            {"name": "Prod", "actions": [{"name": "Approve", "actionTypeId": APPROVAL, **approval}]},
        ],
    }
    if mode is not None:
        pipeline |= {"executionMode": mode, "pipelineType": "V2"}
    client.create_pipeline(pipeline=pipeline, tags=[{"key": "codereflex:quorum", "value": "2"}])


def start(client: Any, *, wait: bool = True) -> str:
    """Start an execution and (as the sandbox's runner does) bring it to the approval, which waits."""
    execution_id = str(client.start_pipeline_execution(name="app")["pipelineExecutionId"])
    backend = cp.backend_for()
    execution = backend.sandbox_execution("app", execution_id)
    backend.sandbox_set_stage(execution, "Prod", "InProgress")
    if wait:
        declaration = backend.pipelines["app"].pipeline["stages"][2]["actions"][0]
        backend.sandbox_begin_action(execution, "Prod", declaration)
    return execution_id


def ref(execution_id: str) -> ActionRef:
    return ActionRef("app", "Prod", "Approve", execution_id)


def test_the_token_is_given_only_while_the_action_waits_on_that_execution(client: Any) -> None:
    create_pipeline(client)
    approvals = CodePipelineApprovals(client)
    first = start(client)
    token = approvals.waiting_token(ref(first))
    assert token is not None
    assert approvals.waiting_token(ref("0" * 8 + "-0000-0000-0000-" + "0" * 12)) is None
    # A newer execution enters the stage before its approval starts: the token shown is still the
    # first execution's, and it belongs to neither.
    second = start(client, wait=False)
    assert client.get_pipeline_state(name="app")["stageStates"][2]["actionStates"][0]["latestExecution"]["token"]
    assert approvals.waiting_token(ref(second)) is None
    assert approvals.waiting_token(ref(first)) is None
    # Once the newer execution's approval waits, the token is its own.
    backend = cp.backend_for()
    declaration = backend.pipelines["app"].pipeline["stages"][2]["actions"][0]
    backend.sandbox_begin_action(backend.sandbox_execution("app", second), "Prod", declaration)
    newer = approvals.waiting_token(ref(second))
    assert newer is not None and newer != token


def test_a_decided_or_expired_approval_gives_no_token_and_deciding_again_is_already_done(
    client: Any, clock: Clock
) -> None:
    create_pipeline(client, timeoutInMinutes=60)
    approvals = CodePipelineApprovals(client)
    decided, expiring = start(client), None
    token = approvals.waiting_token(ref(decided))
    assert token is not None
    assert approvals.put_result(ref(decided), token, APPROVED, "Approved by a@x via codereflex") == "decided"
    assert approvals.waiting_token(ref(decided)) is None
    # ApprovalAlreadyCompletedException
    assert approvals.put_result(ref(decided), token, REJECTED, "late") == "already-done"
    expiring = start(client)
    token = approvals.waiting_token(ref(expiring))
    assert token is not None
    clock.now = START + timedelta(minutes=61)
    assert approvals.waiting_token(ref(expiring)) is None
    # InvalidApprovalTokenException
    assert approvals.put_result(ref(expiring), token, APPROVED, "too late") == "already-done"
    assert approvals.put_result(ref(expiring), str(uuid.uuid4()), APPROVED, "forged") == "already-done"


def test_parallel_executions_each_have_their_own_token_through_list_action_executions(client: Any) -> None:
    create_pipeline(client, mode="PARALLEL")
    approvals = CodePipelineApprovals(client)
    first, second = start(client), start(client)
    tokens = [approvals.waiting_token(ref(first)), approvals.waiting_token(ref(second))]
    assert None not in tokens and tokens[0] != tokens[1]
    state = client.get_pipeline_state(name="app")["stageStates"][2]["actionStates"][0]["latestExecution"]
    assert "token" not in state  # PARALLEL mode shows none there
    assert [approvals.execution_for_token("app", "Prod", "Approve", str(t)) for t in tokens] == [first, second]
    assert approvals.put_result(ref(first), str(tokens[0]), APPROVED, "ok") == "decided"
    assert approvals.waiting_token(ref(first)) is None
    assert approvals.waiting_token(ref(second)) == tokens[1]
    assert approvals.execution_for_token("app", "Prod", "Approve", str(tokens[0])) is None


def test_the_sns_path_finds_the_execution_of_a_waiting_token(client: Any) -> None:
    create_pipeline(client)
    approvals = CodePipelineApprovals(client)
    execution_id = start(client)
    token = approvals.waiting_token(ref(execution_id))
    assert token is not None
    assert approvals.execution_for_token("app", "Prod", "Approve", token) == execution_id
    assert approvals.execution_for_token("app", "Prod", "Approve", str(uuid.uuid4())) is None
    assert approvals.execution_for_token("app", "Prod", "Nope", token) is None


def test_action_details_default_to_seven_days_and_read_the_configuration(client: Any, clock: Clock) -> None:
    create_pipeline(client)
    approvals = CodePipelineApprovals(client)
    details = approvals.action_details(ref(start(client)))
    assert details == ActionDetails(timeout_minutes=10080, started_at=START)
    assert details.expires_at(START + timedelta(hours=1)) == START + timedelta(days=7)

    client.delete_pipeline(name="app")
    configuration = {
        "CustomData": "Release 4.2",
        "ExternalEntityLink": "https://tickets.example.com/CHG-42",
        "NotificationArn": "arn:aws:sns:us-east-1:123456789012:approvals",
    }
    create_pipeline(client, timeoutInMinutes=90, configuration=configuration)
    clock.now = START + timedelta(minutes=5)
    details = approvals.action_details(ref(start(client)))
    assert details == ActionDetails(
        90,
        START + timedelta(minutes=5),
        "Release 4.2",
        configuration["ExternalEntityLink"],
        configuration["NotificationArn"],
    )


def test_execution_details_name_revisions_with_their_authors_and_build_results(
    client: Any, git_store: GitStore
) -> None:
    boto3.client("codecommit", region_name="us-east-1").create_repository(repositoryName="payments")
    commit = GitRepo(git_store.path_for("payments")).commit("main", {"app.py": "print(1)\n"}, "Fix rounding")
    create_pipeline(client)
    execution_id = start(client, wait=False)
    backend = cp.backend_for()
    execution = backend.sandbox_execution("app", execution_id)
    execution.artifact_revisions.append(
        {"name": "SourceOutput", "revisionId": commit, "revisionSummary": "Fix rounding", "revisionUrl": "https://c"}
    )
    build = backend.sandbox_begin_action(
        execution, "Test", backend.pipelines["app"].pipeline["stages"][1]["actions"][0]
    )
    build.external_summary, build.external_url = "412 tests passed", "https://builds/1"
    build.end("Succeeded", START)
    commits = CodeCommitCommits(boto3.client("codecommit", region_name="us-east-1"))
    revisions, builds = CodePipelineApprovals(client, commits).execution_details(ref(execution_id))
    assert revisions == (
        Revision("SourceOutput", commit, "Fix rounding", "https://c", "dev@example.com", "Dev Eloper"),
    )
    assert builds == (BuildSummary("Unit", "Succeeded", "412 tests passed", "https://builds/1"),)


def test_tags_are_read_from_the_pipeline_and_a_missing_pipeline_is_gone(client: Any) -> None:
    create_pipeline(client)
    approvals = CodePipelineApprovals(client)
    assert approvals.tags("app") == {"codereflex:quorum": "2"}
    with pytest.raises(TargetGone):
        approvals.tags("nope")
    with pytest.raises(TargetGone):
        approvals.waiting_token(ActionRef("nope", "Prod", "Approve", "e"))


def test_who_decided_and_how_an_action_finished_are_what_codepipeline_recorded(client: Any, clock: Clock) -> None:
    create_pipeline(client, timeoutInMinutes=60)
    # A session of a role decides (as a Lambda function's credentials are), the adapter reads it back
    iam, sts = boto3.client("iam", region_name="us-east-1"), boto3.client("sts", region_name="us-east-1")
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]}
    role = iam.create_role(RoleName="page-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    keys = sts.assume_role(RoleArn=role, RoleSessionName="page")["Credentials"]
    as_role = boto3.client(
        "codepipeline",
        region_name="us-east-1",
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )
    approvals, theirs = CodePipelineApprovals(client), CodePipelineApprovals(as_role)
    decided = start(client)
    assert approvals.updated_by(ref(decided)) is None  # waiting: nobody decided yet
    token = approvals.waiting_token(ref(decided))
    assert token is not None
    assert theirs.put_result(ref(decided), token, REJECTED, "no") == "decided"
    session = "arn:aws:sts::123456789012:assumed-role/page-role/page"
    assert approvals.updated_by(ref(decided)) == session
    assert approvals.final_state(ref(decided)) == ("FAILED", session)
    # An approval that timed out failed, updated by nobody
    expired = start(client)
    clock.now = START + timedelta(minutes=61)
    assert approvals.final_state(ref(expired)) == ("FAILED", None)
    # A superseded or stopped execution says so, whatever its action shows
    backend = cp.backend_for()
    for status, state in (("Superseded", "ABANDONED"), ("Stopped", "CANCELED")):
        execution_id = start(client)
        backend.sandbox_finish(backend.sandbox_execution("app", execution_id), status)
        assert approvals.final_state(ref(execution_id)) == (state, None)
