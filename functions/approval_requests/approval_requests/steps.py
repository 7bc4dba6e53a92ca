"""What both the events and the sweep do: mail each recipient once, close a request out once, finish a decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Literal

from codereflex.approvals.mailing import Kind, Mailer
from codereflex.approvals.model import Ended, Outcome, Request, ending
from codereflex.report import Count, Line, Report

from .ports import Options, Ports


class Outcomes(Enum):
    OPENED = "opened"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    CLOSED_OUT = "closed-out"
    SWEPT = "swept"


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcomes
    trigger: str
    reason: str = ""
    request: str | None = None  # the request's key: pipeline/stage/action/execution
    sent: int = 0  # messages published by this invocation
    swept: dict[str, int] = field(default_factory=dict)

    def report(self) -> Report:
        fields = {
            "outcome": self.outcome.value,
            "trigger": self.trigger,
            "reason": self.reason,
            "request": self.request,
            "messages_sent": self.sent,
            **({"swept": self.swept} if self.swept else {}),
        }
        counts = [Count(f"Approvals.{self.outcome.value}")]
        if self.sent:
            counts.append(Count("ApprovalMessagesSent", self.sent))
        counts += [Count(f"ApprovalSweep.{name}", value) for name, value in self.swept.items() if value]
        level: Literal["info", "warning"] = "warning" if self.swept.get("failed") else "info"
        response = {"outcome": self.outcome.value, "reason": self.reason, "request": self.request, "sent": self.sent}
        return Report(response, (Line("Approval event handled", fields, level),), tuple(counts))


def close_out(request: Request, ended: Ended, ports: Ports, options: Options, trigger: str) -> Result:
    """Record how the action ended, then tell every approver once who decided, when and why."""
    ref = request.ref
    if request.ended is None:
        ports.store.mark_ended(ref, ended)
    if ended.how in {"approved-here", "rejected-here"} and request.outcome and not request.outcome.reported:
        # Proven ours (how_ended: CodePipeline names our role as the updater): the page's invocation
        # ended between PutApprovalResult and recording it.
        ports.store.mark_reported(ref)
    if request.closed_out:
        return Result(Outcomes.DUPLICATE, trigger, "already closed out", ref.key)
    ended_request = request._replace(ended=request.ended or ended)
    sent = send(ended_request, "closeout", request.approvers, ports, options, now=ended.at)
    ports.store.mark_closed_out(ref)
    return Result(Outcomes.CLOSED_OUT, trigger, ended_request.ended.how if ended_request.ended else "", ref.key, sent)


def send(
    request: Request,
    kind: Kind,
    recipients: tuple[str, ...],
    ports: Ports,
    options: Options,
    *,
    now: datetime,
) -> int:
    """One message per recipient, each under its own once-key; returns how many went out now."""
    return Mailer(ports.links, options.page_url, ports.mail, ports.once).send(request, kind, recipients, now=now)


def finish(request: Request, outcome: Outcome, ports: Ports, options: Options, now: datetime) -> tuple[bool, int]:
    """Report a claimed outcome the page could not (its invocation ended): (CodePipeline took it now, messages sent).

    Reported as ours only when it is: PutApprovalResult decided now, or the approval no longer
    waits and CodePipeline names our role as its updater (the page's call got through before the
    crash). Otherwise it ended some other way (the console, expiry, a newer execution). Either way
    the ending is recorded and closed out, so the sweep stops retrying even if the action's
    terminal event was lost (close_out sends each message once, whichever comes first).
    """
    token = ports.pipelines.waiting_token(request.ref)
    if (
        token is not None
        and ports.pipelines.put_result(request.ref, token, outcome.status, outcome.summary) == "decided"
    ):
        ports.store.mark_reported(request.ref)
        return True, 0
    state, updated_by = ports.pipelines.final_state(request.ref)
    # close_out marks the outcome reported only when the ending is proven ours.
    ended = ending(request, state, now, updated_by, ports.ours)
    return False, close_out(request, ended, ports, options, "schedule").sent
