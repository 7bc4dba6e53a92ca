"""After the request: reminders, close-outs, expiry and a lost report, each once; the token in no log or message."""

from __future__ import annotations

import json

import pytest

from codereflex.approvals.model import APPROVED, ActionRef, Answer, Status
from codereflex.aws.approvals import ApprovalStore
from codereflex.aws.codepipeline import CodePipelineApprovals, PutResult
from tests.integration.approval_requests.conftest import ALICE, BOB, CAROL, FUNCTION, World


@pytest.fixture
def decisions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Every PutApprovalResult codereflex made (the adapter both functions call): (action, status, summary)."""
    made: list[tuple[str, str, str]] = []
    original = CodePipelineApprovals.put_result

    def counted(self: CodePipelineApprovals, ref: ActionRef, token: str, status: Status, summary: str) -> PutResult:
        made.append((f"{ref.pipeline}/{ref.stage}/{ref.action}", status, summary))
        return original(self, ref, token, status, summary)

    monkeypatch.setattr(CodePipelineApprovals, "put_result", counted)
    return made


def answer(world: World, ref: ActionRef, approver: str, reason: str, *, report: bool = True) -> None:
    """What the page does on a decisive approval: record the answer, claim the outcome, report it."""
    given = Answer(approver, APPROVED, reason, world.clock())
    request = world.store.answer(ref, given)
    if not request.decisive(given):
        return
    outcome = request.outcome_for(given)
    assert world.store.claim_outcome(ref, outcome)
    if report:
        pipelines = CodePipelineApprovals(world.sandbox.client("codepipeline"))
        token = pipelines.waiting_token(ref)
        assert token is not None
        assert pipelines.put_result(ref, token, outcome.status, outcome.summary) == "decided"
        world.store.mark_reported(ref)
        world.sandbox.pipelines.settle()


def test_a_decision_on_the_page_is_closed_out_once_to_every_approver(world: World) -> None:
    # Given alice approved on the page and CodePipeline moved on
    world.pipeline()
    ref = world.start()
    answer(world, ref, ALICE, "release notes checked")
    # Then every approver was told once who decided, when and why
    for approver in (ALICE, BOB):
        (closeout,) = world.mail(approver, "closeout")
        assert "Approved" in (closeout.subject or "")
        assert ALICE in closeout.message
        assert "release notes checked" in closeout.message
        assert closeout.attributes == {"approver": approver, "kind": "closeout"}
    request = world.request(ref)
    assert request.ended is not None
    assert request.ended.how == "approved-here"
    assert request.closed_out
    # And CodePipeline's event delivered again changes nothing
    (succeeded,) = [
        e
        for e in world.sandbox.pipelines.events
        if e["detail"].get("action") == ref.action and e["detail"]["state"] == "SUCCEEDED"
    ]
    (again,) = world.deliver(succeeded)
    assert again.result["outcome"] == "duplicate"
    assert len(world.mail(ALICE, "closeout")) == 1
    assert world.mail(CAROL) == []


def test_a_decision_in_the_console_is_closed_out_as_made_outside_codereflex(world: World) -> None:
    world.pipeline()
    ref = world.start()
    world.decide(ref, "Rejected", "not today")
    for approver in (ALICE, BOB):
        (closeout,) = world.mail(approver, "closeout")
        assert "outside codereflex" in closeout.message
    ended = world.request(ref).ended
    assert ended is not None
    assert ended.how == "rejected-elsewhere"


def test_a_reminder_goes_once_to_who_has_not_answered(world: World) -> None:
    # Given a 2-hour approval, reminders 30 minutes before, and a quorum of two with alice's approval in
    world.pipeline(tags={"codereflex:quorum": "2"})
    ref = world.start()
    answer(world, ref, ALICE, "fine by me")
    # When the sweep runs before the reminder is due, then twice after
    world.later(60)
    world.sweep()
    assert world.mail(BOB, "reminder") == []
    world.later(35)
    first, second = world.sweep(), world.sweep()
    # Then bob, who has not answered, was reminded once; alice was not
    assert (first["sent"], second["sent"]) == (1, 0)
    assert len(world.mail(BOB, "reminder")) == 1
    assert world.mail(ALICE, "reminder") == []
    assert world.request(ref).reminded


def test_an_expired_approval_is_closed_out_once(world: World) -> None:
    world.pipeline(timeout_minutes=60)
    ref = world.start()
    # When the approval times out (CodePipeline fails the action) and the sweep runs after
    world.later(61)
    world.sweep()
    # Then every approver was told it expired, once
    for approver in (ALICE, BOB):
        (closeout,) = world.mail(approver, "closeout")
        assert "xpired" in (closeout.subject or "") + closeout.message
    ended = world.request(ref).ended
    assert ended is not None
    assert ended.how == "expired"


def test_the_sweep_closes_out_an_expiry_whose_event_was_lost(world: World) -> None:
    world.pipeline(timeout_minutes=60)
    ref = world.start()
    with world.sandbox.undelivered():
        world.later(61)  # CodePipeline fails the action; its FAILED event reaches no function
    assert world.mail(ALICE, "closeout") == []
    world.sweep()
    world.sweep()
    assert len(world.mail(ALICE, "closeout")) == 1
    assert len(world.mail(BOB, "closeout")) == 1
    ended = world.request(ref).ended
    assert ended is not None
    assert ended.how == "expired"


def test_a_crash_between_claim_and_report_is_finished_by_the_sweep_exactly_once(
    world: World, decisions: list[tuple[str, str, str]]
) -> None:
    # Given alice's approval was claimed on the page, which then ended before PutApprovalResult
    world.pipeline()
    ref = world.start()
    answer(world, ref, ALICE, "ship it", report=False)
    # When the sweep runs at once (the page might still be reporting), then after the page's timeout, twice
    world.sweep()
    assert decisions == []
    world.later(3)
    world.sweep()
    world.sandbox.pipelines.settle()
    world.sweep()
    # Then CodePipeline was told once, with alice's name and reason, and everybody was told once
    assert decisions == [
        (f"{ref.pipeline}/{ref.stage}/{ref.action}", "Approved", f"Approved by {ALICE} via codereflex: ship it")
    ]
    request = world.request(ref)
    assert request.outcome is not None
    assert request.outcome.reported
    assert request.ended is not None
    assert request.ended.how == "approved-here"
    assert len(world.mail(BOB, "closeout")) == 1


def test_the_token_is_in_no_log_line_message_or_record(
    world: World, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a request opened by both paths, reminded, decided and closed out, with every log line captured
    world.pipeline()
    ref = world.start()
    token = world.token(ref)
    world.publish(world.notification(ref))
    world.later(95)
    world.sweep()
    answer(world, ref, ALICE, "all good")
    printed = capsys.readouterr()
    # Then the function logged (every field of every record, and whatever reached the terminal), and never the token
    records = [json.dumps(record.__dict__, default=str) for record in caplog.records]
    assert sum('"Approval event handled"' in record for record in records) >= 4
    assert all(token not in record for record in records)
    assert token not in printed.out + printed.err
    mails = world.all_mail()
    assert {m.attributes["kind"] for m in mails} == {"request", "reminder", "closeout"}
    assert all(token not in (m.message + (m.subject or "")) for m in mails)
    for table in ("ApprovalsTable", "IdempotencyTable"):
        items = world.sandbox.client("dynamodb").scan(TableName=world.refs[table])["Items"]
        assert items
        assert token not in json.dumps(items), table
    responses = [i.result for i in world.sandbox.deliveries]
    assert token not in json.dumps(responses)


def test_a_superseded_approval_is_closed_out_and_the_new_one_asked(world: World) -> None:
    # Given approvers were asked about execution 1
    world.pipeline()
    first = world.start()
    # When execution 2 reaches the approval and supersedes execution 1 there
    second = world.start()
    # Then execution 1's request ended as superseded and each approver heard so once, and was asked about 2
    ended = world.request(first).ended
    assert ended is not None
    assert ended.how == "superseded"
    for approver in (ALICE, BOB):
        (closeout,) = world.mail(approver, "closeout")
        assert "uperseded" in (closeout.subject or "") + closeout.message
        assert len(world.mail(approver, "request")) == 2
    assert world.request(second).ended is None


def test_a_claim_the_console_beat_is_never_reported_as_ours_by_the_sweep(
    world: World, decisions: list[tuple[str, str, str]]
) -> None:
    # Given alice's approval was claimed on the page, which ended before its PutApprovalResult
    world.pipeline()
    ref = world.start()
    answer(world, ref, ALICE, "ship it", report=False)
    # When the developer approves in the console, typing codereflex's words, and the SUCCEEDED event is lost
    with world.sandbox.undelivered():
        world.decide(ref, "Approved", f"Approved by {ALICE} via codereflex: ship it")
    world.later(3)
    world.sweep()
    world.sweep()
    # Then the sweep made no PutApprovalResult, left alice's outcome unreported, and recorded who decided
    developer = world.sandbox.developer_arn
    assert decisions == []
    request = world.request(ref)
    assert request.outcome is not None and not request.outcome.reported
    assert request.ended is not None and (request.ended.how, request.ended.by) == ("approved-elsewhere", developer)
    # And closed it out once to every approver, naming the developer, never alice, as the decider
    for approver in (ALICE, BOB):
        (closeout,) = world.mail(approver, "closeout")
        assert f"approved outside codereflex (the console or the API) by {developer}" in closeout.message
        assert "via codereflex" not in closeout.message


def test_a_sweep_that_crashed_after_its_put_approval_result_is_proven_ours_by_the_updater(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given alice's claim is finished by the sweep, whose invocation ends right after PutApprovalResult
    world.pipeline()
    ref = world.start()
    answer(world, ref, ALICE, "ship it", report=False)
    world.later(3)
    original, calls = ApprovalStore.mark_reported, []

    def crashes_once(self: ApprovalStore, ref: ActionRef) -> bool:
        calls.append(ref)
        if len(calls) == 1:
            raise RuntimeError("the invocation ended here")
        return original(self, ref)

    monkeypatch.setattr(ApprovalStore, "mark_reported", crashes_once)
    with world.sandbox.undelivered():
        crashed = world.sandbox.router.invoke_scheduled(FUNCTION, env_overrides=world.sandbox.function_env())
    assert isinstance(crashed.error, RuntimeError)
    claimed = world.request(ref).outcome
    assert claimed is not None and not claimed.reported
    # When the next sweep runs (the action's SUCCEEDED event was lost with the crash)
    world.sweep()
    # Then CodePipeline naming the functions' role proves the decision was codereflex's: alice's, via codereflex
    request = world.request(ref)
    assert request.outcome is not None and request.outcome.reported
    assert request.ended is not None and request.ended.how == "approved-here"
    for approver in (ALICE, BOB):
        (closeout,) = world.mail(approver, "closeout")
        assert f"Approved by {ALICE} at " in closeout.message and "via codereflex" in closeout.message
