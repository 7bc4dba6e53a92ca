"""The plain-text emails approvers get: the request with their own link, a reminder, and the close-out.

Subjects are SNS subjects (printable ASCII, at most 100 characters) that keep both the pipeline's
and the stage's name visible however long either is (for a deployment hook's request, the
application's and the deployment group's); bodies keep the exact names. The pipeline's token is
in nothing here: only the approver's own signed link is.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from codereflex.approvals.model import APPROVED, Ended, EndedHow, Request
from codereflex.aws.sns import SUBJECT_LIMIT, email_safe_subject

Email = tuple[str, str]
# Control characters other than newline and tab (and Unicode's direction overrides, which can make
# a reason read backwards in a mail client) are dropped from text others wrote.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_ENDINGS = {
    "approved-here": "Approved",
    "rejected-here": "Rejected",
    "approved-elsewhere": "Approved outside codereflex",
    "rejected-elsewhere": "Rejected outside codereflex",
    "expired": "Expired",
    "superseded": "Superseded",
    "abandoned": "Ended",
}


def request_email(request: Request, approver: str, url: str, now: datetime) -> Email:
    subject = _subject("Approval needed", request)
    ref = request.ref
    if ref.kind == "deployment":
        intro = f"{_deployment(request)} is held at {ref.action}: a check was inconclusive and needs your decision."
    else:
        intro = f"Pipeline {ref.pipeline} is waiting for your approval at stage {ref.stage}."
    return subject, _ask(request, approver, url, now, intro)


def reminder_email(request: Request, approver: str, url: str, now: datetime) -> Email:
    subject = _subject("Reminder, approval needed", request)
    ref = request.ref
    if ref.kind == "deployment":
        intro = (
            f"Reminder: {_deployment(request)} is still held at {ref.action} for your decision;"
            f" the hook stops waiting {_left(request.expires_at, now)}."
        )
    else:
        intro = (
            f"Reminder: pipeline {ref.pipeline} is still waiting for your approval at stage"
            f" {ref.stage}; it expires {_left(request.expires_at, now)}."
        )
    return subject, _ask(request, approver, url, now, intro)


def closeout_email(request: Request, approver: str, now: datetime) -> Email:
    """What became of the approval: who decided, when and why; or that it expired or ended elsewhere."""
    ended = request.ended or _ended_from_outcome(request) or Ended("expired", request.expires_at)
    subject = _subject(_ENDINGS[ended.how], request)
    ref = request.ref
    if ref.kind == "deployment":
        closed = f"The approval of {_deployment(request)} at {ref.action} is closed."
    else:
        closed = f"The approval of pipeline {ref.pipeline} at stage {ref.stage} is closed."
    lines = [closed, ""]
    lines += _context(request)
    lines += ["", _what_happened(request, ended), ""]
    lines += _answers(request)
    lines += [f"You ({approver}) were one of the approvers asked. Nothing more is needed from you.", ""]
    return subject, "\n".join(lines).rstrip() + "\n"


def _ask(request: Request, approver: str, url: str, now: datetime, intro: str) -> str:
    deployment = request.ref.kind == "deployment"
    lines = [intro, ""]
    lines += _context(request)
    lines += ["", *(_checks(request) if deployment else _changes(request))]
    if request.custom_data:
        note = "Why a person is asked:" if deployment else "Note from the pipeline:"
        lines += [note, f"  {_clean(request.custom_data)}", ""]
    if request.external_link:
        more = "The hook's report" if deployment else "More about this approval"
        lines += [f"{more}: {_clean(request.external_link)}", ""]
    others = [a for a in request.approvers if a != approver]
    asked = ", ".join([f"{approver} (you)", *others])
    rule = (
        "One approval decides"
        if request.quorum == 1
        else f"{request.quorum} approvals are needed; any one rejection rejects"
    )
    lines += [f"Asked to approve: {asked}.", f"{rule}."]
    if request.separate_duties:
        lines.append("The author of a change above may not approve it.")
    lines += ["", *_answers(request)]
    if deployment:
        until = f"the hook stops waiting at {_when(request.expires_at)}, and then the deployment fails."
    else:
        until = f"the approval itself expires {_when(request.expires_at)}."
    lines += [
        "Review it, then approve or reject with a reason, on this page:",
        url,
        "",
        f"The link is yours alone: please do not forward it. It works until {_when(request.link_expires_at)}"
        f" ({_left(request.link_expires_at, now)}); {until}",
    ]
    return "\n".join(lines) + "\n"


def _deployment(request: Request) -> str:
    ref = request.ref
    return f"CodeDeploy deployment {ref.execution_id} of {ref.application} ({ref.stage})"


def _context(request: Request) -> list[str]:
    ref = request.ref
    if ref.kind == "deployment":
        return [
            f"  Application:       {ref.application}",
            f"  Deployment group:  {ref.stage}",
            f"  Hook:              {ref.action}",
            f"  Deployment:        {ref.execution_id}",
        ]
    return [
        f"  Pipeline:   {ref.pipeline}",
        f"  Stage:      {ref.stage}",
        f"  Action:     {ref.action}",
        f"  Execution:  {ref.execution_id}",
    ]


def _changes(request: Request) -> list[str]:
    lines = ["What changed:"]
    if not request.revisions:
        lines.append("  (CodePipeline named no source revisions for this execution)")
    for revision in request.revisions:
        summary = _clean(revision.summary).strip().splitlines()
        head = f"  - {revision.name}: {revision.revision_id[:12] or '(no revision id)'}"
        if summary:
            head += f" {summary[0][:200]}"
        email = f"<{revision.author_email}>" if revision.author_email else ""
        who = " ".join(part for part in (revision.author_name, email) if part)
        if who:
            head += f" (by {_clean(who)})"
        lines.append(head)
        if revision.url:
            lines.append(f"    {revision.url}")
    if request.builds:
        lines += ["", "Builds of this execution:", *_summaries(request)]
    return [*lines, ""]


def _checks(request: Request) -> list[str]:
    """A deployment hook's checks: each one's status and reason (one `builds` entry per check)."""
    return ["Checks of this hook:", *(_summaries(request) or ["  (the hook named no checks)"]), ""]


def _summaries(request: Request) -> list[str]:
    """Each `builds` entry (a pipeline's build, a hook's check): its status, its summary, its link."""
    lines = []
    for build in request.builds:
        detail = f" ({_clean(build.summary)[:200]})" if build.summary else ""
        lines.append(f"  - {build.action}: {build.status}{detail}")
        if build.url:
            lines.append(f"    {build.url}")
    return lines


def _answers(request: Request) -> list[str]:
    if not request.answers:
        return []
    lines = ["Answers so far:"]
    for answer in sorted(request.answers.values(), key=lambda a: a.at):
        reason = f": {_clean(answer.reason)}" if answer.reason else ""
        lines.append(f"  - {answer.approver} {answer.status.lower()} at {_when(answer.at)}{reason}")
    return [*lines, ""]


def _what_happened(request: Request, ended: Ended) -> str:
    outcome = request.outcome
    if ended.how in {"approved-here", "rejected-here"} and outcome is not None:
        verb = "Approved" if outcome.status == APPROVED else "Rejected"
        reason = f" Reason: {_clean(outcome.reason)}" if outcome.reason else ""
        text = f"{verb} by {', '.join(outcome.by)} at {_when(outcome.at)} via codereflex.{reason}"
        if request.ref.kind == "deployment":
            then = "the deployment goes on" if outcome.status == APPROVED else "the deployment fails"
            text += f"\nThe hook reports it to CodeDeploy: {then}."
        return text
    if request.ref.kind == "deployment":
        return {
            "expired": f"Nobody decided before the hook stopped waiting at {_when(ended.at)}; the deployment failed"
            " closed.",
            "abandoned": f"The deployment stopped at {_when(ended.at)} before anyone decided; nothing more is asked.",
        }.get(ended.how, f"The hook ended it at {_when(ended.at)}.")
    # Who CodePipeline says decided (an ARN, not a secret); never the approvers who answered here.
    who = f" by {_clean(ended.by)}" if ended.by else ""
    return {
        "approved-elsewhere": f"It was approved outside codereflex (the console or the API){who} at {_when(ended.at)}.",
        "rejected-elsewhere": f"It was rejected outside codereflex (the console or the API){who} at {_when(ended.at)}.",
        "expired": f"It expired at {_when(ended.at)} without a decision.",
        "superseded": f"A newer execution superseded this one at {_when(ended.at)}; the link no longer decides.",
        "abandoned": f"The execution ended (stopped or failed) at {_when(ended.at)} before a decision.",
    }.get(ended.how, f"It ended at {_when(ended.at)}.")


def _ended_from_outcome(request: Request) -> Ended | None:
    # Only an outcome reported as decided by codereflex says how it ended; a claim alone proves nothing,
    # except for a deployment, whose hook takes the claimed record as the decision.
    if request.outcome is None or not (request.outcome.reported or request.ref.kind == "deployment"):
        return None
    how: EndedHow = "approved-here" if request.outcome.status == APPROVED else "rejected-here"
    return Ended(how, request.outcome.at)


def _subject(prefix: str, request: Request) -> str:
    """`<prefix>: <pipeline> / <stage>` (a deployment: `<prefix>: deployment <application> / <group>`),
    shortening the longer name first so both stay visible."""
    ref = request.ref
    if ref.kind == "deployment":
        prefix, first = f"{prefix}: deployment", ref.application
    else:
        prefix, first = f"{prefix}:", ref.pipeline
    pipeline, stage = (email_safe_subject(name) for name in (first, ref.stage))
    room = SUBJECT_LIMIT - len(f"{prefix}  / ")
    if len(pipeline) + len(stage) > room:
        half = room // 2
        if len(stage) <= half:
            pipeline = _cut(pipeline, room - len(stage))
        elif len(pipeline) <= half:
            stage = _cut(stage, room - len(pipeline))
        else:
            pipeline, stage = _cut(pipeline, half), _cut(stage, room - half)
    return email_safe_subject(f"{prefix} {pipeline} / {stage}")


def _cut(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 3] + "..."


def _clean(text: str) -> str:
    return _UNPRINTABLE.sub("", text)


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _left(at: datetime, now: datetime) -> str:
    seconds = int((at - now).total_seconds())
    if seconds <= 0:
        return "now"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} day{'s' * (days != 1)}"] if days else []
    if hours:
        parts.append(f"{hours} hour{'s' * (hours != 1)}")
    if not days and minutes:
        parts.append(f"{minutes} minute{'s' * (minutes != 1)}")
    return "in " + " ".join(parts or ["less than a minute"])
