"""A sandbox with a pipeline waiting at a manual approval, its request opened, and links signed with the stack's key.

Until the sandbox's pipeline runner opens requests through ApprovalRequestsFunction, the request is
opened here with the store the functions use and the links are signed with the stack's own
secret, as the requests function signs them; everything after that is the page function's, served
over real HTTP on 127.0.0.1 by the sandbox's function URL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pygit2
import pytest
from moto.codepipeline.models import CodePipelineBackend
from moto.codepipeline.responses import CodePipelineResponse

from codereflex.approvals.links import Link, LinkSigner, link_url
from codereflex.approvals.model import ActionRef, BuildSummary, Request, Revision
from codereflex.aws.approvals import ApprovalStore
from codereflex.aws.secrets import keyring_from_secret
from sandbox.aws.moto_ext import codepipeline as cp
from sandbox.aws.pipelines import approval_pipeline
from sandbox.demo.demo_kit import commit
from sandbox.local import Sandbox

from .web import links_in

PIPELINE, STAGE, ACTION = "payments", "Prod", "Approve"
APPLICATION, GROUP, HOOK = "payments-api", "payments-prod", "BeforeAllowTraffic"
CHECKS = (
    BuildSummary("error-rate", "inconclusive", "only 3 of 10 datapoints in the window", ""),
    BuildSummary("p99-latency", "succeeded", "212 ms under 300 ms", ""),
)
ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
_APPROVAL = {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}


@dataclass
class World:
    sandbox: Sandbox
    store: ApprovalStore
    links: LinkSigner
    page_url: str

    def pipeline(self, name: str = PIPELINE, *, mode: str | None = None) -> None:
        """A pipeline whose first stage is the approval (the runner waits there as soon as it starts)."""
        declaration: dict[str, Any] = {
            "name": name,
            "artifactStore": {"type": "S3", "location": "artifacts"},
            "stages": [
                {
                    "name": STAGE,
                    "actions": [
                        {
                            "name": ACTION,
                            "actionTypeId": _APPROVAL,
                            "configuration": {"CustomData": "Check the refund dashboards first"},
                        }
                    ],
                },
                {"name": "Release", "actions": [{"name": "Done", "actionTypeId": _APPROVAL}]},
            ],
        }
        if mode is not None:
            declaration.update(executionMode=mode, pipelineType="V2")
        self.sandbox.pipelines.create(declaration)

    def waiting(self, pipeline: str = PIPELINE) -> ActionRef:
        """A new execution of `pipeline`, run by the sandbox to its approval, where it waits."""
        return ActionRef(pipeline, STAGE, ACTION, self.sandbox.pipelines.start(pipeline))

    def open(self, ref: ActionRef, **changes: Any) -> Request:
        now = datetime.now(UTC)
        request = Request(
            ref=ref,
            approvers=(ALICE, BOB, CAROL),
            quorum=1,
            separate_duties=False,
            expires_at=now + timedelta(days=7),
            link_expires_at=now + timedelta(days=7),
            custom_data="Check the refund dashboards first",
            external_link=None,
            revisions=(
                Revision(
                    "SourceArtifact",
                    "4f1c2a9b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b",
                    "Partial refunds",
                    "https://us-east-1.console.aws.amazon.com/codesuite/codecommit/repositories/payments/commit/4f1c2a9b",
                    CAROL,
                    "Carol",
                ),
            ),
            builds=(BuildSummary("UnitTests", "Succeeded", "212 tests passed", ""),),
            created_at=now,
        )._replace(**changes)
        opened, _ = self.store.open(request)
        return opened

    def deployment(self, **changes: Any) -> Request:
        """A deployment hook's request, stored as the hook opens it: a new deployment id each call, no
        CodePipeline behind it, one summary per check, waiting until the hook stops (in 50 minutes)."""
        ref = ActionRef.deployment_hook(APPLICATION, GROUP, HOOK, f"d-{uuid.uuid4().hex[:9].upper()}")
        until = datetime.now(UTC) + timedelta(minutes=50)
        return self.open(
            ref,
            **{
                "expires_at": until,
                "link_expires_at": until,
                "custom_data": "error-rate inconclusive: only 3 of 10 datapoints in the window",
                "revisions": (),
                "builds": CHECKS,
                **changes,
            },
        )

    def link(self, ref: ActionRef, approver: str = ALICE, expires_at: datetime | None = None) -> str:
        token = self.links.issue(Link(ref, approver, expires_at or datetime.now(UTC) + timedelta(days=7)))
        return link_url(self.page_url, token)

    def state(self, ref: ActionRef) -> dict[str, Any]:
        """The approval action's latest execution, as GetPipelineState shows it."""
        state = self.sandbox.client("codepipeline").get_pipeline_state(name=ref.pipeline)
        stage = next(s for s in state["stageStates"] if s["stageName"] == ref.stage)
        return dict(next(a for a in stage["actionStates"] if a["actionName"] == ref.action)["latestExecution"])


