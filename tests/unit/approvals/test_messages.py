"""Approval emails: subjects SNS accepts that name pipeline and stage; bodies that say what, who, where, until when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest

from codereflex.approvals.links import Keyring, Link, LinkSigner, link_url
from codereflex.approvals.messages import closeout_email, reminder_email, request_email
from codereflex.approvals.model import (
    APPROVED,
    REJECTED,
    ActionRef,
    Answer,
    BuildSummary,
    Ended,
    Outcome,
    Request,
    Revision,
)
from codereflex.signing import Signer

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
REF = ActionRef("payments", "Prod", "Approve", "0f6e1c55-1111-4b44-9d7a-8a1b2c3d4e5f")
ALICE, BOB = "alice@example.com", "bob@example.com"
KEY = b"approval-link-key-0123456789-abcdef"
LINKS = LinkSigner(Keyring(Signer(KEY)))
BASE = "https://abc.lambda-url.us-east-1.on.aws"


def request(**changes: Any) -> Request:
    base = Request(
        ref=REF,
        approvers=(ALICE, BOB),
        quorum=2,
        separate_duties=True,
        expires_at=NOW + timedelta(days=7),
        link_expires_at=NOW + timedelta(days=2, hours=3),
        custom_data="Release 4.2: check the change ticket first",
        external_link="https://tickets.example.com/CHG-42",
        revisions=(
            Revision("Source", "c0ffee1234567890", "Fix rounding\n\nLonger text", "https://console/c0ffee", BOB, "Bob"),
        ),
        builds=(BuildSummary("Unit", "Succeeded", "412 tests passed", "https://builds/1"),),
        created_at=NOW,
    )
    return base._replace(**changes)


def url(approver: str, req: Request | None = None) -> str:
    req = req or request()
    return link_url(BASE, LINKS.issue(Link(req.ref, approver, req.link_expires_at)))


def assert_valid_subject(subject: str) -> None:
    assert len(subject) <= 100
    assert all(" " <= ch <= "~" for ch in subject)


def test_the_request_email_says_what_changed_who_is_asked_the_link_and_the_expiry() -> None:
    subject, body = request_email(request(), ALICE, url(ALICE), NOW)
    assert subject == "Approval needed: payments / Prod"
    assert url(ALICE) in body
    assert url(BOB) not in body  # one approver's mail carries only their own link
    for expected in (
        "Execution:  0f6e1c55-1111-4b44-9d7a-8a1b2c3d4e5f",
        "Source: c0ffee123456 Fix rounding (by Bob <bob@example.com>)",
        "https://console/c0ffee",
        "Unit: Succeeded (412 tests passed)",
        "Release 4.2: check the change ticket first",
        "https://tickets.example.com/CHG-42",
        "Asked to approve: alice@example.com (you), bob@example.com.",
        "2 approvals are needed; any one rejection rejects.",
        "The author of a change above may not approve it.",
        "It works until 2026-12-03 15:00 UTC (in 2 days 3 hours)",
        "the approval itself expires 2026-12-08 12:00 UTC",
    ):
        assert expected in body


def test_a_reminder_says_how_long_is_left_and_who_has_answered() -> None:
    approved = Answer(BOB, APPROVED, "fine by me", NOW + timedelta(hours=1))
    req = request(answers=MappingProxyType({BOB: approved}))
    subject, body = reminder_email(req, ALICE, url(ALICE), NOW + timedelta(days=6, hours=23))
    assert subject == "Reminder, approval needed: payments / Prod"
    assert "it expires in 1 hour." in body
    assert "bob@example.com approved at 2026-12-01 13:00 UTC: fine by me" in body
    assert url(ALICE) in body


@pytest.mark.parametrize(
    ("pipeline", "stage"),
    [
        ("p" * 100, "Production-EU-West"),
        ("payments", "s" * 100),
        ("p" * 100, "s" * 100),
        ("zahlungsdienst-für-kunden-" * 4, "Produktion\u00e9\tEU"),
        ("emoji-\U0001f680-pipeline", "stage\nwith\nnewlines"),
    ],
)
def test_subjects_are_sns_safe_and_keep_pipeline_and_stage_visible(pipeline: str, stage: str) -> None:
    req = request(ref=REF._replace(pipeline=pipeline, stage=stage))
    for subject, _ in (
        request_email(req, ALICE, url(ALICE, req), NOW),
        reminder_email(req, ALICE, url(ALICE, req), NOW),
        closeout_email(req._replace(ended=Ended("expired", NOW)), ALICE, NOW),
    ):
        assert_valid_subject(subject)
        shown_pipeline, _, shown_stage = subject.partition(": ")[2].partition(" / ")
        assert shown_pipeline[:10] == "".join(ch if " " <= ch <= "~" else "?" for ch in pipeline)[:10]
        assert shown_stage[:5] == " ".join(stage.split())[:5].replace("\u00e9", "?")
    _, body = request_email(req, ALICE, url(ALICE, req), NOW)
    assert f"Pipeline:   {pipeline}" in body  # the body keeps the exact name


def test_the_close_out_says_who_decided_when_and_why() -> None:
    outcome = Outcome(APPROVED, (ALICE, BOB), "tested on staging; ship it", NOW + timedelta(hours=2), reported=True)
    decided = request(outcome=outcome, ended=Ended("approved-here", NOW + timedelta(hours=2)))
    subject, body = closeout_email(decided, BOB, NOW + timedelta(hours=2))
    assert subject == "Approved: payments / Prod"
    assert (
        "Approved by alice@example.com, bob@example.com at 2026-12-01 14:00 UTC via codereflex."
        " Reason: tested on staging; ship it"
    ) in body
    # Decided but the terminal event not yet in: the outcome says it.
    subject, body = closeout_email(request(outcome=outcome._replace(status=REJECTED, by=(BOB,))), ALICE, NOW)
    assert subject == "Rejected: payments / Prod"
    assert "Rejected by bob@example.com" in body


@pytest.mark.parametrize(
    ("how", "subject", "says"),
    [
        ("expired", "Expired: payments / Prod", "It expired at 2026-12-08 12:00 UTC without a decision."),
        ("superseded", "Superseded: payments / Prod", "A newer execution superseded this one"),
        ("approved-elsewhere", "Approved outside codereflex: payments / Prod", "approved outside codereflex"),
        ("rejected-elsewhere", "Rejected outside codereflex: payments / Prod", "rejected outside codereflex"),
        ("abandoned", "Ended: payments / Prod", "The execution ended (stopped or failed)"),
    ],
)
def test_the_close_out_says_how_an_undecided_approval_ended(how: Any, subject: str, says: str) -> None:
    shown_subject, body = closeout_email(request(ended=Ended(how, NOW + timedelta(days=7))), ALICE, NOW)
    assert shown_subject == subject
    assert says in body


def test_no_email_carries_anything_but_the_approvers_own_link() -> None:
    token = url(ALICE).rsplit("/", 1)[1]
    signature = token.rsplit(".", 1)[1]
    _, closeout = closeout_email(request(ended=Ended("expired", NOW)), ALICE, NOW)
    for text in (closeout, *request_email(request(), BOB, url(BOB), NOW)):
        assert signature not in text and token not in text
        assert LINKS.form_token(token) not in text
        assert KEY.decode() not in text


def test_text_others_wrote_loses_control_characters() -> None:
    answer = Answer(BOB, REJECTED, "no\x1b[31m \u202etxet desrever", NOW)
    _, body = reminder_email(request(answers=MappingProxyType({BOB: answer})), ALICE, url(ALICE), NOW)
    assert "\x1b" not in body and "\u202e" not in body
    assert "no[31m txet desrever" in body
