"""The approvers' mail: one message per approver and kind, each sent once, each request with its own link.

Both askers use it: the approval requests function (a pipeline's manual approval) and the deployment
hooks (an inconclusive check). A message goes on the mail topic with an `approver` attribute, which
each approver's email subscription filters on, so nobody receives another's link.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Literal, Protocol

from codereflex.approvals.links import Link, LinkSigner, link_url
from codereflex.approvals.messages import closeout_email, reminder_email, request_email
from codereflex.approvals.model import Request
from codereflex.ports import Once

Kind = Literal["request", "reminder", "closeout"]


class Publisher(Protocol):
    def publish(self, subject: str, body: str, attributes: Mapping[str, str]) -> str: ...


class Mailer:
    """Sends a request's messages; `links` is called only when a message carries a link (a close-out has none)."""

    def __init__(self, links: Callable[[], LinkSigner], page_url: str, mail: Publisher, once: Once) -> None:
        self._links, self._page_url, self._mail, self._once = links, page_url, mail, once

    def send(self, request: Request, kind: Kind, recipients: tuple[str, ...], *, now: datetime) -> int:
        """One message per recipient, each under its own once-key; returns how many went out now."""
        sent = 0
        for approver in recipients:

            def publish(approver: str = approver) -> str:
                if kind == "closeout":
                    subject, body = closeout_email(request, approver, now)
                else:
                    token = self._links().issue(Link(request.ref, approver, request.link_expires_at))
                    url = link_url(self._page_url, token)
                    compose = request_email if kind == "request" else reminder_email
                    subject, body = compose(request, approver, url, now)
                return self._mail.publish(subject, body, {"approver": approver, "kind": kind})

            _, ran = self._once.run_once(f"approval-mail:{request.ref.key}:{approver}:{kind}", publish)
            sent += ran
        return sent
