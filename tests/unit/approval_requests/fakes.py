"""In-memory stand-ins for the approval requests function's ports: CodePipeline, the store, the approvers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from approval_requests.ports import Options, Ports
from codereflex.approvals.links import Keyring, LinkSigner
from codereflex.approvals.model import ActionDetails, ActionRef, BuildSummary, Ended, Request, Revision, Status
from codereflex.errors import ConfigurationError
from codereflex.identity import Principals
from codereflex.signing import Signer
from tests.fakes import FakeOnce, FakePublisher

NOW = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
REF = ActionRef("payments-release", "Production", "ApproveRelease", "exec-2")
TOKEN = "f00dfeed-0000-4000-8000-PIPELINETOKEN"
PAGE = "https://page.example.com/"
SIGNER = LinkSigner(Keyring(Signer(b"k" * 32)))
# The page function's role, as CodePipeline names it after the page decided; the console's developer.
OURS = "arn:aws:sts::123456789012:assumed-role/codereflex-ApprovalPageFunctionRole-1A2B/codereflex-ApprovalPage"
DEVELOPER = "arn:aws:iam::123456789012:user/developer"


@dataclass
class FakePipelines:
    """Which execution each action waits on (and with which token); what was decided."""

    waiting: dict[tuple[str, str, str], tuple[str, str]] = field(default_factory=dict)  # → (execution, token)
    details: ActionDetails = field(
        default_factory=lambda: ActionDetails(60, NOW, custom_data="Check the release notes")
    )
    decided: list[tuple[ActionRef, str, Status, str]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    # How actions that no longer wait finished, and who CodePipeline says updated them.
    finals: dict[ActionRef, tuple[str, str | None]] = field(default_factory=dict)

    def console(self, ref: ActionRef, status: Status, by: str = DEVELOPER) -> None:
        """Someone decides in the console: the action stops waiting, CodePipeline names them."""
        self.waiting.pop((ref.pipeline, ref.stage, ref.action), None)
        self.finals[ref] = ("SUCCEEDED" if status == "Approved" else "FAILED", by)

    def updated_by(self, ref: ActionRef) -> str | None:
        return self.finals.get(ref, ("", None))[1]

    def final_state(self, ref: ActionRef) -> tuple[str, str | None]:
        return self.finals.get(ref, ("ABANDONED", None))

    def wait(self, ref: ActionRef, token: str = TOKEN) -> None:
        self.waiting[(ref.pipeline, ref.stage, ref.action)] = (ref.execution_id, token)

    def waiting_token(self, ref: ActionRef) -> str | None:
        self.calls.append("waiting_token")
        execution, token = self.waiting.get((ref.pipeline, ref.stage, ref.action), ("", ""))
        return token if execution == ref.execution_id else None

    def execution_for_token(self, pipeline: str, stage: str, action: str, token: str) -> str | None:
        execution, waiting = self.waiting.get((pipeline, stage, action), ("", ""))
        return execution if waiting == token else None

    def action_details(self, ref: ActionRef) -> ActionDetails:
        self.calls.append("action_details")
        return self.details

    def execution_details(self, ref: ActionRef) -> tuple[tuple[Revision, ...], tuple[BuildSummary, ...]]:
        revision = Revision("Source", "9c4e0f7", "Partial refunds", "", "dev@example.com", "Dev Eloper")
        return (revision,), (BuildSummary("UnitTests", "Succeeded", "42 tests passed", ""),)

    def put_result(self, ref: ActionRef, token: str, status: Status, summary: str) -> str:
        if self.waiting_token(ref) != token:
            return "already-done"
        self.decided.append((ref, token, status, summary))
        del self.waiting[(ref.pipeline, ref.stage, ref.action)]
        self.finals[ref] = ("SUCCEEDED" if status == "Approved" else "FAILED", OURS)
        return "decided"


@dataclass(frozen=True)
class FakePolicy:
    approvers: tuple[str, ...]
    quorum: int = 1
    separate_duties: bool = False


@dataclass
class FakeApprovers:
    approvers: tuple[str, ...] = ("alice@example.com", "bob@example.com")

    def policy(self, pipeline: str) -> FakePolicy:
        if not self.approvers:
            raise ConfigurationError(f"no approvers for pipeline {pipeline}")
        return FakePolicy(self.approvers)


@dataclass
class FakeStore:
    """The ApprovalStore's contract in memory: open converges, each mark happens once."""

    requests: dict[str, Request] = field(default_factory=dict)

    def open(self, request: Request) -> tuple[Request, bool]:
        if request.ref.key in self.requests:
            return self.requests[request.ref.key], False
        self.requests[request.ref.key] = request
        return request, True

    def get(self, ref: ActionRef) -> Request | None:
        return self.requests.get(ref.key)

    def _set(self, ref: ActionRef, **changes: object) -> None:
        self.requests[ref.key] = self.requests[ref.key]._replace(**changes)  # type: ignore[arg-type]

    def mark_ended(self, ref: ActionRef, ended: Ended) -> bool:
        if self.requests[ref.key].ended is not None:
            return False
        self._set(ref, ended=ended)
        return True

    def mark_reported(self, ref: ActionRef) -> bool:
        outcome = self.requests[ref.key].outcome
        if outcome is None or outcome.reported:
            return False
        self._set(ref, outcome=outcome._replace(reported=True))
        return True

    def mark_reminded(self, ref: ActionRef) -> bool:
        first = not self.requests[ref.key].reminded
        self._set(ref, reminded=True)
        return first

    def mark_closed_out(self, ref: ActionRef) -> bool:
        first = not self.requests[ref.key].closed_out
        self._set(ref, closed_out=True)
        return first

    def unreported(self, older_than: datetime) -> Iterator[Request]:
        yield from [
            r
            for r in self.requests.values()
            if r.outcome and not r.outcome.reported and r.outcome.at < older_than and r.ended is None
        ]

    def open_requests(self) -> Iterator[Request]:
        yield from [r for r in self.requests.values() if r.ended is None]


@dataclass
class World:
    pipelines: FakePipelines = field(default_factory=FakePipelines)
    approvers: FakeApprovers = field(default_factory=FakeApprovers)
    store: FakeStore = field(default_factory=FakeStore)
    mail: FakePublisher = field(default_factory=FakePublisher)
    once: FakeOnce = field(default_factory=FakeOnce)
    now: datetime = NOW
    options: Options = field(default_factory=lambda: Options(PAGE, reminder_minutes=15))

    @property
    def ports(self) -> Ports:
        ours = Principals([OURS])
        return Ports(
            self.pipelines,
            self.approvers,
            self.store,
            self.mail,
            self.once,
            lambda: SIGNER,
            self.clock,
            ours=lambda arn: arn in ours,
        )

    def clock(self) -> datetime:
        return self.now

    def later(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)

    def sent(self, kind: str) -> list[str]:
        return [m.attributes["approver"] for m in self.mail.messages if m.attributes["kind"] == kind]
