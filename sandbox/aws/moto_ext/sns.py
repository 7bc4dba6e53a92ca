"""Mailboxes for SNS email subscriptions: what each address would receive, filter policies honoured.

moto accepts email subscriptions and drops what it would send them. The sandbox wraps moto's
Subscription.publish so that a message an email or email-json subscription accepts (moto's own
filter-policy check runs first) is kept, per address, on moto's SNS backend (`mock_aws` resets it).
Subscriptions count as confirmed: the sandbox has no mail server to click the confirmation link.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.sns.models import SNSBackend, Subscription, sns_backends

DEFAULT_REGION = "us-east-1"
EMAIL_PROTOCOLS = frozenset({"email", "email-json"})
_MAIL = "_sandbox_mailboxes"
_LOCK = threading.Lock()
_PATCHED = "_sandbox_mail_patched"


@dataclass(frozen=True)
class Mail:
    """One message as an email subscriber receives it."""

    address: str
    topic_arn: str
    subscription_arn: str
    message_id: str
    subject: str | None
    message: str
    attributes: dict[str, str]
    received: datetime


def _mailboxes(backend: SNSBackend) -> list[Mail]:
    return cast(list[Mail], backend.__dict__.setdefault(_MAIL, []))


def patch() -> None:
    """Wrap moto's Subscription.publish once (idempotent)."""
    with _LOCK:
        if getattr(Subscription, _PATCHED, False):
            return
        original = Subscription.publish

        def publish(self: Subscription, message: str, message_id: str, *args: Any, **kwargs: Any) -> None:
            original(self, message, message_id, *args, **kwargs)
            if self.protocol not in EMAIL_PROTOCOLS:
                return
            attributes = kwargs.get("message_attributes") or {}
            if kwargs.get("message_structure") == "json":
                # A per-protocol message: the email subscriber reads its own key, or the default.
                variants = json.loads(message)
                message = str(variants.get(self.protocol, variants["default"]))
            matcher = self._filter_policy_matcher
            if matcher is not None and not matcher.matches(attributes, message):
                return
            mail = Mail(
                address=self.endpoint,
                topic_arn=self.topic.arn,
                subscription_arn=self.arn,
                message_id=message_id,
                subject=kwargs.get("subject"),
                message=message,
                attributes={name: str(value.get("Value")) for name, value in attributes.items()},
                received=datetime.now(UTC),
            )
            _mailboxes(self.topic.sns_backend).append(mail)

        Subscription.publish = publish  # type: ignore[method-assign]
        setattr(Subscription, _PATCHED, True)


def mailbox(address: str, *, account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> list[Mail]:
    """Every message an email subscription of `address` accepted, oldest first (addresses compare case-blind)."""
    patch()
    backend = sns_backends[account_id][region]
    return [mail for mail in _mailboxes(backend) if mail.address.lower() == address.lower()]
