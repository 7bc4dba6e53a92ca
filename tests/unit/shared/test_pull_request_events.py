"""The pull-request and comment models accept every real CodeCommit sample, string booleans included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codereflex.errors import BadEvent
from codereflex.events.pull_requests import (
    COMMENT_ON_COMMIT,
    COMMENT_ON_PULL_REQUEST,
    PULL_REQUEST_STATE_CHANGE,
    CommentEvent,
    PullRequestStateChangeEvent,
)
from tests.conftest import AWS_SAMPLES, EVENTS


def _files(*detail_types: str) -> list[Path]:
    candidates = sorted(AWS_SAMPLES.glob("codecommit-*.json")) + sorted(EVENTS.rglob("*.json"))
    return [p for p in candidates if json.loads(p.read_text()).get("detail-type") in detail_types]


@pytest.mark.parametrize("path", _files(PULL_REQUEST_STATE_CHANGE), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_pull_request_state_change_sample_parses(path: Path) -> None:
    # Given a real or project sample of a pull request state change
    raw = json.loads(path.read_text())
    # When it is parsed
    change = PullRequestStateChangeEvent.read(raw).detail
    # Then the string boolean and the title-case status are understood
    detail = raw["detail"]
    assert change.is_merged is (detail["isMerged"] == "True")
    assert change.is_open is (detail["pullRequestStatus"] == "Open" and detail["isMerged"] == "False")
    assert change.repository_name == detail["repositoryNames"][0]
    assert change.source_commit == detail["sourceCommit"]
    assert change.destination_commit == detail["destinationCommit"]
    assert change.revision_id == detail["revisionId"]


def test_the_samples_cover_created_updated_merged_and_closed() -> None:
    events = {json.loads(p.read_text())["detail"]["event"] for p in _files(PULL_REQUEST_STATE_CHANGE)}
    assert {
        "pullRequestCreated",
        "pullRequestSourceBranchUpdated",
        "pullRequestMergeStatusUpdated",
        "pullRequestStatusChanged",
    } <= events


def test_a_merged_pull_request_is_not_open() -> None:
    raw = json.loads((AWS_SAMPLES / "codecommit-pull-request-merged.json").read_text())
    change = PullRequestStateChangeEvent.read(raw).detail
    assert change.is_merged is True
    assert change.is_open is False


def test_a_boolean_that_is_not_a_boolean_is_refused() -> None:
    raw = json.loads((AWS_SAMPLES / "codecommit-pull-request-created.json").read_text())
    raw["detail"]["isMerged"] = "Maybe"
    with pytest.raises(BadEvent, match="isMerged"):
        PullRequestStateChangeEvent.read(raw)


@pytest.mark.parametrize(
    "path", _files(COMMENT_ON_PULL_REQUEST, COMMENT_ON_COMMIT), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_every_comment_sample_parses(path: Path) -> None:
    raw = json.loads(path.read_text())
    comment = CommentEvent.read(raw).detail
    assert comment.comment_id == raw["detail"]["commentId"]
    assert comment.caller_user_arn == raw["detail"]["callerUserArn"]
    assert comment.pull_request_id == raw["detail"].get("pullRequestId")


def test_a_repository_event_is_not_a_pull_request_event() -> None:
    raw = json.loads((AWS_SAMPLES / "codecommit-reference-created.json").read_text())
    with pytest.raises(BadEvent):
        PullRequestStateChangeEvent.read(raw)
