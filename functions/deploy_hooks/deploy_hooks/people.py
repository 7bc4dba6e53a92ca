"""Inconclusive to a person: a hook whose gating checks ended inconclusive (onInconclusive person) asks the
spec's people with approval links and waits, polling its own approval record, until they decide or its
time is up.

The question is an approvals `Request` keyed `codedeploy:<application>/<group>/<hook>/<deployment>`
in the approvals table, which only codereflex's roles write: the approval page records the decision
there (signed link, form token, one conditional claim) and this hook reads it back. Nothing else a
person could write (a comment, a reply, a header) is read. Giving up is one conditional write that
loses to a claimed decision, so the page's decision and the hook's timeout never both stand.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple, Protocol

from codereflex.approvals.mailing import Kind
from codereflex.approvals.model import APPROVED, REJECTED, ActionRef, BuildSummary, Ended, EndedHow, Request
from codereflex.validation.semantics import HookVerdict, decided_by, unanswered
from codereflex.validation.spec import People

POLL_S = 5.0  # how often a waiting run reads the request: a decision reaches CodeDeploy within seconds


class Questions(Protocol):
    """The approvals table, as the hook uses it (`codereflex.aws.approvals.ApprovalStore`)."""

    def get(self, ref: ActionRef) -> Request | None: ...
    def open(self, request: Request) -> tuple[Request, bool]: ...
    def close_undecided(self, ref: ActionRef, ended: Ended) -> bool: ...
    def mark_ended(self, ref: ActionRef, ended: Ended) -> bool: ...
    def mark_closed_out(self, ref: ActionRef) -> bool: ...


class Mail(Protocol):
    """The approvers' mail, each message once (`codereflex.approvals.mailing.Mailer`)."""

    def send(self, request: Request, kind: Kind, recipients: tuple[str, ...], *, now: datetime) -> int: ...


class Asking(NamedTuple):
    """Where a hook's question to people is kept, and how it reaches them."""

    questions: Questions
    mail: Mail


def ref_for(application: str, group: str, hook: str, deployment_id: str) -> ActionRef:
    return ActionRef.deployment_hook(application, group, hook, deployment_id)


def as_text(ref: ActionRef) -> str:
    """The request's reference as the hook record keeps it (names may hold any character but a quote)."""
    return json.dumps(list(ref), separators=(",", ":"))


def from_text(text: str) -> ActionRef | None:
    try:
        parts = json.loads(text)
    except ValueError:
        return None
    if not (isinstance(parts, list) and len(parts) == 4 and all(isinstance(p, str) for p in parts)):  # noqa: PLR2004
        return None
    return ActionRef(*parts)


def question(ref: ActionRef, people: People, verdict: HookVerdict, now: float, until: float) -> Request:
    """The request the approvers see: every check of the hook with its status and reason, and why they are asked."""
    asked_at, ends = at(now), at(until)
    checks = tuple(
        BuildSummary(c.name, c.status if c.gating else f"{c.status} (dry run)", c.reason, "") for c in verdict.checks
    )
    why = (
        f"Check{'s' * (len(verdict.asks) > 1)} {', '.join(verdict.asks)} ended inconclusive: there was not enough"
        " evidence to decide, and the validation spec asks a person instead of failing. Approve to let the"
        " deployment go on; reject, or let the time run out, and it fails and rolls back."
    )
    return Request(
        ref=ref,
        approvers=people.approvers,
        quorum=people.quorum,
        separate_duties=False,
        expires_at=ends,
        link_expires_at=ends,
        custom_data=why,
        external_link=None,
        revisions=(),
        builds=checks,
        created_at=asked_at,
    )


def wait(
    request: Request,
    questions: Questions,
    clock_now: Callable[[], float],
    sleep: Callable[[float], None],
    stop_at: float,
) -> Request | None:
    """Poll until the request is decided or over (returned as it stands), or None when this run must stop."""
    ref = request.ref
    while True:
        if request.outcome is not None or request.ended is not None:
            return request
        now = clock_now()
        if at(now) >= request.expires_at:
            if questions.close_undecided(ref, Ended("expired", at(now))):
                return request._replace(ended=Ended("expired", at(now)))
            # The page claimed an outcome a moment before: it stands.
            return questions.get(ref) or request
        if now + POLL_S > stop_at:
            return None
        sleep(POLL_S)
        request = questions.get(ref) or request


def verdict_for(request: Request, asked: HookVerdict, people: People) -> HookVerdict:
    """What the person's answer makes of the asked verdict; only a decision the approvers could make counts."""
    outcome, ended = request.outcome, request.ended
    if outcome is not None:
        deciders = set(outcome.by)
        if not deciders or not deciders <= set(request.approvers):
            return unanswered(asked, "the recorded decision names someone who was not asked")
        if outcome.status == APPROVED and len(deciders) < request.quorum:
            return unanswered(asked, f"the recorded approval has fewer than {request.quorum} approvers")
        if outcome.status not in (APPROVED, REJECTED):
            return unanswered(asked, "the recorded decision is neither approved nor rejected")
        return decided_by(asked, outcome.status, outcome.by, outcome.reason)
    how = ended.how if ended is not None else "expired"
    if how == "expired":
        minutes = max(1, round((request.expires_at - request.created_at).total_seconds() / 60))
        return unanswered(asked, f"nobody decided within {minutes} min (asked {', '.join(people.approvers)})")
    return unanswered(asked, f"the question was closed ({how}) before anyone decided")


def close(request: Request, asking: Asking, now: float) -> int:
    """Record how the question ended and tell every approver once; returns how many close-outs went out."""
    when = at(now)
    ended = request.ended
    if ended is None and request.outcome is not None:
        how: EndedHow = "approved-here" if request.outcome.status == APPROVED else "rejected-here"
        ended = Ended(how, request.outcome.at)
        asking.questions.mark_ended(request.ref, ended)
    elif ended is None:
        ended = Ended("abandoned", when)
        if not asking.questions.close_undecided(request.ref, ended):
            return 0  # decided meanwhile: the run that reads that decision closes it out
    if request.closed_out:
        return 0
    # Each message once (the mailer's once-keys), then the flag: a crash in between sends none twice.
    sent = asking.mail.send(request._replace(ended=ended), "closeout", request.approvers, now=when)
    asking.questions.mark_closed_out(request.ref)
    return sent


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
