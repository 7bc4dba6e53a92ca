"""The approvals table on moto's DynamoDB: one request per action, one answer per approver, one outcome."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import boto3
import moto
import pytest

from codereflex.approvals.model import (
    APPROVED,
    REJECTED,
    ActionRef,
    AlreadyAnswered,
    AlreadyDecided,
    Answer,
    BuildSummary,
    Ended,
    NotAsked,
    Outcome,
    Request,
    RequestNotFound,
    Revision,
)
from codereflex.aws.approvals import ApprovalStore
from sandbox.aws.moto_ext import dynamodb as atomic_dynamodb

TABLE = "approvals"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
REF = ActionRef("payments", "Prod", "Approve", "exec-1")
ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
T = TypeVar("T")


@pytest.fixture
def client() -> Iterator[Any]:
    atomic_dynamodb.patch()  # DynamoDB's conditional writes are atomic; moto's are once patched
    with moto.mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield dynamodb


@pytest.fixture
def store(client: Any) -> ApprovalStore:
    return ApprovalStore(client, TABLE)


def request(ref: ActionRef = REF, quorum: int = 1) -> Request:
    return Request(
        ref=ref,
        approvers=(ALICE, BOB, CAROL),
        quorum=quorum,
        separate_duties=False,
        expires_at=NOW + timedelta(days=7),
        link_expires_at=NOW + timedelta(days=1),
        custom_data="Release 4.2: see the change ticket",
        external_link="https://tickets.example.com/CHG-42",
        revisions=(Revision("Source", "c0ffee", "Fix rounding", "https://console/c0ffee", "dev@example.com", "Dev"),),
        builds=(BuildSummary("Test", "Succeeded", "412 tests passed", "https://console/build"),),
        created_at=NOW,
    )


def answer(who: str, status: str = APPROVED, minutes: int = 1) -> Answer:
    return Answer(who, APPROVED if status == APPROVED else REJECTED, f"{who} says so", NOW + timedelta(minutes=minutes))


def all_at_once(count: int, action: Callable[[int], T]) -> list[T]:
    """Run `action(i)` in `count` threads released together; their results in order.

    Threads switch every microsecond meanwhile, so a check-then-write race shows (without the
    sandbox's atomic writes, moto lets several conditional puts win in most rounds).
    """
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = action(index)
        except Exception as error:  # the test looks at what each thread got
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    return results


def test_a_request_reads_back_as_opened_with_its_ttl(store: ApprovalStore, client: Any) -> None:
    opened, created = store.open(request())
    assert created
    assert store.get(REF) == opened == request()
    item = client.get_item(TableName=TABLE, Key={"pk": {"S": f"request:{REF.key}"}})["Item"]
    assert int(item["ttl"]["N"]) == int((NOW + timedelta(days=37)).timestamp())
    assert store.get(REF._replace(execution_id="exec-2")) is None


def test_concurrent_opens_create_one_request_and_all_see_it(store: ApprovalStore) -> None:
    # The EventBridge and SNS paths, each delivered several times, arrive together.
    results = all_at_once(8, lambda i: store.open(request()._replace(created_at=NOW + timedelta(seconds=i))))
    created = [r for r in results if isinstance(r, tuple) and r[1]]
    assert len(created) == 1
    winner = created[0][0]
    assert all(isinstance(r, tuple) and r[0] == winner for r in results)
    assert store.get(REF) == winner


def test_answers_are_recorded_once_per_approver(store: ApprovalStore) -> None:
    store.open(request(quorum=2))
    after = store.answer(REF, answer(ALICE))
    assert dict(after.answers) == {ALICE: answer(ALICE)}
    with pytest.raises(AlreadyAnswered) as again:
        store.answer(REF, answer(ALICE, REJECTED, minutes=2))
    assert again.value.request == after
    with pytest.raises(NotAsked):
        store.answer(REF, answer("mallory@example.com"))
    with pytest.raises(RequestNotFound):
        store.answer(REF._replace(execution_id="exec-2"), answer(ALICE))
    assert store.get(REF) == after


def test_two_concurrent_decisive_answers_give_exactly_one_outcome(store: ApprovalStore) -> None:
    store.open(request())

    def decide(index: int) -> bool:
        who, status = [(ALICE, APPROVED), (BOB, REJECTED)][index]
        given = answer(who, status)
        recorded = store.answer(REF, given)
        return store.claim_outcome(REF, recorded.outcome_for(given))

    results = all_at_once(2, decide)
    assert results.count(True) == 1
    # The other lost the claim, or came after it and was refused its answer.
    loser = next(r for r in results if r is not True)
    assert loser is False or isinstance(loser, AlreadyDecided)
    outcome = store.get(REF)
    assert outcome is not None and outcome.outcome is not None
    assert not outcome.outcome.reported
    with pytest.raises(AlreadyDecided) as late:
        store.answer(REF, answer(CAROL))
    assert late.value.request == outcome


def test_many_concurrent_claims_have_one_winner(store: ApprovalStore) -> None:
    store.open(request())
    outcome = Outcome(APPROVED, (ALICE,), "ok", NOW)
    assert all_at_once(6, lambda i: store.claim_outcome(REF, outcome)).count(True) == 1


def test_a_reported_outcome_is_no_longer_unreported(store: ApprovalStore) -> None:
    store.open(request())
    store.open(request(REF._replace(execution_id="exec-2")))
    store.claim_outcome(REF, Outcome(APPROVED, (ALICE,), "ok", NOW))
    assert [r.ref for r in store.unreported(NOW + timedelta(minutes=5))] == [REF]
    assert list(store.unreported(NOW - timedelta(seconds=1))) == []  # a claim this recent may still be reporting
    assert store.mark_reported(REF)
    assert not store.mark_reported(REF)
    assert list(store.unreported(NOW + timedelta(minutes=5))) == []
    held = store.get(REF)
    assert held is not None and held.outcome == Outcome(APPROVED, (ALICE,), "ok", NOW, reported=True)


def test_an_ended_action_takes_no_answers_or_claims_and_keeps_its_first_ending(store: ApprovalStore) -> None:
    store.open(request())
    assert store.mark_ended(REF, Ended("superseded", NOW))
    assert not store.mark_ended(REF, Ended("abandoned", NOW + timedelta(minutes=1)))
    with pytest.raises(AlreadyDecided) as refused:
        store.answer(REF, answer(ALICE))
    assert refused.value.request is not None and refused.value.request.ended == Ended("superseded", NOW)
    assert not store.claim_outcome(REF, Outcome(APPROVED, (ALICE,), "", NOW))
    assert list(store.open_requests()) == []


def test_reminders_and_close_outs_are_claimed_once(store: ApprovalStore) -> None:
    store.open(request())
    assert all_at_once(4, lambda i: store.mark_reminded(REF)).count(True) == 1
    assert store.mark_closed_out(REF)
    assert not store.mark_closed_out(REF)
    held = store.get(REF)
    assert held is not None and (held.reminded, held.closed_out) == (True, True)
    assert not store.mark_reminded(REF._replace(execution_id="never-opened"))


def test_open_requests_pages_through_every_request_not_ended(store: ApprovalStore) -> None:
    refs = [REF._replace(execution_id=f"exec-{i}") for i in range(30)]
    for ref in refs:
        store.open(request(ref))
    store.mark_ended(refs[0], Ended("expired", NOW))
    assert sorted(r.ref.execution_id for r in store.open_requests()) == sorted(r.execution_id for r in refs[1:])


def test_a_hooks_giving_up_and_a_persons_decision_never_both_stand(store: ApprovalStore) -> None:
    # A deployment hook's question: the page claims an outcome while the hook, at its end, closes it
    ref = ActionRef.deployment_hook("orders", "prod", "BeforeAllowTraffic", "d-ABC")
    for round_ in range(6):
        asked = ref._replace(execution_id=f"d-{round_}")
        store.open(request(asked))
        outcome = Outcome(APPROVED, (ALICE,), "ok", NOW)
        expired = Ended("expired", NOW + timedelta(minutes=10))

        def race(index: int, asked: ActionRef = asked, outcome: Outcome = outcome, expired: Ended = expired) -> bool:
            return store.claim_outcome(asked, outcome) if index == 0 else store.close_undecided(asked, expired)

        won = all_at_once(2, race)
        assert won.count(True) == 1, won
        held = store.get(asked)
        assert held is not None
        assert (held.outcome is not None) == won[0] and (held.ended is not None) == won[1]
    # And once closed, nothing is answered or claimed; once claimed, the close is refused
    closed = ref._replace(execution_id="d-closed")
    store.open(request(closed))
    assert store.close_undecided(closed, Ended("expired", NOW))
    assert not store.claim_outcome(closed, Outcome(APPROVED, (ALICE,), "late", NOW))
    with pytest.raises(AlreadyDecided):
        store.answer(closed, answer(ALICE))
    assert not store.close_undecided(closed, Ended("abandoned", NOW))
