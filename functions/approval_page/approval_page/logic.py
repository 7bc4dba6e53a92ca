"""The approval page's decisions: what a link shows (GET, HEAD) and what a POST decides, in the design's order.

Plain Python over the approvals model and three ports; it never logs and never touches HTTP: it
returns what to show (`Shown`), a refusal (`Refused`) or where to send the browser (`SeeOther`),
with the report app.py emits. Nothing here ever holds the pipeline token longer than the one
call that needs it, and nothing it reports names the link token (only `link_id`). A deployment
hook's request (`ref.kind == "deployment"`) never calls the pipeline port: its record is the decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Literal, NamedTuple, Protocol

from codereflex.approvals.links import Link, LinkRefused, link_id
from codereflex.approvals.model import (
    APPROVED,
    REJECTED,
    SUMMARY_LIMIT,
    ActionRef,
    Answer,
    Ended,
    Outcome,
    Request,
    RequestRefused,
    Status,
    ending,
)
from codereflex.report import Count, Line, Report

RefusalReason = Literal[
    "invalid-link",
    "expired-link",
    "bad-form",
    "unknown-request",
    "not-approver",
    "author",
    "bad-decision",
    "reason-too-long",
    "not-found",
    "unavailable",
]
# The HTTP status of each refusal: 403 for what this visitor may not do, 410 for what is over.
STATUS: Mapping[RefusalReason, int] = {
    "invalid-link": 403,
    "expired-link": 410,
    "bad-form": 403,
    "unknown-request": 404,
    "not-approver": 403,
    "author": 403,
    "bad-decision": 400,
    "reason-too-long": 400,
    "not-found": 404,
    "unavailable": 503,
}
_DECISIONS: Mapping[str, Status] = {"approve": APPROVED, "reject": REJECTED}


class Links(Protocol):
    def read(self, token: str, now: datetime) -> Link: ...
    def form_token(self, token: str) -> str: ...
    def form_ok(self, token: str, form: str) -> bool: ...


class Store(Protocol):
    def get(self, ref: ActionRef) -> Request | None: ...
    def answer(self, ref: ActionRef, answer: Answer) -> Request: ...
    def claim_outcome(self, ref: ActionRef, outcome: Outcome) -> bool: ...
    def mark_reported(self, ref: ActionRef) -> bool: ...
    def mark_ended(self, ref: ActionRef, ended: Ended) -> bool: ...


class Pipeline(Protocol):
    def waiting_token(self, ref: ActionRef) -> str | None: ...
    def final_state(self, ref: ActionRef) -> tuple[str, str | None]: ...
    def put_result(self, ref: ActionRef, token: str, status: Status, summary: str) -> str: ...


class Ports(NamedTuple):
    links: Links
    store: Store
    pipeline: Pipeline
    # Whether an ARN is one of codereflex's own deciding roles (the page's, the requests function's).
    ours: Callable[[str | None], bool]


class Shown(NamedTuple):
    """The request as the link's approver sees it; `form_token` only while this approver may still answer."""

    request: Request
    approver: str
    now: datetime
    action_path: str
    form_token: str | None


class Refused(NamedTuple):
    reason: RefusalReason
    detail: str = ""

    @property
    def status(self) -> int:
        return STATUS[self.reason]


class SeeOther(NamedTuple):
    """303 to the link's own page, which then says what happened (a POST never renders a page itself)."""

    location: str


class Result(NamedTuple):
    answer: Shown | Refused | SeeOther
    lines: tuple[Line, ...] = ()
    counts: tuple[Count, ...] = ()

    def report(self) -> Report:
        return Report(response={}, lines=self.lines, counts=self.counts)


class Form(NamedTuple):
    """The POST's fields: `form` (the form token), `decision` (approve | reject), `reason`."""

    form: str
    decision: str
    reason: str


