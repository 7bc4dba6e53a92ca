"""Open one request per manual approval, mail each approver their own link once, and close it out once.

Three triggers (`read`): the approval action's state change (STARTED opens, a terminal state
closes out), CodePipeline's SNS message (opens: the execution is the one its token belongs to)
and the 5-minute sweep (`sweep.py`). Both opening paths converge on `store.open`, so whichever
arrives first, and however often, there is one request; every message goes out under its own
once-key, so a duplicate delivery or a retry after a crash sends nothing twice. The pipeline's
token is read only to learn that the action waits on this execution: never stored, logged or mailed.
"""

from __future__ import annotations

from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from codereflex.approvals.links import link_expiry
from codereflex.approvals.model import ActionRef, Request, ending
from codereflex.events.codepipeline import ActionExecutionStateChangeEvent, ApprovalNotification
from codereflex.events.reading import Fields
from codereflex.events.scheduled import SCHEDULED_EVENT, ScheduledEvent

from .ports import Options, Ports
from .steps import Outcomes, Result, close_out, send
from .sweep import sweep

Event = ActionExecutionStateChangeEvent | ApprovalNotification | ScheduledEvent


def read(event: Any) -> Event:
    """The function's three triggers: an SNS delivery, the sweep's schedule, or the action's state change."""
    raw = Fields(event, "")
    if raw.value("Records") is not None:
        return ApprovalNotification.read(event)
    if raw.value("detail-type") == SCHEDULED_EVENT:
        return ScheduledEvent.read(event)
    return ActionExecutionStateChangeEvent.read(event)


def handle(event: Event, ports: Ports, options: Options) -> Result:
    """Open, close out or sweep, as the event says; anything not a decided success says why."""
    now = ports.clock()
    if isinstance(event, ScheduledEvent):
        return sweep(ports, options, now)
    if isinstance(event, ApprovalNotification):
        return on_notification(event, ports, options, now)
    return on_action(event, ports, options, now)


def in_scope(pipeline: str, options: Options) -> bool:
    return fnmatchcase(pipeline, options.pipelines)


def on_notification(message: ApprovalNotification, ports: Ports, options: Options, now: datetime) -> Result:
    trigger = "notification"
    if not in_scope(message.pipeline, options):
        return Result(Outcomes.IGNORED, trigger, "pipeline outside ApprovalPipelines")
    execution = ports.pipelines.execution_for_token(message.pipeline, message.stage, message.action, message.token)
    if execution is None:
        # The token no longer waits (decided, expired or superseded): nothing to ask anyone.
        return Result(Outcomes.IGNORED, trigger, "the approval no longer waits on the execution of this message")
    ref = ActionRef(message.pipeline, message.stage, message.action, execution)
    return open_request(ref, ports, options, now, trigger=trigger, seen=(message.custom_data, message.external_link))


def on_action(event: ActionExecutionStateChangeEvent, ports: Ports, options: Options, now: datetime) -> Result:
    detail, trigger = event.detail, "action-event"
    if not detail.type.is_manual_approval:
        return Result(Outcomes.IGNORED, trigger, "not a manual approval action")
    if not in_scope(detail.pipeline, options):
        return Result(Outcomes.IGNORED, trigger, "pipeline outside ApprovalPipelines")
    ref = ActionRef(detail.pipeline, detail.stage, detail.action, detail.execution_id)
    if detail.state == "STARTED":
        if ports.pipelines.waiting_token(ref) is None:
            # Waiting on another execution (the previous one's token may still be there), or already over.
            return Result(Outcomes.IGNORED, trigger, "the approval does not wait on this execution", ref.key)
        return open_request(ref, ports, options, now, trigger=trigger)
    request = ports.store.get(ref)
    if request is None:
        return Result(Outcomes.IGNORED, trigger, "no request was opened for this approval", ref.key)
    # Who decided: proven by CodePipeline naming the updater, never inferred from our claimed outcome.
    updated_by = ports.pipelines.updated_by(ref) if detail.state in ("SUCCEEDED", "FAILED") else None
    return close_out(
        request, ending(request, detail.state, event.time, updated_by, ports.ours), ports, options, trigger
    )


def open_request(
    ref: ActionRef,
    ports: Ports,
    options: Options,
    now: datetime,
    *,
    trigger: str,
    seen: tuple[str | None, str | None] = (None, None),
) -> Result:
    """The one request for `ref` (made by whichever path comes first), then each approver's link once."""
    request = ports.store.get(ref)
    created = False
    if request is None:
        request, created = ports.store.open(new_request(ref, ports, options, now, seen))
    if request.state(now) != "waiting" or request.outcome is not None:
        return Result(Outcomes.DUPLICATE, trigger, f"the request is {request.state(now)}", ref.key)
    sent = send(request, "request", request.approvers, ports, options, now=now)
    outcome = Outcomes.OPENED if created or sent else Outcomes.DUPLICATE
    return Result(outcome, trigger, "" if created else "the request was already open", ref.key, sent)


def new_request(
    ref: ActionRef, ports: Ports, options: Options, now: datetime, seen: tuple[str | None, str | None]
) -> Request:
    details = ports.pipelines.action_details(ref)
    policy = ports.approvers.policy(ref.pipeline)  # a ConfigurationError names the pipeline: rejected, alarmed
    revisions, builds = ports.pipelines.execution_details(ref)
    expires_at = details.expires_at(now)
    custom_data, external_link = seen
    return Request(
        ref=ref,
        approvers=policy.approvers,
        quorum=policy.quorum,
        separate_duties=policy.separate_duties,
        expires_at=expires_at,
        link_expires_at=link_expiry(expires_at, options.link_hours, now),
        custom_data=details.custom_data or custom_data,
        external_link=details.external_link or external_link,
        revisions=revisions,
        builds=builds,
        created_at=now,
    )
