"""The approval request model: what a visitor is told, when an answer decides, what CodePipeline records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from codereflex.approvals.model import (
    APPROVED,
    REJECTED,
    ActionRef,
    Answer,
    Ended,
    EndedHow,
    Outcome,
    Request,
    Revision,
    approval_summary,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
REF = ActionRef("payments", "Prod", "Approve", "exec-1")


def request(**changes: Any) -> Request:
    base = Request(
        ref=REF,
        approvers=("alice@example.com", "bob@example.com", "carol@example.com"),
        quorum=2,
        separate_duties=True,
        expires_at=NOW + timedelta(days=7),
        link_expires_at=NOW + timedelta(days=7),
        custom_data=None,
        external_link=None,
        revisions=(Revision("Source", "c0ffee", "Fix rounding", "", "Alice@Example.com", "Alice"),),
        builds=(),
        created_at=NOW,
    )
    return base._replace(**changes)


def answer(who: str, status: str = APPROVED, minutes: int = 1, reason: str = "") -> Answer:
    return Answer(who, APPROVED if status == APPROVED else REJECTED, reason, NOW + timedelta(minutes=minutes))


def test_the_key_names_pipeline_stage_action_and_execution() -> None:
    assert REF.key == "payments/Prod/Approve/exec-1"


def test_a_quorum_decides_only_at_its_last_approval_and_any_rejection_decides() -> None:
    first = answer("alice@example.com", minutes=1, reason="looks fine")
    second = answer("bob@example.com", minutes=2, reason="ship it")
    waiting = request()
    assert not waiting.decisive(first)
    one = request(answers={first.approver: first})
    assert not one.decisive(first)  # the same approval again counts once
    assert one.decisive(second)
    both = request(answers={first.approver: first, second.approver: second})
    assert both.decisive(second)  # already recorded
    assert both.outcome_for(second) == Outcome(
        APPROVED, ("alice@example.com", "bob@example.com"), "looks fine; ship it", second.at
    )
    no = answer("carol@example.com", REJECTED, reason="not on a Friday")
    assert one.decisive(no)
    assert one.outcome_for(no) == Outcome(REJECTED, ("carol@example.com",), "not on a Friday", no.at)
    assert one.approvals() == (first,)
    assert one.pending() == ("bob@example.com", "carol@example.com")


def test_the_state_says_how_it_ended_else_what_was_decided_else_expired_or_waiting() -> None:
    assert request().state(NOW) == "waiting"
    assert request().state(NOW + timedelta(days=7)) == "expired"
    decided = request(outcome=Outcome(REJECTED, ("bob@example.com",), "no", NOW))
    assert decided.state(NOW) == "rejected"
    assert decided.state(NOW + timedelta(days=8)) == "rejected"
    cases: list[tuple[EndedHow, str]] = [
        ("approved-here", "approved"),
        ("rejected-here", "rejected"),
        ("approved-elsewhere", "ended-elsewhere"),
        ("rejected-elsewhere", "ended-elsewhere"),
        ("abandoned", "ended-elsewhere"),
        ("expired", "expired"),
        ("superseded", "superseded"),
    ]
    for how, state in cases:
        assert request(ended=Ended(how, NOW)).state(NOW) == state


def test_separation_of_duties_matches_authors_in_any_case_and_only_when_asked_for() -> None:
    assert request().conflicted("alice@example.com")
    assert not request().conflicted("bob@example.com")
    assert not request(separate_duties=False).conflicted("alice@example.com")


def test_the_summary_names_who_decided_and_fits_put_approval_result() -> None:
    assert approval_summary(APPROVED, ("alice@example.com",), "tested\non staging") == (
        "Approved by alice@example.com via codereflex: tested on staging"
    )
    assert approval_summary(APPROVED, ("a@x.io", "b@y.io"), "") == "Approved by a@x.io, b@y.io via codereflex"
    long = approval_summary(REJECTED, ("bob@example.com",), "no " * 400)
    assert len(long) == 512
    assert long.startswith("Rejected by bob@example.com via codereflex: no no")
    assert (
        Outcome(REJECTED, ("bob@example.com",), "no", NOW).summary == "Rejected by bob@example.com via codereflex: no"
    )


def test_a_request_is_kept_thirty_days_after_its_action_expires() -> None:
    assert request().ttl == int((NOW + timedelta(days=37)).timestamp())
