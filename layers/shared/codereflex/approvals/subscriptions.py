"""What `codereflex approvers sync` does to the mail topic: one filtered email subscription per approver.

Every message on the topic carries the attribute `approver`; a subscription receives a link only
when its filter policy is exactly `{"approver": ["<its own address>"]}` (on message attributes).
Anything else on the topic (no filter, a filter on something else, a filter naming somebody else,
a non-email endpoint) would receive links meant for others: it is reported, and removed (or, for
an approver's own address, given the right filter) only when asked to fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Literal, NamedTuple

PENDING = "PendingConfirmation"  # the SubscriptionArn SNS lists for an email not confirmed yet

Action = Literal["keep", "create", "pending", "set-filter", "remove", "problem", "unused"]


class Subscription(NamedTuple):
    arn: str
    protocol: str
    endpoint: str
    filter_policy: str | None = None
    filter_scope: str | None = None

    @property
    def pending(self) -> bool:
        return not self.arn.startswith("arn:")


class Step(NamedTuple):
    action: Action
    address: str  # the approver, or the subscription's endpoint
    arn: str | None
    note: str


def filter_policy(address: str) -> str:
    """The filter policy of `address`'s subscription (JSON, as SNS takes it)."""
    return json.dumps({"approver": [address]})


def admits(subscription: Subscription) -> str | None:
    """The one approver whose messages the subscription's filter lets through, or None (everyone's, or
    several people's, or decided by something else)."""
    if subscription.filter_policy is None or (subscription.filter_scope or "MessageAttributes") != "MessageAttributes":
        return None
    try:
        policy = json.loads(subscription.filter_policy)
    except ValueError:
        return None
    if not isinstance(policy, dict) or set(policy) != {"approver"}:
        return None
    values = policy["approver"]
    if isinstance(values, list) and len(values) == 1 and isinstance(values[0], str):
        return values[0]
    return None


def plan(approvers: Iterable[str], subscriptions: Iterable[Subscription], *, fix: bool) -> list[Step]:
    """The steps that make the topic hold one filtered email subscription per approver (`approvers` are
    checked, lowercased addresses); with `fix`, what would leak links is repaired instead of reported."""
    wanted = list(dict.fromkeys(approvers))
    covered: set[str] = set()
    steps: list[Step] = []
    for sub in subscriptions:
        address = sub.endpoint.lower()
        email = sub.protocol == "email"
        if sub.pending:
            if email and address in wanted:
                covered.add(address)
                note = "waiting for the confirmation link in that mailbox; run sync again once confirmed"
                steps.append(Step("pending", address, None, note))
            else:
                note = "a pending subscription of no approver: it cannot be removed until confirmed or dropped by SNS"
                steps.append(Step("problem", sub.endpoint, None, note))
            continue
        admitted = admits(sub)
        if email and admitted == address:
            if address in wanted:
                covered.add(address)
                steps.append(Step("keep", address, sub.arn, "subscribed, filtered to this address"))
            else:
                steps.append(Step("unused", address, sub.arn, "not an approver now: receives nothing"))
            continue
        if admitted is None:
            leak = "no filter policy on the approver attribute: it would receive every approver's links"
        else:
            leak = f"filtered to {admitted}, so {admitted}'s links would reach {sub.protocol}:{sub.endpoint}"
        if email and address in wanted:
            covered.add(address)
            steps.append(Step("set-filter" if fix else "problem", address, sub.arn, leak))
        else:
            steps.append(Step("remove" if fix else "problem", sub.endpoint, sub.arn, leak))
    steps += [
        Step("create", address, None, "subscribed; SNS sends the confirmation email")
        for address in wanted
        if address not in covered
    ]
    return steps
