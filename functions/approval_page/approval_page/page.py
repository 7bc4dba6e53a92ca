"""The approval page as HTML: what is being approved, who answered, the form, and every refusal as a sentence.

No JavaScript and nothing fetched from elsewhere: one inline stylesheet, allowed by its hash in the
Content-Security-Policy (`HEADERS`), so the page works on a locked-down phone and nothing injected
into it can run. Every value is escaped here, where it meets the markup, and only https links are
ever made links (a `javascript:` or `http:` link from customData stays text).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from html import escape
from types import MappingProxyType
from typing import Final

from codereflex.approvals.model import APPROVED, Request

from .logic import Refused, Shown, reason_limit

STYLE: Final = (
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f24;"
    "background:#f4f5f7}main{max-width:40rem;margin:0 auto;padding:1rem;background:#fff;min-height:100vh;"
    "box-sizing:border-box}h1{font-size:1.35rem;line-height:1.3;margin:.2rem 0 1rem}h2{font-size:1.05rem;"
    "margin:1.4rem 0 .4rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:0}"
    "dt{color:#57606a}dd{margin:0;overflow-wrap:anywhere}ul{padding-left:1.2rem;margin:.2rem 0}"
    "li{margin:.2rem 0;overflow-wrap:anywhere}code{font:.9em ui-monospace,monospace}"
    ".note{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;padding:.5rem;border-radius:4px}"
    ".state{padding:.7rem;border-radius:6px;background:#f6f8fa;border-left:4px solid #8c959f}"
    ".approved{border-color:#1a7f37}.rejected,.refused{border-color:#cf222e}label{display:block;font-weight:600;"
    "margin:1rem 0 .3rem}textarea{width:100%;box-sizing:border-box;font:inherit;min-height:5rem;padding:.4rem}"
    ".actions{display:flex;gap:.7rem;margin-top:.8rem;flex-wrap:wrap}button{flex:1 1 8rem;font:inherit;"
    "font-weight:600;padding:.75rem 1rem;border-radius:6px;border:1px solid #1b1f2426;cursor:pointer}"
    ".approve{background:#1f883d;color:#fff}.reject{background:#fff;color:#cf222e;border-color:#cf222e}"
    ".muted{color:#57606a;font-size:.9rem}"
)
_STYLE_HASH: Final = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()

# On every response, refusals and 404s included (the design's page rules).
HEADERS: Final = MappingProxyType(
    {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }
)

# What each refusal tells the visitor. A link that fails any check of its signature is simply "not
# valid": saying which part was wrong would help someone forging one.
_REFUSALS: Final = MappingProxyType(
    {
        "invalid-link": ("This link is not valid", "Open the link from your approval email exactly as it was sent."),
        "expired-link": (
            "This link has expired",
            "Approval links work until the approval itself or the link's own lifetime ends. Nothing was decided.",
        ),
        "bad-form": (
            "This form could not be accepted",
            "It was not sent from this approval's page. Open the link from your email again and decide there.",
        ),
        "unknown-request": (
            "No approval request for this link",
            "codereflex has no record of this approval (it may be older than 30 days). Nothing was decided.",
        ),
        "not-approver": (
            "You are not an approver of this request",
            "This approval's approvers changed after the link was sent. Nothing was decided.",
        ),
        "author": (
            "You cannot approve your own change",
            "This pipeline requires someone other than the author of its source changes to approve them.",
        ),
        "bad-decision": ("Choose Approve or Reject", "The form did not say which. Nothing was decided."),
        "reason-too-long": ("The reason is too long", "Shorten it and try again. Nothing was decided."),
        "not-found": ("Page not found", "Approval links look like /a/… and come in your approval email."),
        "unavailable": (
            "Something went wrong",
            "Nothing was decided. Try again in a minute; if it keeps happening, tell the pipeline's owners.",
        ),
    }
)


def refusal(refused: Refused) -> str:
    title, text = _REFUSALS[refused.reason]
    extra = f"<p>{escape(refused.detail)}</p>" if refused.detail else ""
    return _document(title, f'<div class="state refused"><h1>{escape(title)}</h1><p>{escape(text)}</p>{extra}</div>')


def approval(shown: Shown) -> str:
    """The request as `shown.approver` sees it: its state (or the form), then the context."""
    request, now = shown.request, shown.now
    ref = request.ref
    deployment = ref.kind == "deployment"
    title = f"{ref.action} of {ref.execution_id}" if deployment else f"{ref.action} in {ref.pipeline}"
    waiting = request.state(now) == "waiting"
    asked = "What is being approved" if waiting else "What was asked"
    parts = [f"<h1>{escape(_heading(shown))}</h1>", _state(shown), f"<h2>{asked}</h2>"]
    if deployment:
        rows = [
            ("Application", escape(ref.application)),
            ("Deployment group", escape(ref.stage)),
            ("Hook", escape(ref.action)),
            ("Deployment", f"<code>{escape(ref.execution_id)}</code>"),
        ]
    else:
        rows = [
            ("Pipeline", escape(ref.pipeline)),
            ("Stage", escape(ref.stage)),
            ("Action", escape(ref.action)),
            ("Execution", f"<code>{escape(ref.execution_id)}</code>"),
        ]
    if waiting:
        rows.append(("Expires", escape(_expiry(request.expires_at, now))))
    parts.append(_definitions(rows))
    parts.extend(_checks(request) if deployment else _changes(request))
    parts.append(f"<h2>Approvers ({_needed(request)})</h2><ul>")
    parts.extend(f"<li>{_approver_line(request, approver, shown.approver)}</li>" for approver in request.approvers)
    parts.append("</ul>")
    if shown.form_token is not None:  # after the context: read what you approve, then decide
        parts.append(_form(shown))
    return _document(title, "".join(parts))


def _changes(request: Request) -> list[str]:
    """The source revisions, the execution's builds and what the pipeline says about the approval."""
    parts = []
    if request.revisions:
        parts.append("<h2>Source changes</h2><ul>")
        for revision in request.revisions:
            commit = f"<code>{escape(revision.revision_id[:12])}</code>"
            author = revision.author_name or revision.author_email
            by = f" by {escape(author)}" if author else ""
            if revision.author_name and revision.author_email:
                by += f" &lt;{escape(revision.author_email)}&gt;"
            summary = f" \u2014 {escape(revision.summary)}" if revision.summary else ""
            parts.append(f"<li>{escape(revision.name)}: {_link(revision.url, commit)}{summary}{by}</li>")
        parts.append("</ul>")
    return [*parts, *_summaries("Builds of this execution", request), *_notes("From the pipeline", "Review", request)]


