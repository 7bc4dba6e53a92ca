"""What codereflex knows of one manual approval: the request, who answered, what was decided, how it ended."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Literal, NamedTuple

from codereflex.errors import CodeReflexError

Status = Literal["Approved", "Rejected"]
APPROVED: Status = "Approved"
REJECTED: Status = "Rejected"

EndedHow = Literal[
    "approved-here",
    "rejected-here",
    "approved-elsewhere",
    "rejected-elsewhere",
    "expired",
    "superseded",
    "abandoned",
]
State = Literal["waiting", "approved", "rejected", "expired", "superseded", "ended-elsewhere"]

# PutApprovalResult's summary is at most 512 characters (botocore: ApprovalSummary max 512).
SUMMARY_LIMIT = 512
# A manual approval's timeout when its declaration sets none: 7 days (CodePipeline's default and maximum).
DEFAULT_TIMEOUT_MINUTES = 7 * 24 * 60
# A request is kept this long after its action expires, so a late visit still says what happened.
KEEP_AFTER_EXPIRY = timedelta(days=30)

_ENDED_STATE: Mapping[EndedHow, State] = {
    "approved-here": "approved",
    "rejected-here": "rejected",
    "approved-elsewhere": "ended-elsewhere",
    "rejected-elsewhere": "ended-elsewhere",
    "abandoned": "ended-elsewhere",
    "expired": "expired",
    "superseded": "superseded",
}


# A deployment hook's question to a person is keyed like a pipeline's approval, in a namespace no
# pipeline can have: CodePipeline names are [A-Za-z0-9.@_-]+, never with a colon.
DEPLOYMENT_NAMESPACE = "codedeploy:"
RefKind = Literal["pipeline", "deployment"]


class ActionRef(NamedTuple):
    """What is asked: one manual approval action of one pipeline execution, or one CodeDeploy hook's
    inconclusive checks (`deployment_hook`). The unit everything here is keyed by, and what a link binds.

    For a deployment hook: `pipeline` is the namespace and the CodeDeploy application, `stage` the
    deployment group, `action` the hook (BeforeAllowTraffic...), `execution_id` the deployment id.
    """

    pipeline: str
    stage: str
    action: str
    execution_id: str

    @classmethod
    def deployment_hook(cls, application: str, group: str, hook: str, deployment_id: str) -> ActionRef:
        return cls(f"{DEPLOYMENT_NAMESPACE}{application}", group, hook, deployment_id)

    @property
    def kind(self) -> RefKind:
        return "deployment" if self.pipeline.startswith(DEPLOYMENT_NAMESPACE) else "pipeline"

    @property
    def application(self) -> str:
        """The CodeDeploy application of a deployment hook's request (the pipeline's name otherwise)."""
        return self.pipeline.removeprefix(DEPLOYMENT_NAMESPACE)

    @property
    def key(self) -> str:
        return f"{self.pipeline}/{self.stage}/{self.action}/{self.execution_id}"


class Revision(NamedTuple):
    """A source revision of the execution (GetPipelineExecution's artifactRevisions), with its author if known."""

    name: str  # the artifact's name
    revision_id: str  # a commit id for CodeCommit
    summary: str  # the commit message, as CodePipeline summarises it
    url: str  # the CodeCommit console link, or ""
    author_email: str | None = None
    author_name: str | None = None


class BuildSummary(NamedTuple):
    """A Build-category action of the same execution: what the approver should know passed or failed."""

    action: str
    status: str
    summary: str
    url: str


class ActionDetails(NamedTuple):
    """The approval action as declared (timeout, CustomData, ExternalEntityLink, NotificationArn) and started."""

    timeout_minutes: int = DEFAULT_TIMEOUT_MINUTES
    started_at: datetime | None = None
    custom_data: str | None = None
    external_link: str | None = None
    notification_arn: str | None = None

    def expires_at(self, fallback_start: datetime) -> datetime:
        """When the action times out: its start (or `fallback_start` if CodePipeline did not say) + timeout."""
        return (self.started_at or fallback_start) + timedelta(minutes=self.timeout_minutes)


class Answer(NamedTuple):
    """One approver's answer on the page."""

    approver: str
    status: Status
    reason: str
    at: datetime


class Outcome(NamedTuple):
    """The decision codereflex made, claimed once, then reported to CodePipeline (`reported`)."""

    status: Status
    by: tuple[str, ...]
    reason: str
    at: datetime
    reported: bool = False

    @property
    def summary(self) -> str:
        return approval_summary(self.status, self.by, self.reason)


class Ended(NamedTuple):
    """How the action ended: from its terminal event, or found when re-checking before a decision.

    `by` is who CodePipeline says last updated the action (an IAM or STS ARN, not a secret), when
    it says: the person or role that decided outside codereflex.
    """

    how: EndedHow
    at: datetime
    by: str | None = None


class Request(NamedTuple):
    """One approval request: who is asked, what they see, what they answered, and what came of it."""

    ref: ActionRef
    approvers: tuple[str, ...]
    quorum: int
    separate_duties: bool
    expires_at: datetime  # the action's own expiry (its start + timeoutInMinutes)
    link_expires_at: datetime  # never later than expires_at
    custom_data: str | None
    external_link: str | None
    revisions: tuple[Revision, ...]
    builds: tuple[BuildSummary, ...]
    created_at: datetime
    answers: Mapping[str, Answer] = MappingProxyType({})
    outcome: Outcome | None = None
    ended: Ended | None = None
    reminded: bool = False
    closed_out: bool = False

    def state(self, now: datetime) -> State:
        """What a visitor is told: how it ended, else what codereflex decided, else expired or waiting."""
        if self.ended is not None:
            return _ENDED_STATE[self.ended.how]
        if self.outcome is not None:
            return "approved" if self.outcome.status == APPROVED else "rejected"
        if now >= self.expires_at:
            return "expired"
        return "waiting"

    def approvals(self) -> tuple[Answer, ...]:
        """The approvals given so far, oldest first."""
        return tuple(sorted((a for a in self.answers.values() if a.status == APPROVED), key=lambda a: a.at))

    def pending(self) -> tuple[str, ...]:
        """The approvers who have not answered, in the order they were asked."""
        return tuple(a for a in self.approvers if a not in self.answers)

    def decisive(self, answer: Answer) -> bool:
        """Whether `answer` decides: any rejection, or the approval that reaches the quorum.

        Works whether or not `answer` is already among this request's answers.
        """
        if answer.status == REJECTED:
            return True
        others = sum(1 for a in self.approvals() if a.approver != answer.approver)
        return others + 1 >= self.quorum

    def outcome_for(self, answer: Answer) -> Outcome:
        """The outcome a decisive `answer` makes: a rejection by its approver, or every approval so far."""
        if answer.status == REJECTED:
            return Outcome(REJECTED, (answer.approver,), answer.reason, answer.at)
        approvals = [a for a in self.approvals() if a.approver != answer.approver] + [answer]
        reasons = "; ".join(a.reason for a in approvals if a.reason)
        return Outcome(APPROVED, tuple(a.approver for a in approvals), reasons, answer.at)

    def authors(self) -> frozenset[str]:
        """The source revisions' author addresses, lowercased (separation of duties compares these)."""
        return frozenset(r.author_email.lower() for r in self.revisions if r.author_email)

    def conflicted(self, approver: str) -> bool:
        """Separation of duties: whether `approver` authored a source revision and so may not approve."""
        return self.separate_duties and approver.lower() in self.authors()

    @property
    def ttl(self) -> int:
        """When DynamoDB may delete the request (epoch seconds): 30 days after the action expires."""
        return int((self.expires_at + KEEP_AFTER_EXPIRY).timestamp())


def how_ended(
    request: Request, state: str, at: datetime, updated_by: str | None, ours: Callable[[str | None], bool]
) -> EndedHow:
    """How a finished action ended, in the words of its terminal event (SUCCEEDED, FAILED, ABANDONED, CANCELED).

    "Decided here" is claimed only when proven, never inferred from an outcome codereflex claimed:
    the outcome was reported as decided by PutApprovalResult, or CodePipeline names one of
    codereflex's own roles as the action's last updater (`ours`). Someone in the console may have
    decided a moment before the page's PutApprovalResult, which then found the approval done.
    """
    if state in ("SUCCEEDED", "FAILED"):
        status = APPROVED if state == "SUCCEEDED" else REJECTED
        outcome = request.outcome
        reported = outcome is not None and outcome.reported and outcome.status == status
        if reported or ours(updated_by):
            return "approved-here" if status == APPROVED else "rejected-here"
        if status == APPROVED:
            return "approved-elsewhere"
        # A manual approval that times out fails, updated by nobody: at or after its expiry, nobody rejected it.
        if updated_by is None and at >= request.expires_at - timedelta(minutes=1):
            return "expired"
        return "rejected-elsewhere"
    if state == "ABANDONED":
        return "superseded"
    return "abandoned"  # CANCELED: the execution was stopped


def ending(
    request: Request, state: str, at: datetime, updated_by: str | None, ours: Callable[[str | None], bool]
) -> Ended:
    """`how_ended` as recorded: `by` names the updater only when someone other than codereflex decided."""
    how = how_ended(request, state, at, updated_by, ours)
    return Ended(how, at, None if how in ("approved-here", "rejected-here") else updated_by)


class RequestRefused(CodeReflexError):
    """An answer or claim the request's record refused: an answer to tell the approver, not a failure."""

    def __init__(self, message: str, request: Request | None) -> None:
        super().__init__(message)
        self.request = request  # the record as it stood, so the page can say what happened without a read


class RequestNotFound(RequestRefused):
    """No request for this action (never opened, or deleted by its TTL long after the action ended)."""


class NotAsked(RequestRefused):
    """The approver is not one of the request's approvers."""


class AlreadyAnswered(RequestRefused):
    """The approver has answered already; an answer is given once."""


class AlreadyDecided(RequestRefused):
    """The request has an outcome, or its action ended: nothing more can be answered."""


def approval_summary(status: Status, by: tuple[str, ...], reason: str) -> str:
    """`Approved by alice@example.com via codereflex: <reason>`, cut to PutApprovalResult's 512 characters."""
    text = f"{status} by {', '.join(by)} via codereflex"
    reason = " ".join(reason.split())
    if reason:
        text = f"{text}: {reason}"
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 3] + "..."
