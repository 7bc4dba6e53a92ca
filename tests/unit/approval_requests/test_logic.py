"""The approval requests logic with in-memory ports: one request, one message per approver and kind, once."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from approval_requests.logic import handle, read
from approval_requests.steps import Outcomes
from codereflex.approvals.model import APPROVED, REJECTED, ActionRef, Answer, Ended, Outcome
from codereflex.errors import BadEvent, ConfigurationError
from tests.conftest import AWS_SAMPLES
from tests.unit.approval_requests.fakes import DEVELOPER, NOW, OURS, PAGE, REF, SIGNER, TOKEN, World


def started(ref: ActionRef = REF, state: str = "STARTED", **detail: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(
        (AWS_SAMPLES / "codepipeline-action-execution-approval-started.json").read_text()
    )
    event["detail"].update(
        {"pipeline": ref.pipeline, "stage": ref.stage, "action": ref.action, "execution-id": ref.execution_id}
    )
    event["detail"].update({"state": state, **detail})
    event["time"] = NOW.isoformat()
    return event


def notification(ref: ActionRef = REF, token: str = TOKEN) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((AWS_SAMPLES / "sns-approval-lambda-event.json").read_text())
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message["approval"].update(
        {"pipelineName": ref.pipeline, "stageName": ref.stage, "actionName": ref.action, "token": token}
    )
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    return event


def sweep_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": "tick",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": NOW.isoformat(),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweep"],
        "detail": {},
    }


@pytest.fixture
def world() -> World:
    world = World()
    world.pipelines.wait(REF)
    return world


def run(world: World, event: dict[str, Any]) -> Any:
    return handle(read(event), world.ports, world.options)


@pytest.mark.parametrize(
    "deliveries",
    [
        [started, started],
        [notification, notification],
        [started, notification],
        [notification, started],
        [started, notification, started, notification],
    ],
    ids=["event-twice", "sns-twice", "event-then-sns", "sns-then-event", "each-twice"],
)
def test_every_order_of_both_paths_opens_one_request_and_mails_each_approver_once(
    world: World, deliveries: list[Callable[[], dict[str, Any]]]
) -> None:
    results = [run(world, make()) for make in deliveries]
    assert [r.outcome for r in results] == [Outcomes.OPENED] + [Outcomes.DUPLICATE] * (len(results) - 1)
    assert list(world.store.requests) == [REF.key]
    assert world.sent("request") == ["alice@example.com", "bob@example.com"]


def test_each_approver_gets_their_own_link_naming_them(world: World) -> None:
    run(world, started())
    for message in world.mail.messages:
        approver = message.attributes["approver"]
        (url,) = [word for word in message.body.split() if word.startswith(PAGE + "a/")]
        link = SIGNER.read(url.removeprefix(PAGE + "a/"), NOW)
        assert (link.ref, link.approver) == (REF, approver)
        assert TOKEN not in message.body
        assert TOKEN not in message.subject


def test_a_previous_executions_started_event_asks_nobody(world: World) -> None:
    # Given the action waits on exec-2, an event for exec-1 arrives (late, or replayed)
    result = run(world, started(REF._replace(execution_id="exec-1")))
    assert result.outcome is Outcomes.IGNORED
    assert world.store.requests == {}
    assert world.mail.messages == []


def test_a_token_that_no_longer_waits_opens_nothing(world: World) -> None:
    result = run(world, notification(token="an-older-token"))
    assert result.outcome is Outcomes.IGNORED
    assert world.mail.messages == []


def test_the_request_expires_with_the_action(world: World) -> None:
    run(world, started())
    request = world.store.requests[REF.key]
    assert (request.expires_at - NOW).total_seconds() == 60 * 60
    assert request.link_expires_at == request.expires_at
    assert request.custom_data == "Check the release notes"


def test_another_action_type_is_ignored_even_when_delivered(world: World) -> None:
    result = run(world, started(type={"owner": "AWS", "category": "Deploy", "provider": "CodeDeploy", "version": 1}))
    assert result.outcome is Outcomes.IGNORED
    assert world.pipelines.calls == []


def test_a_pipeline_without_approvers_is_a_configuration_error(world: World) -> None:
    world.approvers.approvers = ()
    with pytest.raises(ConfigurationError, match="payments-release"):
        run(world, started())
    assert world.mail.messages == []


@pytest.mark.parametrize(
    "event",
    [
        {"Records": []},
        {"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId": "m", "TopicArn": "t", "Message": "not json"}}]},
        {"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId": "m", "TopicArn": "t", "Message": "{}"}}]},
        {"source": "aws.codepipeline", "detail-type": "CodePipeline Action Execution State Change"},
    ],
    ids=["no-record", "message-not-json", "message-without-approval", "envelope-without-fields"],
)
def test_bad_input_is_a_bad_event_that_names_no_value(event: dict[str, Any]) -> None:
    with pytest.raises(BadEvent) as raised:
        read(event)
    assert "not json" not in str(raised.value)


def test_the_token_never_shows_in_the_read_notification() -> None:
    message = read(notification())
    assert TOKEN not in repr(message)
    assert TOKEN not in str(message)


def decide(world: World, status: str, by: tuple[str, ...] = ("alice@example.com",), reported: bool = True) -> None:
    outcome = Outcome(APPROVED if status == APPROVED else REJECTED, by, "release notes checked", NOW, reported)
    request = world.store.requests[REF.key]
    answers = {who: Answer(who, outcome.status, outcome.reason, NOW) for who in by}
    world.store.requests[REF.key] = request._replace(outcome=outcome, answers=answers)


def test_a_decision_here_is_closed_out_once_to_every_approver_with_who_when_and_why(world: World) -> None:
    run(world, started())
    decide(world, APPROVED)
    results = [run(world, started(state="SUCCEEDED")) for _ in range(2)]
    assert [r.outcome for r in results] == [Outcomes.CLOSED_OUT, Outcomes.DUPLICATE]
    assert world.sent("closeout") == ["alice@example.com", "bob@example.com"]
    request = world.store.requests[REF.key]
    assert request.ended is not None
    assert request.ended.how == "approved-here"
    assert request.closed_out
    body = world.mail.messages[-1].body
    assert "alice@example.com" in body
    assert "release notes checked" in body


@pytest.mark.parametrize(
    ("state", "how"),
    [("SUCCEEDED", "approved-elsewhere"), ("FAILED", "rejected-elsewhere"), ("ABANDONED", "superseded")],
)
def test_an_ending_codereflex_did_not_decide_says_so(world: World, state: str, how: str) -> None:
    run(world, started())
    run(world, started(state=state))
    request = world.store.requests[REF.key]
    assert request.ended is not None
    assert request.ended.how == how
    assert world.sent("closeout") == ["alice@example.com", "bob@example.com"]


def test_an_ending_without_a_request_is_ignored(world: World) -> None:
    assert run(world, started(state="SUCCEEDED")).outcome is Outcomes.IGNORED
    assert world.mail.messages == []


def test_the_sweep_reminds_only_who_has_not_answered_once_before_expiry(world: World) -> None:
    run(world, started())
    request = world.store.requests[REF.key]
    answer = Answer("alice@example.com", APPROVED, "fine", NOW)
    world.store.requests[REF.key] = request._replace(answers={"alice@example.com": answer}, quorum=2)
    world.later(30)  # 30 minutes left, the reminder is 15 minutes before
    run(world, sweep_event())
    assert world.sent("reminder") == []
    world.later(20)
    run(world, sweep_event())
    run(world, sweep_event())
    assert world.sent("reminder") == ["bob@example.com"]
    assert world.store.requests[REF.key].reminded


def test_the_sweep_closes_out_an_expired_approval_once_codepipeline_stops_waiting(world: World) -> None:
    run(world, started())
    world.later(61)
    run(world, sweep_event())
    assert world.sent("closeout") == []  # CodePipeline still shows it waiting: its own expiry comes first
    world.pipelines.waiting.clear()
    run(world, sweep_event())
    run(world, started(state="FAILED"))  # the late FAILED event changes nothing
    assert world.sent("closeout") == ["alice@example.com", "bob@example.com"]
    request = world.store.requests[REF.key]
    assert request.ended is not None
    assert request.ended.how == "expired"


def test_the_sweep_finishes_a_decision_whose_report_was_lost_exactly_once(world: World) -> None:
    run(world, started())
    decide(world, APPROVED, reported=False)  # claimed on the page, which then crashed
    run(world, sweep_event())
    assert world.pipelines.decided == []  # too recent: the page may still be reporting it
    world.later(3)
    run(world, sweep_event())
    run(world, sweep_event())
    assert [(ref, status) for ref, _, status, _ in world.pipelines.decided] == [(REF, APPROVED)]
    assert world.pipelines.decided[0][3] == "Approved by alice@example.com via codereflex: release notes checked"
    outcome = world.store.requests[REF.key].outcome
    assert outcome is not None
    assert outcome.reported


def test_an_outcome_claimed_but_not_reported_is_not_a_decision_here(world: World) -> None:
    # The page claimed alice's approval; the console approved first, so the page's call decided nothing.
    run(world, started())
    decide(world, APPROVED, reported=False)
    world.pipelines.console(REF, APPROVED)
    run(world, started(state="SUCCEEDED"))
    request = world.store.requests[REF.key]
    assert request.ended == Ended("approved-elsewhere", NOW, DEVELOPER)
    assert request.outcome is not None and not request.outcome.reported
    body = world.mail.messages[-1].body
    assert f"approved outside codereflex (the console or the API) by {DEVELOPER}" in body
    assert "via codereflex" not in body


def test_a_decision_codepipeline_says_our_role_made_is_ours_though_never_recorded(world: World) -> None:
    # The page's PutApprovalResult went through, then its invocation ended before mark_reported.
    run(world, started())
    decide(world, APPROVED, reported=False)
    world.pipelines.waiting.clear()
    world.pipelines.finals[REF] = ("SUCCEEDED", OURS)
    run(world, started(state="SUCCEEDED"))
    request = world.store.requests[REF.key]
    assert request.ended is not None and request.ended.how == "approved-here"
    assert request.outcome is not None and request.outcome.reported
    assert "Approved by alice@example.com at" in world.mail.messages[-1].body


def test_the_sweep_reports_nothing_as_ours_that_the_console_decided(world: World) -> None:
    run(world, started())
    decide(world, REJECTED, reported=False)  # claimed on the page, which then crashed before its call
    world.pipelines.console(REF, APPROVED)
    world.later(3)
    run(world, sweep_event())
    run(world, sweep_event())
    assert world.pipelines.decided == []
    request = world.store.requests[REF.key]
    assert request.outcome is not None and not request.outcome.reported
    assert request.ended is not None and (request.ended.how, request.ended.by) == ("approved-elsewhere", DEVELOPER)
    # Its terminal event lost, the sweep closed it out itself, once, naming who decided
    assert world.sent("closeout") == ["alice@example.com", "bob@example.com"]
    assert DEVELOPER in world.mail.messages[-1].body


def test_the_sweep_marks_reported_what_our_role_decided_before_the_crash(world: World) -> None:
    run(world, started())
    decide(world, APPROVED, reported=False)
    world.pipelines.waiting.clear()
    world.pipelines.finals[REF] = ("SUCCEEDED", OURS)
    world.later(3)
    run(world, sweep_event())
    request = world.store.requests[REF.key]
    assert request.outcome is not None and request.outcome.reported
    assert request.ended is not None and request.ended.how == "approved-here"