def show(token: str, path: str, now: datetime, ports: Ports) -> Result:
    """GET and HEAD: read-only. A mail scanner fetching every link decides nothing and changes nothing."""
    checked = _checked(token, now, ports)
    if isinstance(checked, Result):
        return checked
    link, request = checked
    may_answer = request.state(now) == "waiting" and link.approver not in request.answers
    form = ports.links.form_token(token) if may_answer and not request.conflicted(link.approver) else None
    fields = {"link_id": link_id(token), "request": request.ref.key, "state": request.state(now)}
    return Result(Shown(request, link.approver, now, path, form), (Line("Approval page shown", fields),))


def decide(token: str, path: str, form: Form, now: datetime, ports: Ports) -> Result:  # noqa: PLR0911 - one per step
    """POST: the design's decision order. Every early return decides nothing."""
    checked = _checked(token, now, ports, form=form)
    if isinstance(checked, Result):
        return checked
    link, request = checked
    ref, fields = request.ref, {"link_id": link_id(token), "request": request.ref.key}
    status = _DECISIONS.get(form.decision)
    if status is None:
        return _refused("bad-decision", fields)
    reason = " ".join(form.reason.split())
    if len(reason) > reason_limit(request):
        return _refused("reason-too-long", fields)
    # 4. Already decided, ended or answered by this approver: the page says what happened.
    if request.state(now) != "waiting" or link.approver in request.answers:
        return _again(path, fields, "Approval answer not needed", request.state(now))
    # 5. The action must still wait on this execution; otherwise record how it ended and say so.
    token_now = _still_waiting(request, path, fields, now, ports)
    if isinstance(token_now, Result):
        return token_now
    # 6. The answer, written once (conditional): a replayed or concurrent POST loses here.
    answer = Answer(link.approver, status, reason, now)
    try:
        answered = ports.store.answer(ref, answer)
    except RequestRefused:  # answered already (a replay, a second tab), or decided or ended meanwhile
        return _again(path, fields, "Approval answer not needed", "conflict")
    counts = [Count(f"Answers.{status}")]
    if not answered.decisive(answer):
        lines = (Line("Approval answered", {**fields, "status": status, "approvals": len(answered.approvals())}),)
        return Result(SeeOther(path), lines, tuple(counts))
    # 7. Decisive: one claim wins; only the winner reports it to CodePipeline. For a deployment the
    # claimed record is the decision (the hook polls it and reports to CodeDeploy), and the claim
    # loses to the hook's close_undecided as that loses to it: one of the two stands.
    outcome = answered.outcome_for(answer)
    if not ports.store.claim_outcome(ref, outcome):
        return _again(path, fields, "Approval outcome claimed elsewhere", "conflict")
    if ref.kind == "deployment":
        return _decided(ref, outcome, path=path, fields=fields, counts=counts, ports=ports)
    claimed = answered._replace(outcome=outcome)
    return _report(claimed, outcome, token_now, path=path, fields=fields, counts=counts, now=now, ports=ports)


def _still_waiting(
    request: Request, path: str, fields: Mapping[str, object], now: datetime, ports: Ports
) -> str | Result:
    """Step 5: the pipeline's token while the action waits on this execution, else its ending, recorded.

    A deployment hook's request has no CodePipeline action: its own record (its expiry, the `ended`
    the hook sets) says whether it waits, step 4 read that, and the writes after this are
    conditional on it. So there is no token ("") and nothing to ask.
    """
    if request.ref.kind == "deployment":
        return ""
    token = ports.pipeline.waiting_token(request.ref)
    if token is None:
        ended = _ended(request, now, ports)
        return _again(path, fields, "Approval no longer waiting", ended.how, ended.by)
    return token