@pytest.fixture
def world() -> Iterator[World]:
    with Sandbox(function_env={"POWERTOOLS_METRICS_DISABLED": "true"}) as sandbox:
        refs = sandbox.stack.refs
        links = LinkSigner(keyring_from_secret(sandbox.client("secretsmanager"), refs["ApprovalLinkKey"]))
        store = ApprovalStore(sandbox.client("dynamodb"), refs["ApprovalsTable"])
        assert sandbox.approval_page_url is not None
        world = World(sandbox, store, links, sandbox.approval_page_url)
        world.pipeline()
        yield world


@pytest.fixture
def decisions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Every PutApprovalResult the sandbox's CodePipeline backend received: (execution's action, status, summary)."""
    received: list[tuple[str, str, str]] = []
    # The sandbox grafts its operations onto moto's own backend class, which is where requests land.
    backend = CodePipelineBackend
    original = getattr(backend, "put_approval_result")  # noqa: B009 (grafted at run time: mypy cannot see it)

    def counted(self: cp.SandboxCodePipelineBackend, name: str, stage: str, action: str, **kwargs: Any) -> datetime:
        received.append((f"{name}/{stage}/{action}", kwargs["status"], kwargs["summary"]))
        return original(self, name, stage, action, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(backend, "put_approval_result", counted)
    return received


@pytest.fixture
def codepipeline_calls(world: World, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every CodePipeline operation the sandbox received from now on (GetPipelineState, PutApprovalResult...)."""
    received: list[str] = []
    original = CodePipelineResponse.call_action

    def recorded(self: CodePipelineResponse) -> Any:
        received.append(self._get_action())
        return original(self)

    monkeypatch.setattr(CodePipelineResponse, "call_action", recorded)
    return received


@dataclass
class Mailed:
    """A pipeline run by the sandbox up to its approval, with the emails ApprovalRequestsFunction sent."""

    sandbox: Sandbox
    ref: ActionRef

    def link(self, approver: str) -> str:
        """The approval link in `approver`'s email (the one message their filtered subscription received)."""
        mails = [mail for mail in self.sandbox.mailbox(approver) if mail.attributes.get("kind") == "request"]
        assert len(mails) == 1, [mail.subject for mail in mails]
        found = links_in(self.sandbox.approval_page_url, mails[0].message)
        assert found, mails[0].message
        return found[0]

    def state(self) -> dict[str, Any]:
        state = self.sandbox.client("codepipeline").get_pipeline_state(name=self.ref.pipeline)
        stage = next(s for s in state["stageStates"] if s["stageName"] == self.ref.stage)
        return dict(next(a for a in stage["actionStates"] if a["actionName"] == self.ref.action)["latestExecution"])


@pytest.fixture
def mailed(tmp_path: Path) -> Iterator[Mailed]:
    """`payments` (CodeCommit source, a CodeBuild build, a manual approval) started and waiting at its approval."""
    approvers = (ALICE, BOB)
    parameters = {"ApprovalApprovers": ",".join(approvers)}
    with Sandbox(parameters=parameters, function_env={"POWERTOOLS_METRICS_DISABLED": "true"}) as sandbox:
        repo = pygit2.init_repository(str(tmp_path / "payments.git"), bare=True, initial_head="main")
        tip = commit(repo, "Partial refunds\n\nRefund part of a card payment.", {"README": "refunds\n"}, [])
        repo.create_reference_direct("refs/heads/main", tip, True)
        sandbox.import_repository(PIPELINE, tmp_path / "payments.git", in_place=True)
        sandbox.client("codebuild").create_project(
            name="payments-build",
            source={"type": "CODECOMMIT", "location": sandbox.store.clone_url(PIPELINE)},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={
                "type": "ARM_CONTAINER",
                "image": "aws/codebuild/standard",
                "computeType": "BUILD_GENERAL1_SMALL",
            },
            serviceRole=f"arn:aws:iam::{sandbox.description()['account_id']}:role/codebuild-service",
        )
        sns, topic = sandbox.client("sns"), sandbox.stack.refs["ApprovalMailTopic"]
        for address in approvers:  # what `codereflex approvers sync` creates: one filtered subscription each
            policy = json.dumps({"approver": [address]})
            sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=address, Attributes={"FilterPolicy": policy})
        approval = {"configuration": {"CustomData": "Check the refund dashboards first"}}
        sandbox.pipelines.create(
            approval_pipeline(PIPELINE, repository=PIPELINE, project="payments-build", approval=approval)
        )
        execution_id = sandbox.pipelines.start(PIPELINE)
        sandbox.pipelines.settle()
        yield Mailed(sandbox, ActionRef(PIPELINE, "Approval", "Approve", execution_id))