def _checks(request: Request) -> list[str]:
    """A deployment hook's checks (one per `builds` entry) and why a person is asked."""
    return [*_summaries("Checks of this hook", request), *_notes("Why a person is asked", "Report", request)]


def _summaries(heading: str, request: Request) -> list[str]:
    """Each `builds` entry (a pipeline's build, a hook's check) with its status and summary, under `heading`."""
    if not request.builds:
        return []
    parts = [f"<h2>{heading}</h2><ul>"]
    for build in request.builds:
        summary = f": {escape(build.summary)}" if build.summary else ""
        parts.append(f"<li>{_link(build.url, escape(build.action))} {escape(build.status)}{summary}</li>")
    return [*parts, "</ul>"]


def _notes(heading: str, label: str, request: Request) -> list[str]:
    """The request's note (CustomData, or why a person is asked) and its link, under `heading`."""
    if not (request.custom_data or request.external_link):
        return []
    parts = [f"<h2>{heading}</h2>"]
    if request.custom_data:
        parts.append(f'<p class="note">{escape(request.custom_data)}</p>')
    if request.external_link:
        parts.append(f"<p>{label}: {_link(request.external_link, escape(request.external_link))}</p>")
    return parts


def _heading(shown: Shown) -> str:
    ref = shown.request.ref
    state = shown.request.state(shown.now)
    if ref.kind == "deployment":
        what = f"deployment {ref.execution_id} of {ref.application} ({ref.stage}) at {ref.action}"
        return f"Approve {what}?" if state == "waiting" else f"Approval of {what}"
    where = f"\u201c{ref.action}\u201d in {ref.pipeline} ({ref.stage})"
    return f"Approve {where}?" if state == "waiting" else f"Approval {where}"


def _state(shown: Shown) -> str:  # noqa: PLR0911 - one sentence per state
    request, now = shown.request, shown.now
    state = request.state(now)
    outcome, ended = request.outcome, request.ended
    if request.ref.kind == "deployment" and state != "waiting":
        return _deployment_state(request, now)
    if state in ("approved", "rejected") and outcome is not None:
        verb = "Approved" if state == "approved" else "Rejected"
        reason = f" Reason: {escape(outcome.reason)}" if outcome.reason else ""
        pending = "" if outcome.reported else " (being recorded in CodePipeline)"
        return _box(
            state, f"{verb} by {escape(', '.join(outcome.by))} at {_time(outcome.at)}.{reason}{escape(pending)}"
        )
    if state == "expired":
        return _box("expired", f"This approval expired at {_time(request.expires_at)}. Nothing was decided here.")
    if state == "superseded":
        return _box("superseded", "A newer execution of the pipeline superseded this one; nothing is waiting here.")
    if state == "ended-elsewhere" and ended is not None:
        how = {
            "approved-elsewhere": "approved outside codereflex",
            "rejected-elsewhere": "rejected outside codereflex",
        }.get(ended.how, "ended outside codereflex (the execution stopped)")
        who = f" by {escape(ended.by)}" if ended.by else ""
        late = " The answer given here came too late to decide it." if outcome is not None else ""
        return _box("ended", f"This approval was {how}{who} at {_time(ended.at)}.{late}")
    if state in ("approved", "rejected") and ended is not None:  # ended here, outcome not kept
        return _box(state, f"This approval was {state} at {_time(ended.at)}.")
    mine = request.answers.get(shown.approver)
    given = len(request.approvals())
    waiting = f"Waiting for more approvals ({given} of {request.quorum})." if given else "Waiting for approval."
    left = escape(_expiry(request.expires_at, now))
    if mine is not None:
        return _box("waiting", f"You approved at {_time(mine.at)}. {waiting} {left}.")
    if request.conflicted(shown.approver):
        return _box(
            "refused", f"{waiting} You authored a source change of this execution, so another approver must decide."
        )
    return _box("waiting", f"{waiting} {left}.")