def _report(
    request: Request,
    outcome: Outcome,
    token: str,
    *,
    path: str,
    fields: Mapping[str, object],
    counts: list[Count],
    now: datetime,
    ports: Ports,
) -> Result:
    """Step 7's winner: PutApprovalResult, and the outcome reported as ours only if it decided."""
    ref = request.ref
    if ports.pipeline.put_result(ref, token, outcome.status, outcome.summary) != "decided":
        # Already done: someone decided in the console (or the API) a moment earlier, or the action
        # expired or was superseded, and then our outcome decided nothing and is never reported as
        # ours. Only CodePipeline naming our own role (a retried call whose first try got through)
        # makes it ours after all.
        ended = _ended(request, now, ports)
        if ended.how not in ("approved-here", "rejected-here"):
            counts.append(Count("DecidedElsewhereFirst"))
            line = Line("Approval decided elsewhere first", {**fields, "why": ended.how, "updated_by": ended.by})
            return Result(SeeOther(path), (line,), tuple(counts))
    return _decided(ref, outcome, path=path, fields=fields, counts=counts, ports=ports)


def _decided(
    ref: ActionRef,
    outcome: Outcome,
    *,
    path: str,
    fields: Mapping[str, object],
    counts: list[Count],
    ports: Ports,
) -> Result:
    """The outcome recorded as decided by codereflex: reported to CodePipeline, or a deployment's own record."""
    ports.store.mark_reported(ref)
    counts.append(Count(f"Decided.{outcome.status}"))
    line = Line("Approval decided", {**fields, "status": outcome.status, "by": list(outcome.by)})
    return Result(SeeOther(path), (line,), tuple(counts))


def _ended(request: Request, now: datetime, ports: Ports) -> Ended:
    """How an action that no longer waits on this execution ended, recorded: decided here only if proven.

    A pipeline's only: a deployment's request is ended by its hook, never by asking CodePipeline.
    """
    state, updated_by = ports.pipeline.final_state(request.ref)
    ended = ending(request, state, now, updated_by, ports.ours)
    ports.store.mark_ended(request.ref, ended)
    return ended


def reason_limit(request: Request) -> int:
    """The longest reason whose summary still fits CodePipeline's 512 characters, however the quorum is made up.

    The summary names every approver of the outcome (`Approved by a@x, b@y via codereflex: ...`),
    so the longest `quorum` addresses bound the prefix. The form's maxlength is this limit too.
    """
    longest = sorted(request.approvers, key=len, reverse=True)[: max(request.quorum, 1)]
    prefix = f"{APPROVED} by {', '.join(longest)} via codereflex: "
    return max(SUMMARY_LIMIT - len(prefix), 0)


def not_found() -> Result:
    return Result(Refused("not-found"), (Line("Approval page not found", level="info"),), (Count("NotFound"),))


def _checked(token: str, now: datetime, ports: Ports, form: Form | None = None) -> tuple[Link, Request] | Result:
    """Steps 1-3: the link, the form token (POST), the request and the approver's right to answer it."""
    fields: dict[str, object] = {"link_id": link_id(token)}
    try:
        link = ports.links.read(token, now)
    except LinkRefused as refused:
        # The log names the exact reason; the visitor only learns invalid or expired.
        reason: RefusalReason = "expired-link" if refused.reason == "expired" else "invalid-link"
        return _refused(reason, {**fields, "why": refused.reason})
    if form is not None and not ports.links.form_ok(token, form.form):
        return _refused("bad-form", fields)
    request = ports.store.get(link.ref)
    fields["request"] = link.ref.key
    if request is None:
        return _refused("unknown-request", fields)
    if link.approver not in request.approvers:
        return _refused("not-approver", fields)
    if form is not None and request.conflicted(link.approver):
        commits = ", ".join(r.revision_id[:12] for r in request.revisions if r.author_email)
        return _refused("author", fields, detail=f"Source changes: {commits}." if commits else "")
    return link, request


def _refused(reason: RefusalReason, fields: Mapping[str, object], detail: str = "") -> Result:
    line = Line("Approval page refused", {**fields, "reason": reason}, level="warning")
    return Result(Refused(reason, detail), (line,), (Count("Refused"), Count(f"Refused.{reason}")))


def _again(path: str, fields: Mapping[str, object], message: str, why: str, updated_by: str | None = None) -> Result:
    extra = {"updated_by": updated_by} if updated_by else {}
    return Result(SeeOther(path), (Line(message, {**fields, "why": why, **extra}),), (Count("Repeated"),))
