"""Pull requests: commits resolved from git, idempotent creation, status, revisions and approvals."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest

from sandbox.aws.moto_ext import refresh_pull_request, refresh_pull_requests

from .conftest import open_pull_request

if TYPE_CHECKING:
    from mypy_boto3_codecommit import CodeCommitClient
    from mypy_boto3_codecommit.type_defs import TargetTypeDef

    from .conftest import Aws, FeatureBranch


def test_create_pull_request_resolves_its_commits_from_git(
    aws: Aws, codecommit: CodeCommitClient, feature_branch: FeatureBranch
) -> None:
    # Given main has moved on since feature was cut
    main = feature_branch.repo.commit("main", {"CHANGELOG.md": "next"})
    merge_base = str(feature_branch.repo.repo.merge_base(feature_branch.feature, main))

    # When a pull request is opened from feature into main
    created = open_pull_request(codecommit, description="Says hello")

    # Then it records both tips, their merge base, and the caller as author
    target = created["pullRequestTargets"][0]
    assert (target["sourceCommit"], target["destinationCommit"], target["mergeBase"]) == (
        feature_branch.feature,
        main,
        merge_base,
    )
    assert (target["sourceReference"], target["destinationReference"]) == ("refs/heads/feature", "refs/heads/main")
    assert target["mergeMetadata"]["isMerged"] is False
    assert created["pullRequestStatus"] == "OPEN"
    assert created["authorArn"] == aws.sts().get_caller_identity()["Arn"]
    assert created["revisionId"]
    # And GetPullRequest returns the same pull request
    fetched = codecommit.get_pull_request(pullRequestId=created["pullRequestId"])["pullRequest"]
    assert fetched == created


def test_pull_request_ids_are_increasing_numbers(codecommit: CodeCommitClient, feature_branch: FeatureBranch) -> None:
    # Given one pull request
    first = open_pull_request(codecommit)

    # When another is opened
    second = open_pull_request(codecommit, title="Another")

    # Then its id is the next number
    assert int(second["pullRequestId"]) == int(first["pullRequestId"]) + 1


def test_destination_defaults_to_the_default_branch(
    codecommit: CodeCommitClient, feature_branch: FeatureBranch
) -> None:
    # Given a repository whose default branch is main
    # When a pull request names only its source
    created = codecommit.create_pull_request(
        title="No destination", targets=[{"repositoryName": "app", "sourceReference": "refs/heads/feature"}]
    )["pullRequest"]

    # Then it targets main
    assert created["pullRequestTargets"][0]["destinationReference"] == "refs/heads/main"


def test_create_pull_request_with_a_reused_token_returns_the_original(
    codecommit: CodeCommitClient, feature_branch: FeatureBranch
) -> None:
    # Given a pull request opened with a client request token
    token = str(uuid.uuid4())
    original = open_pull_request(codecommit, clientRequestToken=token)

    # When the same request is sent again
    repeated = open_pull_request(codecommit, clientRequestToken=token)

    # Then no second pull request exists
    assert repeated["pullRequestId"] == original["pullRequestId"]
    assert repeated["clientRequestToken"] == token
    assert codecommit.list_pull_requests(repositoryName="app")["pullRequestIds"] == [original["pullRequestId"]]
    # And reusing the token with different parameters is refused
    with pytest.raises(codecommit.exceptions.IdempotencyParameterMismatchException):
        open_pull_request(codecommit, title="Changed title", clientRequestToken=token)


def test_create_pull_request_rejects_bad_targets(codecommit: CodeCommitClient, feature_branch: FeatureBranch) -> None:
    # Given repository app with main and feature
    def targets(source: str, destination: str = "main", repository: str = "app") -> list[TargetTypeDef]:
        return [{"repositoryName": repository, "sourceReference": source, "destinationReference": destination}]

    # When a target is wrong, Then CodeCommit's errors come back
    with pytest.raises(codecommit.exceptions.SourceAndDestinationAreSameException):
        codecommit.create_pull_request(title="t", targets=targets("main"))
    with pytest.raises(codecommit.exceptions.ReferenceDoesNotExistException):
        codecommit.create_pull_request(title="t", targets=targets("nope"))
    with pytest.raises(codecommit.exceptions.ReferenceTypeNotSupportedException):
        codecommit.create_pull_request(title="t", targets=targets("refs/tags/v1"))
    with pytest.raises(codecommit.exceptions.RepositoryDoesNotExistException):
        codecommit.create_pull_request(title="t", targets=targets("feature", repository="nope"))
    with pytest.raises(codecommit.exceptions.PullRequestDoesNotExistException):
        codecommit.get_pull_request(pullRequestId="999")


def test_closing_a_pull_request_is_final_and_listed(
    codecommit: CodeCommitClient, feature_branch: FeatureBranch
) -> None:
    # Given two open pull requests
    closing = open_pull_request(codecommit)
    staying = open_pull_request(codecommit, title="Stays open")

    # When one is closed
    closed = codecommit.update_pull_request_status(pullRequestId=closing["pullRequestId"], pullRequestStatus="CLOSED")

    # Then it reports CLOSED, the status filter sees it, and it cannot be reopened
    assert closed["pullRequest"]["pullRequestStatus"] == "CLOSED"
    listed = codecommit.list_pull_requests(repositoryName="app", pullRequestStatus="OPEN")["pullRequestIds"]
    assert listed == [staying["pullRequestId"]]
    with pytest.raises(codecommit.exceptions.InvalidPullRequestStatusUpdateException):
        codecommit.update_pull_request_status(pullRequestId=closing["pullRequestId"], pullRequestStatus="OPEN")


def test_list_pull_requests_pages_and_filters_by_author(
    aws: Aws, codecommit: CodeCommitClient, feature_branch: FeatureBranch
) -> None:
    # Given three pull requests, one of them opened by a bot role
    mine = [open_pull_request(codecommit)["pullRequestId"] for _ in range(2)]
    bot = aws.codecommit(aws.assume_role("pr-bot", "bot"))
    theirs = open_pull_request(bot, title="From the bot")

    # When listing two per page, and then by author
    pages = list(
        codecommit.get_paginator("list_pull_requests").paginate(repositoryName="app", PaginationConfig={"PageSize": 2})
    )
    by_bot = codecommit.list_pull_requests(repositoryName="app", authorArn=theirs["authorArn"])["pullRequestIds"]

    # Then every pull request is listed once, and the author filter finds the bot's only
    assert [pr_id for page in pages for pr_id in page["pullRequestIds"]] == [*mine, theirs["pullRequestId"]]
    assert len(pages) == 2
    assert by_bot == [theirs["pullRequestId"]]


def test_refresh_after_a_push_moves_the_source_and_issues_a_new_revision(
    codecommit: CodeCommitClient, feature_branch: FeatureBranch
) -> None:
    # Given an open pull request
    opened = open_pull_request(codecommit)

    # When nothing was pushed, Then a refresh changes nothing
    assert refresh_pull_request("app", opened["pullRequestId"]) is None

    # When the source branch gets a new commit and the push hook refreshes the pull request
    pushed = feature_branch.repo.commit("feature", {"src/app.py": "print('hello again')\n"})
    refreshed = refresh_pull_request("app", opened["pullRequestId"])

    # Then the pull request follows the new tip under a new revision
    fetched = codecommit.get_pull_request(pullRequestId=opened["pullRequestId"])["pullRequest"]
    assert refreshed is not None
    assert fetched["revisionId"] == refreshed["revisionId"] != opened["revisionId"]
    assert fetched["pullRequestTargets"][0]["sourceCommit"] == pushed
    assert fetched["pullRequestTargets"][0]["destinationCommit"] == feature_branch.main


def test_refresh_pull_requests_only_touches_pull_requests_from_the_pushed_branch(
    codecommit: CodeCommitClient, feature_branch: FeatureBranch
) -> None:
    # Given pull requests from two branches
    from_feature = open_pull_request(codecommit)
    feature_branch.repo.commit("other", {"other.txt": "x"}, parent=feature_branch.main)
    from_other = codecommit.create_pull_request(
        title="Other", targets=[{"repositoryName": "app", "sourceReference": "other", "destinationReference": "main"}]
    )["pullRequest"]

    # When both branches move but only feature's push is reported
    feature_branch.repo.commit("feature", {"more.txt": "x"})
    feature_branch.repo.commit("other", {"more.txt": "y"})
    updated = refresh_pull_requests("app", "feature")

    # Then only the feature pull request got a new revision
    assert [pr["pullRequestId"] for pr in updated] == [from_feature["pullRequestId"]]
    unchanged = codecommit.get_pull_request(pullRequestId=from_other["pullRequestId"])["pullRequest"]
    assert unchanged["revisionId"] == from_other["revisionId"]


def test_approve_then_revoke_per_revision(
    aws: Aws, codecommit: CodeCommitClient, feature_branch: FeatureBranch
) -> None:
    # Given a pull request and a reviewer other than its author
    opened = open_pull_request(codecommit)
    reviewer_credentials = aws.assume_role("reviewer", "alice")
    reviewer = aws.codecommit(reviewer_credentials)
    reviewer_arn = aws.sts(reviewer_credentials).get_caller_identity()["Arn"]
    pr_id, revision = opened["pullRequestId"], opened["revisionId"]

    # When the reviewer approves
    reviewer.update_pull_request_approval_state(pullRequestId=pr_id, revisionId=revision, approvalState="APPROVE")

    # Then the approval is recorded for that revision
    states = codecommit.get_pull_request_approval_states(pullRequestId=pr_id, revisionId=revision)["approvals"]
    assert states == [{"userArn": reviewer_arn, "approvalState": "APPROVE"}]

    # When the reviewer revokes, Then the approval is gone
    reviewer.update_pull_request_approval_state(pullRequestId=pr_id, revisionId=revision, approvalState="REVOKE")
    assert codecommit.get_pull_request_approval_states(pullRequestId=pr_id, revisionId=revision)["approvals"] == []


def test_approval_of_a_stale_revision_is_refused(
    aws: Aws, codecommit: CodeCommitClient, feature_branch: FeatureBranch
) -> None:
    # Given an approved pull request whose source branch then moved
    opened = open_pull_request(codecommit)
    reviewer = aws.codecommit(aws.assume_role("reviewer", "alice"))
    pr_id, old_revision = opened["pullRequestId"], opened["revisionId"]
    reviewer.update_pull_request_approval_state(pullRequestId=pr_id, revisionId=old_revision, approvalState="APPROVE")
    feature_branch.repo.commit("feature", {"late.txt": "fix"})
    new_revision = (refresh_pull_request("app", pr_id) or {})["revisionId"]

    # When the reviewer approves the old revision, Then it is refused as not current
    with pytest.raises(codecommit.exceptions.RevisionNotCurrentException):
        reviewer.update_pull_request_approval_state(
            pullRequestId=pr_id, revisionId=old_revision, approvalState="APPROVE"
        )
    # And approvals belong to their revision: the new one starts with none
    assert codecommit.get_pull_request_approval_states(pullRequestId=pr_id, revisionId=new_revision)["approvals"] == []
    assert (
        len(codecommit.get_pull_request_approval_states(pullRequestId=pr_id, revisionId=old_revision)["approvals"]) == 1
    )


def test_author_cannot_approve_and_closed_pull_requests_cannot_be_approved(
    aws: Aws, codecommit: CodeCommitClient, feature_branch: FeatureBranch
) -> None:
    # Given a pull request
    opened = open_pull_request(codecommit)
    pr_id, revision = opened["pullRequestId"], opened["revisionId"]

    # When its author approves, Then it is refused
    with pytest.raises(codecommit.exceptions.PullRequestCannotBeApprovedByAuthorException):
        codecommit.update_pull_request_approval_state(pullRequestId=pr_id, revisionId=revision, approvalState="APPROVE")

    # When someone else approves after it was closed, Then it is refused as closed
    codecommit.update_pull_request_status(pullRequestId=pr_id, pullRequestStatus="CLOSED")
    reviewer = aws.codecommit(aws.assume_role("reviewer", "alice"))
    with pytest.raises(codecommit.exceptions.PullRequestAlreadyClosedException):
        reviewer.update_pull_request_approval_state(pullRequestId=pr_id, revisionId=revision, approvalState="APPROVE")
