"""A sandbox whose pipeline (CodeCommit source → CodeBuild → manual approval) runs to its approval and waits there.

The pipeline runs in the sandbox's CodePipeline (`sandbox.pipelines`), which emits AWS's events
through the router and publishes CodePipeline's approval message to the approval's NotificationArn;
each approver has an email subscription on the mail topic filtered on their own address, so
`mailbox(approver)` is what that person would receive.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pygit2
import pytest

from codereflex.approvals.model import ActionRef, Request
from codereflex.approvals.subscriptions import filter_policy
from codereflex.aws.approvals import ApprovalStore
from sandbox.aws.moto_ext import Mail
from sandbox.aws.pipelines import approval_pipeline
from sandbox.demo.demo_kit import commit
from sandbox.lambdas.router import Invocation
from sandbox.local import Sandbox

FUNCTION = "ApprovalRequestsFunction"
PIPELINE, REPOSITORY, PROJECT = "payments-service-release", "payments-service", "payments-service-ci"
STAGE, ACTION = "Approval", "Approve"
ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
START = datetime.now(UTC).replace(microsecond=0)


class Clock:
    """One clock for CodePipeline and the function: tests move time by moving `now`."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    sandbox: Sandbox
    clock: Clock
    store: ApprovalStore
    app: ModuleType  # the function's app module, as the router runs it
    pipelines: set[str] = field(default_factory=set)

    @property
    def refs(self) -> dict[str, str]:
        return self.sandbox.stack.refs

    def pipeline(
        self,
        name: str = PIPELINE,
        *,
        notify: bool = True,
        mode: str | None = None,
        timeout_minutes: int = 120,
        tags: dict[str, str] | None = None,
    ) -> str:
        configuration = {"CustomData": "Release the payments service to production"}
        if notify:
            configuration["NotificationArn"] = self.refs["ApprovalNotificationTopic"]
        approval = {"name": ACTION, "configuration": configuration, "timeoutInMinutes": timeout_minutes}
        declaration = approval_pipeline(name, repository=REPOSITORY, project=PROJECT, approval=approval, mode=mode)
        self.sandbox.pipelines.create(declaration, tags=tags)
        self.pipelines.add(name)
        return name

    def start(self, pipeline: str = PIPELINE) -> ActionRef:
        """A new execution, run to its approval with every event and message delivered as AWS would."""
        return ActionRef(pipeline, STAGE, ACTION, self.sandbox.pipelines.start(pipeline))

    def start_quietly(self, pipeline: str = PIPELINE) -> tuple[ActionRef, dict[str, Any]]:
        """A new execution waiting at its approval that no function has heard of; and its STARTED event."""
        before = len(self.sandbox.pipelines.events)
        with self.sandbox.undelivered():
            ref = self.start(pipeline)
        (started,) = [
            event
            for event in self.sandbox.pipelines.events[before:]
            if event["detail"].get("action") == ACTION and event["detail"]["state"] == "STARTED"
        ]
        return ref, started

    def token(self, ref: ActionRef) -> str:
        """The approval's token as CodePipeline holds it (what only CodePipeline's own message carries)."""
        details = self.sandbox.client("codepipeline").list_action_executions(
            pipelineName=ref.pipeline, filter={"pipelineExecutionId": ref.execution_id}
        )["actionExecutionDetails"]
        (approval,) = [d for d in details if d["actionName"] == ref.action]
        return str(approval["output"]["executionResult"]["externalExecutionId"])

    def notification(self, ref: ActionRef) -> str:
        """CodePipeline's approval message for `ref`, in the documented format (no execution id)."""
        console = f"https://console.aws.amazon.com/codepipeline/home?region=us-east-1#/view/{ref.pipeline}"
        token = self.token(ref)
        approval = {
            "pipelineName": ref.pipeline,
            "stageName": ref.stage,
            "actionName": ref.action,
            "token": token,
            "expires": "2026-12-08T09:15Z",
            "externalEntityLink": None,
            "approvalReviewLink": f"{console}/{ref.stage}/{ref.action}/approve/{token}",
            "customData": "Release the payments service to production",
        }
        return json.dumps({"region": "us-east-1", "consoleLink": console, "approval": approval})

    def publish(self, message: str) -> list[Invocation]:
        """CodePipeline publishing to the approval topic: SNS invokes the function with it."""
        invocations = self.sandbox.publish(self.refs["ApprovalNotificationTopic"], message, subject="APPROVAL NEEDED")
        return [checked(i) for i in invocations if i.logical_id == FUNCTION]

    def deliver(self, event: dict[str, Any]) -> list[Invocation]:
        return [checked(i) for i in self.sandbox.deliver(event) if i.logical_id == FUNCTION]

    def sweep(self) -> dict[str, Any]:
        invocation = self.sandbox.router.invoke_scheduled(FUNCTION, env_overrides=self.sandbox.function_env())
        return dict(checked(invocation).result)

    def mail(self, approver: str, kind: str | None = None) -> list[Mail]:
        return [m for m in self.sandbox.mailbox(approver) if kind is None or m.attributes.get("kind") == kind]

    def all_mail(self) -> list[Mail]:
        return [m for who in (ALICE, BOB, CAROL) for m in self.sandbox.mailbox(who)]

    def request(self, ref: ActionRef) -> Request:
        request = self.store.get(ref)
        assert request is not None
        return request

    def later(self, minutes: float) -> None:
        self.clock.now += timedelta(minutes=minutes)
        self.sandbox.pipelines.settle()

    def decide(self, ref: ActionRef, status: str = "Approved", summary: str = "by someone in the console") -> None:
        """The developer decides in the console: PutApprovalResult with their own keys."""
        self.sandbox.developer_client("codepipeline").put_approval_result(
            pipelineName=ref.pipeline,
            stageName=ref.stage,
            actionName=ref.action,
            result={"status": status, "summary": summary},
            token=self.token(ref),
        )
        self.sandbox.pipelines.settle()


