"""In-memory ports for the approval page's logic: a store with the real one's conditions, a pipeline that counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from codereflex.approvals.links import Keyring, Link, LinkSigner
from codereflex.approvals.model import (
    ActionRef,
    AlreadyAnswered,
    AlreadyDecided,
    Answer,
    BuildSummary,
    Ended,
    Outcome,
    Request,
    Revision,
)
from codereflex.identity import Principals
from codereflex.signing import Signer

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
KEY = b"approval-page-test-key-0123456789abcdef"
REF = ActionRef("payments", "Prod", "Approve", "0f6e1c55-1111-4b44-9d7a-8a1b2c3d4e5f")
ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
LINKS = LinkSigner(Keyring(Signer(KEY)))
PATH_PREFIX = "/a/"


def request(**changes: Any) -> Request:
    base = Request(
        ref=REF,
        approvers=(ALICE, BOB),
        quorum=1,
        separate_duties=False,
        expires_at=NOW + timedelta(hours=5),
        link_expires_at=NOW + timedelta(hours=5),
        custom_data="Check the refund dashboards first",
        external_link="https://dashboards.example.com/refunds",
        revisions=(
            Revision(
                "SourceArtifact",
                "4f1c2a9b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b",
                "Partial refunds",
                "https://console.aws.amazon.com/codesuite/codecommit/repositories/payments/commit/4f1c2a9b",
                "carol@example.com",
                "Carol",
            ),
        ),
        builds=(BuildSummary("UnitTests", "Succeeded", "212 tests passed", "https://console.aws.amazon.com/b/1"),),
        created_at=NOW - timedelta(minutes=5),
    )
    return base._replace(**changes)


def token(approver: str = ALICE, ref: ActionRef = REF, expires_at: datetime | None = None) -> str:
    return LINKS.issue(Link(ref, approver, expires_at or NOW + timedelta(hours=5)))


@dataclass
class FakeStore:
    requests: dict[ActionRef, Request] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)

    def get(self, ref: ActionRef) -> Request | None:
        return self.requests.get(ref)

    def answer(self, ref: ActionRef, answer: Answer) -> Request:
        held = self.requests[ref]
        if held.outcome is not None or held.ended is not None:
            raise AlreadyDecided("decided", held)
        if answer.approver in held.answers:
            raise AlreadyAnswered("answered", held)
        self.writes.append(f"answer:{answer.approver}")
        self.requests[ref] = held._replace(answers={**held.answers, answer.approver: answer})
        return self.requests[ref]

    def claim_outcome(self, ref: ActionRef, outcome: Outcome) -> bool:
        held = self.requests[ref]
        if held.outcome is not None or held.ended is not None:  # the real store's condition
            return False
        self.writes.append("claim")
        self.requests[ref] = held._replace(outcome=outcome)
        return True

    def mark_reported(self, ref: ActionRef) -> bool:
        held = self.requests[ref]
        assert held.outcome is not None
        self.writes.append("reported")
        self.requests[ref] = held._replace(outcome=held.outcome._replace(reported=True))
        return True

    def mark_ended(self, ref: ActionRef, ended: Ended) -> bool:
        self.writes.append(f"ended:{ended.how}")
        self.requests[ref] = self.requests[ref]._replace(ended=ended)
        return True


# The page function's role as CodePipeline names it after a decision here; a developer in the console.
OURS = "arn:aws:sts::123456789012:assumed-role/codereflex-ApprovalPageFunctionRole-1A2B/codereflex-ApprovalPage"
DEVELOPER = "arn:aws:iam::123456789012:user/developer"


@dataclass
class FakePipeline:
    token: str | None = "9b1d7f3e-0000-4000-8000-123456789abc"
    # How the action finished once it stopped waiting (a terminal event's word) and who updated it.
    final: tuple[str, str | None] = ("ABANDONED", None)
    results: list[tuple[ActionRef, str, str, str]] = field(default_factory=list)
    # Someone else decides first: PutApprovalResult then finds the approval already done.
    beaten_by: tuple[str, str] | None = None

    def waiting_token(self, ref: ActionRef) -> str | None:
        return self.token

    def final_state(self, ref: ActionRef) -> tuple[str, str | None]:
        return self.final

    def put_result(self, ref: ActionRef, token: str, status: str, summary: str) -> str:
        if self.beaten_by is not None:
            self.final = self.beaten_by
            return "already-done"
        self.results.append((ref, token, status, summary))
        self.final = ("SUCCEEDED" if status == "Approved" else "FAILED", OURS)
        return "decided"


def ours(arn: str | None) -> bool:
    return arn in Principals([OURS])


# A CodeDeploy hook's inconclusive checks, asked of a person: no CodePipeline behind it.
DEPLOYMENT = ActionRef.deployment_hook("payments-api", "payments-prod", "BeforeAllowTraffic", "d-7QWERTY12")
CHECKS = (
    BuildSummary("error-rate", "inconclusive", "only 3 of 10 datapoints in the window", ""),
    BuildSummary("p99-latency", "succeeded", "212 ms under 300 ms", ""),
)


def deployment_request(**changes: Any) -> Request:
    """A deployment request as the hook opens it: the spec's approvers, no revisions, one summary per check."""
    return request(
        ref=DEPLOYMENT,
        separate_duties=False,
        expires_at=NOW + timedelta(minutes=50),
        link_expires_at=NOW + timedelta(minutes=50),
        custom_data="error-rate inconclusive: only 3 of 10 datapoints in the window",
        external_link="https://reports.example.com/payments-api/d-7QWERTY12/BeforeAllowTraffic.html",
        revisions=(),
        builds=CHECKS,
    )._replace(**changes)


class NoPipeline:
    """The pipeline port of a deployment's decision: CodePipeline has nothing to do with it, so any call fails."""

    def waiting_token(self, ref: ActionRef) -> str | None:
        raise AssertionError(f"waiting_token({ref.key}) called for a deployment")

    def final_state(self, ref: ActionRef) -> tuple[str, str | None]:
        raise AssertionError(f"final_state({ref.key}) called for a deployment")

    def put_result(self, ref: ActionRef, token: str, status: str, summary: str) -> str:
        raise AssertionError(f"put_result({ref.key}) called for a deployment")


@dataclass
class ClosingStore(FakeStore):
    """The hook gives up (close_undecided) between the page's answer and its claim: the claim then loses."""

    closed: Ended | None = None

    def answer(self, ref: ActionRef, answer: Answer) -> Request:
        answered = super().answer(ref, answer)
        self.closed = Ended("expired", answer.at)
        self.writes.append("closed")
        self.requests[ref] = answered._replace(ended=self.closed)
        return answered
