"""Which reference changes become notices, what the notice says, and that duplicates say nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from codereflex.events.codecommit import RepositoryStateChangeEvent
from repo_activity.logic import Activity, Ancestry, Outcome, Ports, classify, compose, handle, is_protected
from tests.fakes import FakeHistory, FakeOnce, FakePublisher

PROTECTED = ("main", "master", "release/*")
OLD = "9b2e4f6a8c0d1e3f5a7b9c1d3e5f7a9b1c3d5e7f"
NEW = "1d3f5b7d9f1b3d5f7b9d1f3b5d7f9b1d3f5b7d9f"
EventLoader = Callable[[str], dict[str, Any]]


def _envelope(load_event: EventLoader, name: str, **detail: Any) -> RepositoryStateChangeEvent:
    raw = load_event(f"repo_activity/{name}")
    raw["detail"].update(detail)
    return RepositoryStateChangeEvent.read(raw)


@pytest.mark.parametrize(
    ("branch", "protected"),
    [("main", True), ("master", True), ("release/2026.11", True), ("mainline", False), ("Main", False)],
)
def test_protected_branches_are_names_or_globs(branch: str, protected: bool) -> None:
    assert is_protected(branch, PROTECTED) is protected


def test_a_push_to_main_whose_old_tip_is_an_ancestor_is_a_plain_push(load_event: EventLoader) -> None:
    # Given CodeCommit says the merge base of old and new is the old tip
    envelope = _envelope(load_event, "force_push_main.json")
    history = FakeHistory({(OLD, NEW): OLD})
    # When it is classified
    decision = classify(envelope.detail, PROTECTED, history)
    # Then it is a push, not a force-push, and one question was asked
    assert decision == (Activity.PUSH, Ancestry.FAST_FORWARD)
    assert history.asked == [("payments-service", OLD, NEW)]


def test_a_push_that_drops_the_old_tip_is_a_force_push(load_event: EventLoader) -> None:
    # Given the merge base of old and new is some older commit
    envelope = _envelope(load_event, "force_push_main.json")
    history = FakeHistory({(OLD, NEW): "0" * 40})
    # When it is classified and composed
    decision = classify(envelope.detail, PROTECTED, history)
    assert decision == (Activity.FORCE_PUSH, Ancestry.REWRITTEN)
    notice = compose(envelope, *decision)
    # Then the email says so plainly and tells how to put the branch back
    assert notice.subject == "[codereflex] Force-push to protected branch main in payments-service"
    assert "FORCE-PUSH: the old tip is not an ancestor of the new tip" in notice.body
    assert f"git push origin {OLD}:refs/heads/main" in notice.body
    assert notice.attributes["event"] == "force-push"


def test_a_push_of_unrelated_history_is_a_force_push_of_its_own_kind(load_event: EventLoader) -> None:
    # Given CodeCommit finds no merge base of the old and new tips (an orphan history pushed over main)
    envelope = _envelope(load_event, "force_push_main.json")
    history = FakeHistory(unrelated={(OLD, NEW)})
    # When it is classified and composed
    decision = classify(envelope.detail, PROTECTED, history)
    assert decision == (Activity.FORCE_PUSH_UNRELATED_HISTORY, Ancestry.UNRELATED)
    notice = compose(envelope, *decision)
    # Then it is its own activity, and still a force-push to a filter on the event attribute
    assert (notice.attributes["event"], notice.attributes["activity"]) == ("force-push", "force-push-unrelated-history")
    assert notice.subject == (
        "[codereflex] Force-push of unrelated history to protected branch main in payments-service"
    )
    assert "FORCE-PUSH WITHOUT COMMON HISTORY: CodeCommit finds no merge base" in notice.body
    assert f"git push origin {OLD}:refs/heads/main" in notice.body


def test_an_ordinary_force_push_keeps_its_activity(load_event: EventLoader) -> None:
    envelope = _envelope(load_event, "force_push_main.json")
    decision = classify(envelope.detail, PROTECTED, FakeHistory({(OLD, NEW): "0" * 40}))
    assert decision is not None
    notice = compose(envelope, *decision)
    assert (notice.attributes["event"], notice.attributes["activity"]) == ("force-push", "force-push")


def test_an_uncomparable_push_is_announced_as_unverified(load_event: EventLoader) -> None:
    envelope = _envelope(load_event, "force_push_main.json")
    decision = classify(envelope.detail, PROTECTED, FakeHistory({(OLD, NEW): None}))
    assert decision == (Activity.PUSH, Ancestry.UNKNOWN)
    assert "not verified" in compose(envelope, *decision).body


def test_pushes_to_other_branches_cost_nothing(load_event: EventLoader) -> None:
    # Given a push to an unprotected branch
    envelope = _envelope(load_event, "feature_push_ignored.json")
    history = FakeHistory()
    # Then it is ignored without asking CodeCommit anything
    assert classify(envelope.detail, PROTECTED, history) is None
    assert history.asked == []


@pytest.mark.parametrize(
    ("name", "activity", "subject"),
    [
        ("branch_deleted.json", Activity.BRANCH_DELETED, "Branch feature/refunds deleted in payments-service"),
        ("tag_deleted.json", Activity.TAG_DELETED, "Tag v1.4.0 deleted in payments-service"),
        ("main_created.json", Activity.PROTECTED_BRANCH_CREATED, "Protected branch main created in payments-service"),
    ],
)
def test_deletions_and_protected_creations_are_announced(
    load_event: EventLoader, name: str, activity: Activity, subject: str
) -> None:
    envelope = _envelope(load_event, name)
    decision = classify(envelope.detail, PROTECTED, FakeHistory())
    assert decision is not None
    assert decision[0] is activity
    assert compose(envelope, *decision).subject == f"[codereflex] {subject}"


def test_the_notice_carries_what_a_reader_and_a_filter_need(load_event: EventLoader) -> None:
    # Given a deleted branch
    envelope = _envelope(load_event, "branch_deleted.json")
    notice = compose(envelope, Activity.BRANCH_DELETED, Ancestry.UNKNOWN)
    # Then the body names repository, reference, who, both commits and console links
    body = notice.body
    assert "Repository:  payments-service (us-east-1, account 123456789012)" in body
    assert "Reference:   refs/heads/feature/refunds" in body
    assert "Who:         arn:aws:sts::123456789012:assumed-role/Developer/alice" in body
    assert "Old commit:  7e9a1c3e5a7c9e1a3c5e7a9c1e3a5c7e9a1c3e5a" in body
    assert "New commit:  (none: the reference was deleted)" in body
    assert (
        "https://us-east-1.console.aws.amazon.com/codesuite/codecommit/repositories/payments-service/"
        "commit/7e9a1c3e5a7c9e1a3c5e7a9c1e3a5c7e9a1c3e5a?region=us-east-1"
    ) in body
    # And the attributes let subscribers filter by repository, reference and event
    assert notice.attributes == {
        "repository": "payments-service",
        "reference": "refs/heads/feature/refunds",
        "referenceType": "branch",
        "event": "branch-deleted",
        "activity": "branch-deleted",
    }


def test_a_sample_without_the_caller_says_so(aws_sample: EventLoader) -> None:
    envelope = RepositoryStateChangeEvent.read(aws_sample("codecommit-reference-deleted.json"))
    notice = compose(envelope, Activity.BRANCH_DELETED, Ancestry.UNKNOWN)
    assert "Who:         not stated in the event" in notice.body


def test_the_same_change_delivered_twice_is_published_once(load_event: EventLoader) -> None:
    # Given one deletion delivered twice (EventBridge and Lambda both may duplicate)
    envelope = _envelope(load_event, "branch_deleted.json")
    publisher, once = FakePublisher(), FakeOnce()
    # When both deliveries are handled
    ports = Ports(FakeHistory(), publisher, once)
    first, second = handle(envelope, ports, PROTECTED), handle(envelope, ports, PROTECTED)
    # Then one message went out and the second delivery reports a duplicate
    assert [first.outcome, second.outcome] == [Outcome.PUBLISHED, Outcome.DUPLICATE]
    assert len(publisher.messages) == 1


def test_the_same_push_again_later_is_a_new_notice(load_event: EventLoader) -> None:
    # Given the same old→new push made twice at different times (e.g. reverted and redone)
    publisher, once = FakePublisher(), FakeOnce()
    for when in ("2026-11-23T10:00:00Z", "2026-11-23T11:00:00Z"):
        raw = load_event("repo_activity/branch_deleted.json")
        raw["time"] = when
        handle(RepositoryStateChangeEvent.read(raw), Ports(FakeHistory(), publisher, once), PROTECTED)
    # Then both are announced
    assert len(publisher.messages) == 2


def test_ignored_changes_publish_nothing(load_event: EventLoader) -> None:
    publisher = FakePublisher()
    result = handle(
        _envelope(load_event, "feature_push_ignored.json"), Ports(FakeHistory(), publisher, FakeOnce()), PROTECTED
    )
    assert (result.outcome, result.notice, publisher.messages) == (Outcome.IGNORED, None, [])


def test_a_unicode_branch_name_reaches_the_body_intact(load_event: EventLoader) -> None:
    envelope = _envelope(
        load_event,
        "branch_deleted.json",
        referenceName="fonctionnalité/été",
        referenceFullName="refs/heads/fonctionnalité/été",
    )
    notice = compose(envelope, Activity.BRANCH_DELETED, Ancestry.UNKNOWN)
    assert "refs/heads/fonctionnalité/été" in notice.body
