"""The hook's side of asking a person: only a decision the asked approvers could make counts, and giving up
loses to a decision claimed a moment before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from codereflex.approvals.model import ActionRef, Ended, Outcome, Request
from codereflex.validation.semantics import CheckResult, Counts, HookVerdict
from codereflex.validation.spec import People
from deploy_hooks import people

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
REF = ActionRef.deployment_hook("orders", "prod", "BeforeAllowTraffic", "d-ABC")
WHO = People(("alice@example.com", "bob@example.com"), quorum=2, wait_minutes=15)
ASKED = HookVerdict(
    "Failed",
    "no datapoints; a person decides (onInconclusive person)",
    "errors",
    (CheckResult("errors", "inconclusive", "no datapoints (check errors)", Counts(), None, "person"),),
    (),
    ("errors",),
)


def request(**changes: Any) -> Request:
    asked = people.question(REF, WHO, ASKED, NOW.timestamp(), (NOW + timedelta(minutes=15)).timestamp())
    return asked._replace(**changes)


def outcome(status: str, *by: str) -> Outcome:
    return Outcome(status, by, "", NOW + timedelta(minutes=1))  # type: ignore[arg-type]


def test_the_question_shows_every_check_and_why_a_person_is_asked() -> None:
    asked = request()
    assert asked.ref.kind == "deployment" and asked.ref.application == "orders"
    assert [(b.action, b.status, b.summary) for b in asked.builds] == [
        ("errors", "inconclusive", "no datapoints (check errors)")
    ]
    assert asked.custom_data is not None and "Check errors ended inconclusive" in asked.custom_data
    assert asked.expires_at == asked.link_expires_at == NOW + timedelta(minutes=15)
    assert (asked.quorum, asked.separate_duties) == (2, False)


def test_only_the_asked_approvers_reaching_the_quorum_release_the_hook() -> None:
    both = people.verdict_for(request(outcome=outcome("Approved", "alice@example.com", "bob@example.com")), ASKED, WHO)
    assert both.status == "Succeeded"
    one = people.verdict_for(request(outcome=outcome("Approved", "alice@example.com")), ASKED, WHO)
    assert one.status == "Failed" and "fewer than 2 approvers" in one.reason
    stranger = people.verdict_for(
        request(outcome=outcome("Approved", "mallory@example.com", "bob@example.com")), ASKED, WHO
    )
    assert stranger.status == "Failed" and "not asked" in stranger.reason
    nobody = people.verdict_for(request(outcome=outcome("Approved")), ASKED, WHO)
    assert nobody.status == "Failed"
    rejected = people.verdict_for(request(outcome=outcome("Rejected", "bob@example.com")), ASKED, WHO)
    assert rejected.status == "Failed" and "rejected by bob@example.com" in rejected.reason


def test_a_question_that_ended_without_a_decision_fails() -> None:
    expired = people.verdict_for(request(ended=Ended("expired", NOW + timedelta(minutes=15))), ASKED, WHO)
    assert expired.status == "Failed" and "nobody decided within 15 min" in expired.reason
    abandoned = people.verdict_for(request(ended=Ended("abandoned", NOW)), ASKED, WHO)
    assert abandoned.status == "Failed" and "closed (abandoned)" in abandoned.reason


class Table:
    """The approvals table as the wait sees it: a decision may land just before the hook gives up."""

    def __init__(self, held: Request, *, decided_before_close: Outcome | None = None) -> None:
        self.held, self.decided_before_close, self.reads = held, decided_before_close, 0

    def get(self, ref: ActionRef) -> Request | None:
        self.reads += 1
        return self.held

    def close_undecided(self, ref: ActionRef, ended: Ended) -> bool:
        if self.decided_before_close is not None:
            self.held = self.held._replace(outcome=self.decided_before_close)
            return False
        self.held = self.held._replace(ended=ended)
        return True


class Clock:
    def __init__(self, start: datetime) -> None:
        self.at = start.timestamp()

    def now(self) -> float:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += seconds


def test_the_wait_stops_for_the_run_and_gives_up_only_when_no_decision_was_claimed() -> None:
    clock = Clock(NOW)
    table = Table(request())
    # A run with a minute left hands over without deciding
    assert people.wait(table.held, table, clock.now, clock.sleep, clock.now() + 60) is None  # type: ignore[arg-type]
    assert table.reads >= 10
    # Past the question's end, nobody having decided: expired
    clock.at = (NOW + timedelta(minutes=16)).timestamp()
    ended = people.wait(table.held, table, clock.now, clock.sleep, clock.now() + 60)  # type: ignore[arg-type]
    assert ended is not None and ended.ended is not None and ended.ended.how == "expired"
    # The page's claim landed first: its decision stands, the hook does not call it expired
    late = Table(request(), decided_before_close=outcome("Approved", "alice@example.com", "bob@example.com"))
    decided = people.wait(late.held, late, clock.now, clock.sleep, clock.now() + 60)  # type: ignore[arg-type]
    assert decided is not None and decided.outcome is not None and decided.ended is None
    assert people.verdict_for(decided, ASKED, WHO).status == "Succeeded"


def test_the_recorded_reference_reads_back_and_anything_else_is_none() -> None:
    assert people.from_text(people.as_text(REF)) == REF
    for text in ("", "[1,2,3,4]", '["a","b"]', "{}", "not json"):
        assert people.from_text(text) is None
