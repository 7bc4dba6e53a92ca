"""The sync plan: a subscription receives links only when filtered to exactly its own address."""

from __future__ import annotations

import json

from codereflex.approvals.subscriptions import PENDING, Subscription, admits, filter_policy, plan

ALICE, BOB = "alice@example.com", "bob@example.com"
ARN = "arn:aws:sns:us-east-1:123456789012:approval-mail:"


def sub(endpoint: str, policy: object = None, protocol: str = "email", scope: str | None = None) -> Subscription:
    text = json.dumps(policy) if policy is not None else None
    return Subscription(ARN + endpoint, protocol, endpoint, text, scope)


def test_only_a_filter_naming_exactly_one_approver_on_message_attributes_admits_one() -> None:
    assert admits(sub(ALICE, {"approver": [ALICE]})) == ALICE
    assert admits(sub(ALICE)) is None
    assert admits(sub(ALICE, {"approver": [ALICE, BOB]})) is None
    assert admits(sub(ALICE, {"approver": [ALICE], "kind": ["request"]})) is None
    assert admits(sub(ALICE, {"approver": [{"prefix": "a"}]})) is None
    assert admits(sub(ALICE, {"approver": [ALICE]}, scope="MessageBody")) is None
    assert admits(Subscription(ARN, "email", ALICE, "{not json")) is None
    assert json.loads(filter_policy(ALICE)) == {"approver": [ALICE]}


def test_the_plan_keeps_creates_and_reports_without_fixing() -> None:
    steps = plan(
        [ALICE, BOB, "carol@example.com"],
        [
            sub(ALICE, {"approver": [ALICE]}),
            sub("Bob@Example.com"),  # Bob's own, unfiltered
            sub("https://hooks.example.com/x", {"approver": [ALICE]}, protocol="https"),
            sub("old@example.com", {"approver": ["old@example.com"]}),
            Subscription(PENDING, "email", "carol@example.com"),
            Subscription(PENDING, "email", "eve@example.com"),
        ],
        fix=False,
    )
    assert [(s.action, s.address) for s in steps] == [
        ("keep", ALICE),
        ("problem", BOB),
        ("problem", "https://hooks.example.com/x"),
        ("unused", "old@example.com"),
        ("pending", "carol@example.com"),
        ("problem", "eve@example.com"),
    ]


def test_with_fix_an_approvers_own_subscription_is_refiltered_and_others_removed() -> None:
    steps = plan([ALICE, BOB], [sub("Bob@Example.com"), sub("eve@example.com", {"approver": [ALICE]})], fix=True)
    assert [(s.action, s.address) for s in steps] == [
        ("set-filter", BOB),
        ("remove", "eve@example.com"),
        ("create", ALICE),
    ]
