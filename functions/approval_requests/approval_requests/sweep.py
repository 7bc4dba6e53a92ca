"""The 5-minute sweep: decisions the page claimed but could not report, reminders, and expiries no event announced."""

from __future__ import annotations

from datetime import datetime, timedelta

from codereflex.approvals.model import Ended, Request
from codereflex.errors import PermanentError

from .ports import Options, Ports
from .steps import Outcomes, Result, close_out, finish, send

# A claim this old is from a page invocation that has ended (the page's timeout is far shorter: a
# contract test keeps it so), so reporting it now cannot race the page that claimed it.
UNREPORTED_AFTER = timedelta(seconds=120)


def sweep(ports: Ports, options: Options, now: datetime) -> Result:
    """Everything time decides; one request's permanent failure (a deleted pipeline) does not stop the rest.

    A deployment hook's request is never touched: its hook owns its whole life (it mails, polls the
    record, reports to CodeDeploy and ends it), and everything here would ask CodePipeline about it.
    """
    counts = {"finished": 0, "reminded": 0, "expired": 0, "failed": 0}
    sent = 0
    for request in ports.store.unreported(now - UNREPORTED_AFTER):
        if request.outcome is None or request.ref.kind == "deployment":
            continue
        try:
            decided, done = finish(request, request.outcome, ports, options, now)
            counts["finished"] += decided
            sent += done
        except PermanentError:
            counts["failed"] += 1
    for request in ports.store.open_requests():
        if request.ref.kind == "deployment":
            continue
        try:
            if now >= request.expires_at:
                done = expire(request, ports, options, now)
                counts["expired"] += done > 0
            else:
                done = remind(request, ports, options, now)
                counts["reminded"] += done > 0
            sent += done
        except PermanentError:
            counts["failed"] += 1
    return Result(Outcomes.SWEPT, "schedule", sent=sent, swept=counts)


def expire(request: Request, ports: Ports, options: Options, now: datetime) -> int:
    """Close out an approval past its expiry once CodePipeline no longer waits on it (its FAILED event may be lost)."""
    if request.ended is not None or request.closed_out or ports.pipelines.waiting_token(request.ref) is not None:
        return 0
    return close_out(request, Ended("expired", request.expires_at), ports, options, "schedule").sent


def remind(request: Request, ports: Ports, options: Options, now: datetime) -> int:
    """Remind those who have not answered, once, `reminder_minutes` before their link (or the action) expires."""
    due = request.link_expires_at - timedelta(minutes=options.reminder_minutes)
    waiting = request.state(now) == "waiting" and request.outcome is None and now < request.link_expires_at
    if not options.reminder_minutes or request.reminded or not waiting or now < due:
        return 0
    pending = request.pending()
    if not pending or ports.pipelines.waiting_token(request.ref) is None:
        return 0
    sent = send(request, "reminder", pending, ports, options, now=now)
    ports.store.mark_reminded(request.ref)
    return sent
