"""Opening requests against the sandbox's pipelines: both paths, any order, any number of times → one email each."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codereflex.approvals.links import LinkSigner
from codereflex.aws.secrets import keyring_from_secret
from sandbox.aws.moto_ext import hold_builds
from tests.conftest import EVENTS
from tests.integration.approval_requests.conftest import (
    ALICE,
    BOB,
    CAROL,
    FUNCTION,
    PIPELINE,
    PROJECT,
    World,
    open_world,
)


def _requests(world: World) -> list[str]:
    items = world.sandbox.client("dynamodb").scan(TableName=world.refs["ApprovalsTable"])["Items"]
    return sorted(item["pk"]["S"] for item in items)


def _one_email_each(world: World, *approvers: str) -> None:
    for approver in (ALICE, BOB, CAROL):
        mails = world.mail(approver, "request")
        assert len(mails) == (1 if approver in approvers else 0), approver
        for mail in mails:
            assert mail.attributes == {"approver": approver, "kind": "request"}


# Every order of the EventBridge event (E) and the SNS message (S), each delivered twice.
ORDERS = sorted(set(itertools.permutations("EESS")))


@pytest.mark.parametrize("order", ORDERS, ids="".join)
def test_both_paths_in_any_order_and_twice_open_one_request_and_mail_each_approver_once(
    world: World, order: tuple[str, ...]
) -> None:
    # Given an execution waiting at its approval that no function has heard of yet
    world.pipeline(notify=False)
    ref, started = world.start_quietly()
    message = world.notification(ref)
    # When the action's STARTED event and CodePipeline's SNS message each arrive twice, in this order
    deliver: dict[str, Callable[[], Any]] = {"E": lambda: world.deliver(started), "S": lambda: world.publish(message)}
    outcomes = [invocation.result["outcome"] for step in order for invocation in deliver[step]()]
    # Then the first delivery opened the request and mailed each approver; every other did nothing more
    assert outcomes == ["opened", "duplicate", "duplicate", "duplicate"]
    assert _requests(world) == [f"request:{ref.key}"]
    _one_email_each(world, ALICE, BOB)


def test_concurrent_deliveries_of_both_paths_mail_each_approver_once(world: World) -> None:
    world.pipeline(notify=False)
    ref, started = world.start_quietly()
    message = world.notification(ref)
    deliveries = [lambda: world.deliver(started), lambda: world.publish(message)] * 3
    barrier = threading.Barrier(len(deliveries))
    errors: list[BaseException] = []

    def run(deliver: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            deliver()
        except BaseException as error:  # reported below, with the others
            errors.append(error)

    threads = [threading.Thread(target=run, args=(deliver,)) for deliver in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert _requests(world) == [f"request:{ref.key}"]
    _one_email_each(world, ALICE, BOB)


def test_a_pipeline_naming_the_topic_gets_one_request_from_its_two_messages(world: World) -> None:
    # Given a pipeline whose approval names the stack's approval topic
    world.pipeline(notify=True)
    # When an execution reaches the approval (CodePipeline sends the event and the SNS message)
    ref = world.start()
    # Then both reached the function, and each approver has one email with their own link
    triggers = [i.result["outcome"] for i in world.sandbox.deliveries if i.logical_id == FUNCTION]
    assert triggers == ["opened", "duplicate"]
    _one_email_each(world, ALICE, BOB)
    links = LinkSigner(keyring_from_secret(world.sandbox.client("secretsmanager"), world.refs["ApprovalLinkKey"]))
    for approver in (ALICE, BOB):
        (mail,) = world.mail(approver)
        assert PIPELINE in (mail.subject or "")
        (url,) = [word for word in mail.message.split() if "/a/" in word]
        link = links.read(url.rsplit("/a/", 1)[1], world.clock())
        assert (link.ref, link.approver) == (ref, approver)
    request = world.request(ref)
    assert (request.expires_at - world.clock()).total_seconds() == pytest.approx(120 * 60, abs=5)
    assert request.custom_data == "Release the payments service to production"
    assert [r.summary for r in request.revisions] == ["Partial refunds"]
    assert [b.action for b in request.builds] == ["Build"]


def test_a_superseded_executions_late_event_asks_nobody(world: World) -> None:
    # Given execution 1 waited at the approval, and execution 2 has superseded it there
    world.pipeline(notify=False)
    first, first_started = world.start_quietly()
    second, _ = world.start_quietly()
    # When execution 1's STARTED event arrives late
    (invocation,) = world.deliver(first_started)
    # Then nobody is asked to approve execution 1 (its token is dead; the approval waits on execution 2)
    assert invocation.result["outcome"] == "ignored"
    assert _requests(world) == []
    assert world.all_mail() == []
    assert second.execution_id != first.execution_id


def test_the_previous_executions_token_is_not_taken_for_the_next_one(world: World) -> None:
    # Given execution 1 waits at the approval, and execution 2 is still building (not yet at it)
    world.pipeline(notify=False)
    first, _ = world.start_quietly()
    hold_builds(PROJECT)
    with world.sandbox.undelivered():
        second = world.sandbox.pipelines.start(PIPELINE)
    # When an approval STARTED event names execution 2 (early, or forged by someone who can put events)
    event = json.loads(json.dumps(_started_for(world, first.execution_id)).replace(first.execution_id, second))
    (invocation,) = world.deliver(event)
    # Then the token GetPipelineState shows (execution 1's) is not used for execution 2
    assert invocation.result["outcome"] == "ignored"
    assert world.all_mail() == []


def _started_for(world: World, execution_id: str) -> dict[str, Any]:
    return next(
        e
        for e in world.sandbox.pipelines.events
        if e["detail"].get("action") == "Approve"
        and e["detail"]["state"] == "STARTED"
        and e["detail"]["execution-id"] == execution_id
    )


def test_parallel_mode_opens_through_either_path(world: World) -> None:
    # Given a PARALLEL pipeline (no token in GetPipelineState) naming the topic, with two executions waiting
    world.pipeline(notify=True, mode="PARALLEL")
    first = world.start()
    second = world.start()
    # Then each execution has its own request and each approver one email per execution
    assert _requests(world) == sorted([f"request:{first.key}", f"request:{second.key}"])
    for approver in (ALICE, BOB):
        assert len(world.mail(approver, "request")) == 2


def test_a_pipelines_tag_names_its_approvers(world: World) -> None:
    world.pipeline(tags={"codereflex:approvers": CAROL})
    ref = world.start()
    _one_email_each(world, CAROL)
    assert world.request(ref).approvers == (CAROL,)


def test_a_pipeline_with_no_approvers_anywhere_is_rejected_with_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for world in open_world(tmp_path, monkeypatch, {}):
        world.pipeline()
        world.start()
        rejected = [i.result for i in world.sandbox.deliveries if i.logical_id == FUNCTION]
        assert rejected
        assert all(r["outcome"] == "rejected" and r["reason"] == "configuration" for r in rejected)
        assert all(PIPELINE in r["error"] for r in rejected)
        assert world.all_mail() == []


def test_the_ssm_mapping_names_a_pipelines_approvers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parameters = {"ApprovalApprovers": ALICE, "ApprovalApproversParameter": "/codereflex/approvers"}
    for world in open_world(tmp_path, monkeypatch, parameters):
        mapping = {PIPELINE: {"approvers": [BOB, CAROL], "quorum": 2}}
        world.sandbox.client("ssm").put_parameter(
            Name="/codereflex/approvers", Type="String", Value=json.dumps(mapping)
        )
        world.pipeline()
        ref = world.start()
        _one_email_each(world, BOB, CAROL)
        assert world.request(ref).quorum == 2


def test_bad_input_is_rejected_with_a_reason_never_retried(world: World) -> None:
    bad: list[Any] = [{"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "{"}}]}, {"detail-type": 1}, []]
    for event in bad:
        invocation = world.sandbox.router.invoke_recorded(FUNCTION, event, env_overrides=world.sandbox.function_env())
        assert invocation.error is None
        assert invocation.result["outcome"] == "rejected"
        assert invocation.result["reason"] == "bad-event"


def test_an_approval_of_a_pipeline_codepipeline_cannot_find_is_final(world: World) -> None:
    event = json.loads((EVENTS / "approval_requests" / "action_started.json").read_text())
    event["detail"]["pipeline"] = "no-such-pipeline"
    (invocation,) = world.deliver(event)
    assert (invocation.result["outcome"], invocation.result["reason"]) == ("rejected", "target-gone")
    assert world.all_mail() == []