def checked(invocation: Invocation) -> Invocation:
    if invocation.error is not None:
        raise invocation.error
    return invocation


def _repository(sandbox: Sandbox, path: Path) -> None:
    repo = pygit2.init_repository(str(path), bare=True, initial_head="main")
    tip = commit(repo, "Partial refunds", {"README.md": "# payments\n"}, [])
    repo.create_reference_direct("refs/heads/main", tip, True)
    sandbox.import_repository(REPOSITORY, path, in_place=True)
    sandbox.client("codebuild").create_project(
        name=PROJECT,
        source={"type": "CODECOMMIT", "location": sandbox.store.clone_url(REPOSITORY)},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "ARM_CONTAINER", "image": "aws/codebuild/standard", "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole="arn:aws:iam::123456789012:role/codebuild-service",
    )


def subscribe(sandbox: Sandbox, *approvers: str) -> None:
    """Each approver's email subscription, filtered on their own address (what `codereflex approvers sync` makes)."""
    sns = sandbox.client("sns")
    for approver in approvers:
        sns.subscribe(
            TopicArn=sandbox.stack.refs["ApprovalMailTopic"],
            Protocol="email",
            Endpoint=approver,
            Attributes={"FilterPolicy": filter_policy(approver)},
        )


def open_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parameters: dict[str, str]) -> Iterator[World]:
    with Sandbox(function_env={"POWERTOOLS_METRICS_DISABLED": "true"}, parameters=parameters) as sandbox:
        _repository(sandbox, tmp_path / "payments.git")
        subscribe(sandbox, ALICE, BOB, CAROL)
        clock = Clock()
        sandbox.pipelines.clock = clock
        # The router imports the handler from its CodeUri; imported here first, its clock is the test's.
        app = importlib.import_module("approval_requests.app")
        monkeypatch.setattr(app, "clock", clock)
        store = ApprovalStore(sandbox.client("dynamodb"), sandbox.stack.refs["ApprovalsTable"])
        yield World(sandbox, clock, store, app)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from open_world(
        tmp_path, monkeypatch, {"ApprovalApprovers": f"{ALICE},{BOB}", "ApprovalReminderMinutes": "30"}
    )
