"""A deployment hook's request on the real page over HTTP: decided by its record alone, never a CodePipeline call.

The hook (not here yet) opens the request and polls it; these tests store the request as it does,
play its `close_undecided` with the store the functions use, and look at the record it would read.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from codereflex.approvals.model import Ended, Request

from .conftest import ALICE, BOB, CAROL, World
from .web import form_token, http


def _post(url: str, form: str, decision: str = "approve", reason: str = "error rate is flat") -> int:
    return http("POST", url, {"form": form, "decision": decision, "reason": reason}).status


def _held(world: World, request: Request) -> Request:
    held = world.store.get(request.ref)
    assert held is not None
    return held


def test_the_recorder_sees_a_pipelines_decision_so_an_empty_one_means_something(
    world: World, codepipeline_calls: list[str]
) -> None:
    ref = world.waiting()
    world.open(ref)
    url = world.link(ref)
    assert _post(url, form_token(http("GET", url).body)) == 303
    assert "PutApprovalResult" in codepipeline_calls and "GetPipelineState" in codepipeline_calls


@pytest.mark.parametrize(
    ("decision", "status", "then"),
    [("approve", "Approved", "the deployment goes on"), ("reject", "Rejected", "the deployment fails")],
)
def test_an_approver_decides_a_deployment_on_its_page_and_the_record_is_the_decision(
    world: World, codepipeline_calls: list[str], decision: str, status: str, then: str
) -> None:
    request = world.deployment()
    ref = request.ref
    url = world.link(ref, ALICE, request.link_expires_at)

    shown = http("GET", url)
    assert shown.status == 200, shown.body
    heading = f"Approve deployment {ref.execution_id} of payments-api (payments-prod) at BeforeAllowTraffic?"
    assert heading in shown.body
    assert "Checks of this hook" in shown.body and "error-rate inconclusive: only 3 of 10 datapoints" in shown.body
    assert "Why a person is asked" in shown.body
    assert shown.headers["Content-Security-Policy"].startswith("default-src 'none'")

    assert _post(url, form_token(shown.body), decision, "checked the dashboard") == 303
    held = _held(world, request)
    assert held.outcome is not None
    assert (held.outcome.status, held.outcome.by, held.outcome.reason) == (status, (ALICE,), "checked the dashboard")
    assert held.outcome.reported  # what the hook polls for
    assert held.ended is None  # the hook ends it, once it has told CodeDeploy

    again = http("GET", url).body
    assert f"{status} by {ALICE} at " in again and f"The hook reports it to CodeDeploy: {then}." in again
    assert "<form" not in again
    assert codepipeline_calls == []


def test_a_quorum_of_two_decides_a_deployment_only_at_the_second_approval(
    world: World, codepipeline_calls: list[str]
) -> None:
    request = world.deployment(quorum=2)
    alice, bob = (world.link(request.ref, who, request.link_expires_at) for who in (ALICE, BOB))
    assert _post(alice, form_token(http("GET", alice).body), reason="first") == 303
    assert _held(world, request).outcome is None
    assert "Waiting for more approvals (1 of 2)" in http("GET", alice).body
    assert _post(bob, form_token(http("GET", bob).body), reason="second") == 303
    outcome = _held(world, request).outcome
    assert outcome is not None and outcome.reported
    assert (outcome.status, outcome.by, outcome.reason) == ("Approved", (ALICE, BOB), "first; second")
    assert codepipeline_calls == []


def test_a_replayed_post_and_a_second_tab_decide_nothing_more(world: World, codepipeline_calls: list[str]) -> None:
    request = world.deployment()
    alice, bob = (world.link(request.ref, who, request.link_expires_at) for who in (ALICE, BOB))
    first_tab, second_tab = form_token(http("GET", alice).body), form_token(http("GET", alice).body)
    bobs_tab = form_token(http("GET", bob).body)  # Bob opened his link before Alice decided
    assert _post(alice, first_tab, reason="first") == 303
    decided = _held(world, request)
    assert [_post(alice, first_tab, reason="replay") for _ in range(2)] == [303, 303]
    assert _post(alice, second_tab, "reject", "second tab") == 303
    assert _post(bob, bobs_tab, "reject", "too late") == 303
    assert _held(world, request) == decided  # one answer, one outcome: Alice's approval
    assert decided.outcome is not None and decided.outcome.by == (ALICE,) and list(decided.answers) == [ALICE]
    page = http("GET", bob).body
    assert f"Approved by {ALICE}" in page and "<form" not in page
    assert codepipeline_calls == []


def test_a_genuine_link_of_one_deployment_cannot_decide_another(world: World, codepipeline_calls: list[str]) -> None:
    a, b = world.deployment(), world.deployment()
    link_a, link_b = world.link(a.ref, ALICE, a.link_expires_at), world.link(b.ref, ALICE, b.link_expires_at)
    form_a = form_token(http("GET", link_a).body)
    # A's own form token, posted to the path of B's link: the form token is bound to A's link.
    answer = http("POST", link_b, {"form": form_a, "decision": "approve", "reason": "wrong tab"})
    assert answer.status == 403 and "This form could not be accepted" in answer.body
    # A's link itself only ever reaches A's record, whatever the page was opened from.
    assert _post(link_a, form_a) == 303
    assert _held(world, a).outcome is not None
    held_b = _held(world, b)
    assert held_b.outcome is None and held_b.answers == {}
    assert "<form" in http("GET", link_b).body  # B still waits for its own approvers
    assert codepipeline_calls == []


@pytest.mark.parametrize(
    ("how", "says"),
    [("expired", "The hook stopped waiting at "), ("abandoned", "before anyone decided; the hook no longer waits")],
)
def test_a_request_the_hook_closed_refuses_the_post_and_says_the_hook_stopped_waiting(
    world: World, codepipeline_calls: list[str], how: str, says: str
) -> None:
    request = world.deployment()
    url = world.link(request.ref, ALICE, request.link_expires_at)
    form = form_token(http("GET", url).body)  # the page was open when the hook gave up
    assert world.store.close_undecided(request.ref, Ended(how, datetime.now(UTC)))  # type: ignore[arg-type]
    assert _post(url, form) == 303  # a POST never renders a page; the page it goes back to says why
    held = _held(world, request)
    assert held.outcome is None and held.answers == {}
    page = http("GET", url).body
    assert says in page and "<form" not in page
    if how == "expired":
        assert "the deployment failed closed" in page
    assert codepipeline_calls == []


# How much later each side starts (page, hook) in seconds: a sure win each way at the ends, races between.
_STAGGER = [(0.5, 0.0), (0.0, 0.0), (0.0, 0.005), (0.0, 0.01), (0.0, 0.02), (0.0, 0.04), (0.0, 0.5)]


def _race(world: World, url: str, form: str, request: Request, *, page_delay: float, hook_delay: float) -> bool:
    """The page's POST and the hook's close_undecided, started together; whether the close took."""
    barrier = threading.Barrier(2)
    closed: list[bool] = []

    def page() -> None:
        barrier.wait()
        time.sleep(page_delay)
        _post(url, form)

    def hook() -> None:
        barrier.wait()
        time.sleep(hook_delay)
        closed.append(world.store.close_undecided(request.ref, Ended("expired", datetime.now(UTC))))

    threads = [threading.Thread(target=page), threading.Thread(target=hook)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [took] = closed
    return took


def test_a_post_racing_the_hooks_close_undecided_exactly_one_of_them_wins(
    world: World, codepipeline_calls: list[str]
) -> None:
    winners = []
    for page_delay, hook_delay in _STAGGER:
        request = world.deployment(approvers=(ALICE, BOB, CAROL))
        url = world.link(request.ref, ALICE, request.link_expires_at)
        form = form_token(http("GET", url).body)
        closed = _race(world, url, form, request, page_delay=page_delay, hook_delay=hook_delay)
        held = _held(world, request)
        # Exactly one stands: the hook's close (no outcome) or the page's claim (the close refused).
        assert (held.outcome is None, held.ended is not None) == (closed, closed)
        shown = http("GET", url).body
        assert ("The hook stopped waiting" in shown) == closed
        assert (f"Approved by {ALICE}" in shown) != closed
        winners.append("hook" if closed else "page")
    print("race winners:", winners)
    assert winners[0] == "hook" and winners[-1] == "page"  # both sides can win: each outcome was checked
    assert codepipeline_calls == []
