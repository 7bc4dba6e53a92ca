"""The approval page's decisions: GET only shows, POST decides once in the design's order, refusals decide nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from approval_page import logic
from approval_page.logic import Form, Ports, Refused, SeeOther, Shown
from codereflex.approvals.model import Answer, Ended, EndedHow, Outcome

from .fakes import ALICE, BOB, CAROL, DEVELOPER, LINKS, NOW, OURS, REF, FakePipeline, FakeStore, ours, request, token


@pytest.fixture
def store() -> FakeStore:
    return FakeStore({REF: request()})


@pytest.fixture
def pipeline() -> FakePipeline:
    return FakePipeline()


@pytest.fixture
def ports(store: FakeStore, pipeline: FakePipeline) -> Ports:
    return Ports(LINKS, store, pipeline, ours)


def post(link: str, decision: str = "approve", reason: str = "dashboards are green", form: str | None = None) -> Form:
    return Form(form=LINKS.form_token(link) if form is None else form, decision=decision, reason=reason)


def test_a_link_shows_its_request_with_a_form_and_writes_nothing(ports: Ports, store: FakeStore) -> None:
    link = token()
    result = logic.show(link, f"/a/{link}", NOW, ports)
    assert isinstance(result.answer, Shown)
    assert result.answer.approver == ALICE
    assert result.answer.form_token is not None and LINKS.form_ok(link, result.answer.form_token)
    assert store.writes == []
    # The log names the link by its id only.
    assert link not in repr(result.report())


def test_an_approval_is_answered_claimed_reported_then_the_browser_sees_the_page(
    ports: Ports, store: FakeStore, pipeline: FakePipeline
) -> None:
    link = token()
    result = logic.decide(link, f"/a/{link}", post(link, reason="  dashboards\n are green "), NOW, ports)
    assert result.answer == SeeOther(f"/a/{link}")
    assert store.writes == [f"answer:{ALICE}", "claim", "reported"]
    assert pipeline.results == [
        (REF, pipeline.token, "Approved", "Approved by alice@example.com via codereflex: dashboards are green")
    ]
    held = store.requests[REF]
    assert held.state(NOW) == "approved"
    assert held.outcome is not None and held.outcome.reported


def test_a_replayed_post_decides_nothing_more(ports: Ports, store: FakeStore, pipeline: FakePipeline) -> None:
    link = token()
    form = post(link)
    logic.decide(link, f"/a/{link}", form, NOW, ports)
    again = logic.decide(link, f"/a/{link}", form, NOW + timedelta(seconds=1), ports)
    assert isinstance(again.answer, SeeOther)
    assert len(pipeline.results) == 1
    # Another approver's link after the decision: also nothing more.
    other = token(BOB)
    logic.decide(other, f"/a/{other}", post(other, "reject"), NOW, ports)
    assert len(pipeline.results) == 1


def test_a_quorum_of_two_decides_only_at_the_second_approval(
    ports: Ports, store: FakeStore, pipeline: FakePipeline
) -> None:
    store.requests[REF] = request(quorum=2, approvers=(ALICE, BOB, CAROL))
    first, second = token(ALICE), token(BOB)
    logic.decide(first, f"/a/{first}", post(first, reason="ok"), NOW, ports)
    assert pipeline.results == []
    shown = logic.show(first, f"/a/{first}", NOW, ports).answer
    assert isinstance(shown, Shown) and shown.form_token is None  # answered: no second form
    logic.decide(second, f"/a/{second}", post(second, reason="fine"), NOW, ports)
    assert [(status, summary) for _, _, status, summary in pipeline.results] == [
        ("Approved", "Approved by alice@example.com, bob@example.com via codereflex: ok; fine")
    ]


def test_one_rejection_rejects_even_with_a_quorum(ports: Ports, store: FakeStore, pipeline: FakePipeline) -> None:
    store.requests[REF] = request(quorum=2)
    link = token(BOB)
    logic.decide(link, f"/a/{link}", post(link, "reject", "refunds double-charge"), NOW, ports)
    assert [r[2:] for r in pipeline.results] == [
        ("Rejected", "Rejected by bob@example.com via codereflex: refunds double-charge")
    ]


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        (Form("", "approve", ""), "bad-form"),
        (Form("00000000.forged", "approve", ""), "bad-form"),
    ],
)
def test_a_post_without_a_valid_form_token_decides_nothing(
    ports: Ports, store: FakeStore, pipeline: FakePipeline, form: Form, reason: str
) -> None:
    link = token()
    result = logic.decide(link, f"/a/{link}", form, NOW, ports)
    assert result.answer == Refused("bad-form")
    assert result.answer.status == 403
    assert store.writes == [] and pipeline.results == []


def test_a_form_token_of_another_link_is_refused(ports: Ports, store: FakeStore) -> None:
    link, other = token(ALICE), token(BOB)
    result = logic.decide(link, f"/a/{link}", post(other), NOW, ports)
    assert result.answer == Refused("bad-form")
    assert store.writes == []


def test_forged_altered_and_unknown_key_links_are_all_just_not_valid(ports: Ports, store: FakeStore) -> None:
    link = token()
    payload, key_id, signature = link.split(".")
    for bad in (f"{payload}.{key_id}.{signature[:-2]}AA", f"{payload}.0badbeef.{signature}", "garbage", f"x{link}"):
        shown = logic.show(bad, f"/a/{bad}", NOW, ports)
        decided = logic.decide(bad, f"/a/{bad}", post(link), NOW, ports)
        assert shown.answer == decided.answer == Refused("invalid-link")
        assert shown.answer.status == 403
    assert store.writes == []


def test_an_expired_link_is_gone(ports: Ports) -> None:
    link = token(expires_at=NOW - timedelta(seconds=1))
    result = logic.decide(link, f"/a/{link}", post(link), NOW, ports)
    assert result.answer == Refused("expired-link")
    assert result.answer.status == 410


def test_a_link_for_someone_no_longer_asked_or_a_request_never_opened(ports: Ports, store: FakeStore) -> None:
    stranger = token(CAROL)
    assert logic.show(stranger, "/a/x", NOW, ports).answer == Refused("not-approver")
    store.requests.clear()
    alice = token()
    assert logic.show(alice, "/a/x", NOW, ports).answer == Refused("unknown-request")


def test_the_author_of_a_source_change_cannot_decide_under_separation_of_duties(
    ports: Ports, store: FakeStore, pipeline: FakePipeline
) -> None:
    store.requests[REF] = request(separate_duties=True, approvers=(ALICE, CAROL))
    link = token(CAROL)
    shown = logic.show(link, f"/a/{link}", NOW, ports).answer
    assert isinstance(shown, Shown) and shown.form_token is None
    result = logic.decide(link, f"/a/{link}", post(link), NOW, ports)
    assert isinstance(result.answer, Refused) and result.answer.reason == "author"
    assert result.answer.status == 403 and "4f1c2a9b8e7d" in result.answer.detail
    assert store.writes == [] and pipeline.results == []


def test_an_action_no_longer_waiting_is_recorded_as_ended_and_nothing_is_answered(
    ports: Ports, store: FakeStore, pipeline: FakePipeline
) -> None:
    pipeline.token = None
    link = token()
    result = logic.decide(link, f"/a/{link}", post(link), NOW, ports)
    assert isinstance(result.answer, SeeOther)
    assert store.writes == ["ended:superseded"]
    assert store.requests[REF].state(NOW) == "superseded"
    assert pipeline.results == []


def test_a_decided_request_is_not_asked_about_again(ports: Ports, store: FakeStore, pipeline: FakePipeline) -> None:
    decided = Outcome("Rejected", (BOB,), "no", NOW, reported=True)
    store.requests[REF] = request(outcome=decided, answers={BOB: Answer(BOB, "Rejected", "no", NOW)})
    link = token()
    assert isinstance(logic.decide(link, f"/a/{link}", post(link), NOW, ports).answer, SeeOther)
    store.requests[REF] = request(ended=Ended("approved-elsewhere", NOW))
    assert isinstance(logic.decide(link, f"/a/{link}", post(link), NOW, ports).answer, SeeOther)
    assert store.writes == [] and pipeline.results == []


@pytest.mark.parametrize("decision", ["", "Approve", "approved", "maybe"])
def test_only_approve_or_reject_decides(ports: Ports, store: FakeStore, decision: str) -> None:
    link = token()
    result = logic.decide(link, f"/a/{link}", post(link, decision), NOW, ports)
    assert result.answer == Refused("bad-decision")
    assert result.answer.status == 400 and store.writes == []


def test_a_reason_is_kept_within_the_summary_limit(ports: Ports, store: FakeStore, pipeline: FakePipeline) -> None:
    limit = logic.reason_limit(store.requests[REF])
    link = token()
    too_long = logic.decide(link, f"/a/{link}", post(link, reason="x" * (limit + 1)), NOW, ports)
    assert too_long.answer == Refused("reason-too-long") and store.writes == []
    logic.decide(link, f"/a/{link}", post(link, reason="x" * limit), NOW, ports)
    assert len(pipeline.results[0][3]) == 512


@pytest.mark.parametrize(("final", "how"), [("SUCCEEDED", "approved-elsewhere"), ("FAILED", "rejected-elsewhere")])
def test_a_decision_the_console_beat_is_recorded_as_elsewhere_never_as_ours(
    ports: Ports, store: FakeStore, pipeline: FakePipeline, final: str, how: EndedHow
) -> None:
    # Someone in the console decided between the page's re-check and its PutApprovalResult.
    pipeline.beaten_by = (final, DEVELOPER)
    link = token()
    result = logic.decide(link, f"/a/{link}", post(link), NOW, ports)
    assert isinstance(result.answer, SeeOther)
    held = store.requests[REF]
    assert held.outcome is not None and not held.outcome.reported
    assert held.ended == Ended(how, NOW, DEVELOPER)
    assert "reported" not in store.writes
    assert held.state(NOW) == "ended-elsewhere"
    assert [count.name for count in result.counts] == ["Answers.Approved", "DecidedElsewhereFirst"]


def test_an_already_done_that_codepipeline_says_our_role_did_is_ours(
    ports: Ports, store: FakeStore, pipeline: FakePipeline
) -> None:
    # A retried PutApprovalResult whose first try got through: CodePipeline names the page's role.
    pipeline.beaten_by = ("SUCCEEDED", OURS)
    link = token()
    logic.decide(link, f"/a/{link}", post(link), NOW, ports)
    held = store.requests[REF]
    assert held.outcome is not None and held.outcome.reported
    assert held.ended == Ended("approved-here", NOW)
    assert held.state(NOW) == "approved"


def test_an_action_approved_in_the_console_before_the_post_is_recorded_with_who_did(
    ports: Ports, store: FakeStore, pipeline: FakePipeline
) -> None:
    pipeline.token, pipeline.final = None, ("SUCCEEDED", DEVELOPER)
    link = token()
    logic.decide(link, f"/a/{link}", post(link), NOW, ports)
    assert store.writes == ["ended:approved-elsewhere"]
    assert store.requests[REF].ended == Ended("approved-elsewhere", NOW, DEVELOPER)
