"""A deployment hook's request on the page: decided by its record alone, never a CodePipeline call."""

from __future__ import annotations

from datetime import timedelta

import pytest

from approval_page import logic
from approval_page.logic import Form, Ports, SeeOther, Shown
from codereflex.approvals.model import Answer, Ended, Outcome

from .fakes import (
    ALICE,
    BOB,
    CAROL,
    DEPLOYMENT,
    LINKS,
    NOW,
    ClosingStore,
    FakeStore,
    NoPipeline,
    deployment_request,
    ours,
    token,
)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore({DEPLOYMENT: deployment_request()})


@pytest.fixture
def ports(store: FakeStore) -> Ports:
    # NoPipeline fails on any call: waiting_token, final_state (`_ended`) and put_result alike.
    return Ports(LINKS, store, NoPipeline(), ours)


def link(approver: str = ALICE) -> str:
    return token(approver, DEPLOYMENT, NOW + timedelta(minutes=50))


def post(url_token: str, decision: str = "approve", reason: str = "error rate flat on the dashboard") -> Form:
    return Form(LINKS.form_token(url_token), decision, reason)


def test_a_deployment_request_shows_with_a_form_and_asks_codepipeline_nothing(ports: Ports, store: FakeStore) -> None:
    alice = link()
    result = logic.show(alice, f"/a/{alice}", NOW, ports)
    assert isinstance(result.answer, Shown) and result.answer.form_token is not None
    assert store.writes == []


@pytest.mark.parametrize(("decision", "status"), [("approve", "Approved"), ("reject", "Rejected")])
def test_a_decision_is_answered_claimed_and_marked_reported_with_the_decided_line_and_count(
    ports: Ports, store: FakeStore, decision: str, status: str
) -> None:
    alice = link()
    result = logic.decide(alice, f"/a/{alice}", post(alice, decision), NOW, ports)
    assert result.answer == SeeOther(f"/a/{alice}")
    assert store.writes == [f"answer:{ALICE}", "claim", "reported"]
    held = store.requests[DEPLOYMENT]
    assert held.outcome is not None and held.outcome.reported
    assert (held.outcome.status, held.outcome.by) == (status, (ALICE,))
    assert held.state(NOW) == status.lower()
    assert [count.name for count in result.counts] == [f"Answers.{status}", f"Decided.{status}"]
    [line] = result.lines
    assert line.message == "Approval decided"
    assert line.fields["status"] == status and line.fields["by"] == [ALICE]
    assert line.fields["request"] == DEPLOYMENT.key


def test_a_quorum_of_two_decides_at_the_second_approval_only(ports: Ports, store: FakeStore) -> None:
    store.requests[DEPLOYMENT] = deployment_request(approvers=(ALICE, BOB, CAROL), quorum=2)
    alice, bob = link(ALICE), link(BOB)
    first = logic.decide(alice, f"/a/{alice}", post(alice, reason="first"), NOW, ports)
    assert [line.message for line in first.lines] == ["Approval answered"]
    assert store.requests[DEPLOYMENT].outcome is None
    logic.decide(bob, f"/a/{bob}", post(bob, reason="second"), NOW, ports)
    outcome = store.requests[DEPLOYMENT].outcome
    assert outcome is not None and outcome.by == (ALICE, BOB) and outcome.reason == "first; second"
    assert store.writes == [f"answer:{ALICE}", f"answer:{BOB}", "claim", "reported"]


def test_a_replayed_post_and_another_approver_after_the_decision_decide_nothing_more(
    ports: Ports, store: FakeStore
) -> None:
    alice, bob = link(ALICE), link(BOB)
    form = post(alice)
    logic.decide(alice, f"/a/{alice}", form, NOW, ports)
    again = logic.decide(alice, f"/a/{alice}", form, NOW + timedelta(seconds=1), ports)
    late = logic.decide(bob, f"/a/{bob}", post(bob, "reject"), NOW + timedelta(seconds=2), ports)
    assert isinstance(again.answer, SeeOther) and isinstance(late.answer, SeeOther)
    assert [line.message for line in (*again.lines, *late.lines)] == ["Approval answer not needed"] * 2
    assert store.writes == [f"answer:{ALICE}", "claim", "reported"]


@pytest.mark.parametrize(
    "changes",
    [
        {"ended": Ended("expired", NOW - timedelta(minutes=1))},  # the hook's time was up: close_undecided
        {"ended": Ended("abandoned", NOW - timedelta(minutes=1))},  # the deployment stopped
        {"expires_at": NOW - timedelta(seconds=1)},  # past the hook's wait, before it closed the record
        {"outcome": Outcome("Rejected", (BOB,), "no", NOW, True), "answers": {BOB: Answer(BOB, "Rejected", "", NOW)}},
    ],
)
def test_a_request_that_no_longer_waits_writes_nothing(
    ports: Ports, store: FakeStore, changes: dict[str, object]
) -> None:
    store.requests[DEPLOYMENT] = deployment_request(**changes)
    alice = link()
    shown = logic.show(alice, f"/a/{alice}", NOW, ports).answer
    assert isinstance(shown, Shown) and shown.form_token is None
    result = logic.decide(alice, f"/a/{alice}", post(alice), NOW, ports)
    assert isinstance(result.answer, SeeOther)
    assert [line.message for line in result.lines] == ["Approval answer not needed"]
    assert store.writes == []


def test_the_hook_closing_between_the_answer_and_the_claim_wins_and_nothing_is_decided() -> None:
    store = ClosingStore({DEPLOYMENT: deployment_request()})
    ports = Ports(LINKS, store, NoPipeline(), ours)
    alice = link()
    result = logic.decide(alice, f"/a/{alice}", post(alice), NOW, ports)
    assert isinstance(result.answer, SeeOther)
    assert store.writes == [f"answer:{ALICE}", "closed"]  # no claim, no reported
    held = store.requests[DEPLOYMENT]
    assert held.outcome is None and held.ended == store.closed
    assert "Decided.Approved" not in [count.name for count in result.counts]


def test_a_pipeline_request_still_asks_codepipeline(store: FakeStore) -> None:
    # The same NoPipeline port fails a pipeline's request at step 5: the deployment path is the only one skipping it.
    from .fakes import REF, request

    store.requests[REF] = request()
    alice = token(ALICE)
    with pytest.raises(AssertionError, match="waiting_token"):
        logic.decide(alice, f"/a/{alice}", post(alice), NOW, Ports(LINKS, store, NoPipeline(), ours))