def _deployment_state(request: Request, now: datetime) -> str:
    """What became of a deployment hook's request: the hook, not CodePipeline, reports and ends it."""
    state, outcome, ended = request.state(now), request.outcome, request.ended
    if state in ("approved", "rejected") and outcome is not None:
        verb = "Approved" if state == "approved" else "Rejected"
        reason = f" Reason: {escape(outcome.reason.rstrip('.'))}." if outcome.reason else ""
        then = "the deployment goes on" if state == "approved" else "the deployment fails"
        return _box(
            state,
            f"{verb} by {escape(', '.join(outcome.by))} at {_time(outcome.at)}.{reason}"
            f" The hook reports it to CodeDeploy: {then}.",
        )
    if state == "expired":
        at = ended.at if ended is not None else request.expires_at
        return _box(
            "expired",
            f"The hook stopped waiting at {_time(at)}; the deployment failed closed. Nothing was decided here.",
        )
    if ended is not None and ended.how == "abandoned":
        return _box(
            "ended", f"The deployment stopped at {_time(ended.at)} before anyone decided; the hook no longer waits."
        )
    at = ended.at if ended is not None else request.expires_at
    return _box("ended", f"The hook ended this request at {_time(at)}; nothing is waiting here.")


def _form(shown: Shown) -> str:
    limit = reason_limit(shown.request)
    kept = "in codereflex's record of this deployment" if shown.request.ref.kind == "deployment" else "in CodePipeline"
    return (
        f'<form method="post" action="{escape(shown.action_path)}">'
        f'<input type="hidden" name="form" value="{escape(shown.form_token or "")}">'
        "<h2>Your decision</h2>"
        f'<label for="reason">Reason (recorded {kept} with your address)</label>'
        f'<textarea id="reason" name="reason" maxlength="{limit}"></textarea>'
        '<div class="actions"><button class="approve" type="submit" name="decision" value="approve">Approve</button>'
        '<button class="reject" type="submit" name="decision" value="reject">Reject</button></div>'
        f'<p class="muted">Signed in as {escape(shown.approver)} by this link, which is yours alone.</p></form>'
    )


def _approver_line(request: Request, approver: str, viewer: str) -> str:
    who = escape(approver) + (" (you)" if approver == viewer else "")
    answer = request.answers.get(approver)
    if answer is None:
        return f"{who}: not answered"
    verb = "approved" if answer.status == APPROVED else "rejected"
    reason = f": {escape(answer.reason)}" if answer.reason else ""
    return f"{who}: {verb} at {_time(answer.at)}{reason}"


def _needed(request: Request) -> str:
    asked = len(request.approvers)
    return f"any {request.quorum} of {asked}" if request.quorum > 1 else ("any one" if asked > 1 else "one")


def _link(url: str | None, text: str) -> str:
    """`text` (already escaped) as a link only to an https URL; anything else stays text."""
    if url and url.lower().startswith("https://"):
        return f'<a href="{escape(url)}" rel="noreferrer noopener">{text}</a>'
    return text


def _definitions(rows: Iterable[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{escape(name)}</dt><dd>{value}</dd>" for name, value in rows) + "</dl>"


def _box(kind: str, text: str) -> str:
    return f'<div class="state {kind}"><p>{text}</p></div>'


def _time(when: datetime) -> str:
    return escape(when.strftime("%Y-%m-%d %H:%M UTC"))


def _expiry(expires_at: datetime, now: datetime) -> str:
    left = expires_at - now
    if left <= timedelta(0):
        return f"expired at {expires_at:%Y-%m-%d %H:%M} UTC"
    minutes = int(left.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    text = f"{days} d {hours} h" if days else (f"{hours} h {minutes} min" if hours else f"{minutes} min")
    return f"{text} left (until {expires_at:%Y-%m-%d %H:%M} UTC)"


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="referrer" content="no-referrer"><title>{escape(title)} · codereflex</title>'
        f"<style>{STYLE}</style></head><body><main>{body}</main></body></html>"
    )
