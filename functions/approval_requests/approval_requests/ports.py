"""What the approval requests function talks to (each port an adapter in codereflex), and what it is told."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from codereflex.approvals.links import LinkSigner
from codereflex.approvals.mailing import Publisher
from codereflex.approvals.model import ActionDetails, ActionRef, BuildSummary, Ended, Request, Revision, Status
from codereflex.ports import Once


class Pipelines(Protocol):
    def waiting_token(self, ref: ActionRef) -> str | None: ...

    def execution_for_token(self, pipeline: str, stage: str, action: str, token: str) -> str | None: ...

    def action_details(self, ref: ActionRef) -> ActionDetails: ...

    def execution_details(self, ref: ActionRef) -> tuple[tuple[Revision, ...], tuple[BuildSummary, ...]]: ...

    def put_result(self, ref: ActionRef, token: str, status: Status, summary: str) -> str: ...

    def updated_by(self, ref: ActionRef) -> str | None: ...

    def final_state(self, ref: ActionRef) -> tuple[str, str | None]: ...


class Policy(Protocol):
    @property
    def approvers(self) -> tuple[str, ...]: ...
    @property
    def quorum(self) -> int: ...
    @property
    def separate_duties(self) -> bool: ...


class Approvers(Protocol):
    """Who approves a pipeline: its tags over the SSM mapping over the defaults (codereflex.approvals.approvers)."""

    def policy(self, pipeline: str) -> Policy: ...


class Store(Protocol):
    """The requests (codereflex.aws.approvals.ApprovalStore)."""

    def open(self, request: Request) -> tuple[Request, bool]: ...
    def get(self, ref: ActionRef) -> Request | None: ...
    def mark_ended(self, ref: ActionRef, ended: Ended) -> Any: ...
    def mark_reported(self, ref: ActionRef) -> Any: ...
    def mark_reminded(self, ref: ActionRef) -> bool: ...
    def mark_closed_out(self, ref: ActionRef) -> bool: ...
    def unreported(self, older_than: datetime) -> Iterator[Request]: ...
    def open_requests(self) -> Iterator[Request]: ...


class Ports(NamedTuple):
    pipelines: Pipelines
    approvers: Approvers
    store: Store
    mail: Publisher
    once: Once
    links: Callable[[], LinkSigner]  # made on first use: only a request or a reminder signs links
    clock: Callable[[], datetime]
    # Whether an ARN is one of codereflex's own deciding roles: proof that an action was decided here.
    ours: Callable[[str | None], bool]


class Options(NamedTuple):
    page_url: str
    reminder_minutes: int = 60
    link_hours: int = 0  # 0: a link lasts as long as the action
    pipelines: str = "*"  # the pipelines this function may read and decide (its IAM policy's pattern)
