"""onInconclusive person: what the spec must say, what the verdict becomes, and what a person's answer makes of it."""

from __future__ import annotations

from typing import Any

import pytest

from codereflex.validation.semantics import Measurement, Outcome, decide, decided_by, evaluate, unanswered
from codereflex.validation.spec import SpecError

from .fakes import http_check, spec

PEOPLE = {"approvers": ["Alice@Example.com", "bob@example.com", "alice@example.com"], "quorum": 1, "waitMinutes": 20}


def asking(name: str = "smoke", **fields: Any) -> dict[str, Any]:
    return http_check(name=name, count=3, onInconclusive="person", **fields)


def results(outcomes: dict[str, list[Outcome]], **top: Any) -> Any:
    loaded = spec(
        [asking("smoke"), http_check(name="latency", count=3)],
        people=PEOPLE,
        **top,
    )
    by_name = {c.name: c for c in loaded.checks}
    return [
        evaluate(by_name[name], [Measurement(name, i, o, f"sample {i} {o}") for i, o in enumerate(seen)], complete=True)
        for name, seen in outcomes.items()
    ]


def test_a_check_that_asks_a_person_needs_the_specs_people() -> None:
    with pytest.raises(SpecError) as raised:
        spec([asking()])
    assert any("set people.approvers" in p for p in raised.value.problems)


def test_people_are_lowercased_once_and_a_quorum_nobody_could_reach_is_refused() -> None:
    loaded = spec([asking()], people=PEOPLE)
    assert loaded.people is not None
    assert loaded.people.approvers == ("alice@example.com", "bob@example.com")
    assert (loaded.people.quorum, loaded.people.wait_minutes) == (1, 20)
    assert any("holds the hook for the spec's people" in w for w in loaded.warnings)
    with pytest.raises(SpecError) as raised:
        spec([asking()], people={**PEOPLE, "quorum": 3})
    assert any("people.quorum 3 > the 2 approvers" in p for p in raised.value.problems)
    with pytest.raises(SpecError):
        spec([asking()], people={"approvers": ["not an address"]})
    with pytest.raises(SpecError):
        spec([asking()], people={**PEOPLE, "waitMinutes": 60})  # longer than CodeDeploy's hour allows


def test_an_inconclusive_check_that_asks_is_failed_with_the_question_not_a_success() -> None:
    verdict = decide(results({"smoke": ["pass", "inconclusive"], "latency": ["pass"] * 3}), 2)
    assert verdict.status == "Failed"
    assert verdict.asks == ("smoke",)
    assert verdict.deciding_check == "smoke"
    assert "a person decides" in verdict.reason


def test_a_failed_check_decides_before_anyone_is_asked() -> None:
    verdict = decide(results({"smoke": ["inconclusive"], "latency": ["pass", "fail"]}), 2)
    assert (verdict.status, verdict.deciding_check, verdict.asks) == ("Failed", "latency", ())


def test_a_missing_gating_check_is_not_left_to_a_person() -> None:
    verdict = decide(results({"smoke": ["inconclusive"]}), 2)
    assert verdict.asks == ()
    assert "only 1 of 2 gating checks ran" in verdict.reason


def test_a_persons_approval_succeeds_naming_them_and_the_evidence_and_a_rejection_fails() -> None:
    asked = decide(results({"smoke": ["pass", "inconclusive"], "latency": ["pass"] * 3}), 2)
    approved = decided_by(asked, "Approved", ("alice@example.com",), "  looks\nfine ")
    assert approved.status == "Succeeded"
    assert approved.deciders == ("alice@example.com",)
    assert approved.reason.startswith("inconclusive check smoke approved by alice@example.com: looks fine")
    assert "sample 1 inconclusive" in approved.reason
    assert len(approved.checks) == 2
    rejected = decided_by(asked, "Rejected", ("bob@example.com",), "")
    assert (rejected.status, rejected.deciders) == ("Failed", ("bob@example.com",))
    assert "rejected by bob@example.com" in rejected.reason


def test_an_answer_to_a_verdict_that_asked_nobody_never_succeeds() -> None:
    plain = decide(results({"latency": ["pass"] * 3, "smoke": ["pass"] * 3}), 2)
    assert plain.status == "Succeeded" and plain.asks == ()
    assert decided_by(plain, "Approved", ("alice@example.com",), "").status == "Failed"


def test_nobody_answering_fails_with_the_evidence_and_the_checks_kept() -> None:
    asked = decide(results({"smoke": ["pass", "inconclusive"], "latency": ["pass"] * 3}), 2)
    verdict = unanswered(asked, "nobody decided within 20 min")
    assert verdict.status == "Failed"
    assert verdict.reason.endswith("; nobody decided within 20 min")
    assert "sample 1 inconclusive" in verdict.reason
    assert (verdict.deciding_check, len(verdict.checks), verdict.deciders) == ("smoke", 2, ())
