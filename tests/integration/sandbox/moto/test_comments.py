"""Comments on pull requests and compared commits: authorship, idempotency, limits, validation, paging."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from codereflex.aws.codecommit import CodeCommitComments
from codereflex.errors import CodeReflexError
from sandbox.aws.moto_ext import refresh_pull_request

from .conftest import open_pull_request

if TYPE_CHECKING:
    from mypy_boto3_codecommit import CodeCommitClient
    from mypy_boto3_codecommit.type_defs import LocationTypeDef

    from .conftest import Aws, FeatureBranch

COMMENT_FIELDS = {
    "commentId",
    "content",
    "authorArn",
    "creationDate",
    "lastModifiedDate",
    "deleted",
    "clientRequestToken",
    "callerReactions",
    "reactionCounts",
}


def _post(client: CodeCommitClient, pull_request: dict[str, Any], content: str, **extra: Any) -> dict[str, Any]:
    """PostCommentForPullRequest with the commit ids as the input doc defines them."""
    target = pull_request["pullRequestTargets"][0]
    params: dict[str, Any] = {
        "pullRequestId": pull_request["pullRequestId"],
        "repositoryName": target["repositoryName"],
        "beforeCommitId": target["destinationCommit"],
        "afterCommitId": target["sourceCommit"],
        "content": content,
        **extra,
    }
    return dict(client.post_comment_for_pull_request(**params))


def _comments_on(client: CodeCommitClient, pull_request_id: str) -> list[dict[str, Any]]:
    threads = client.get_comments_for_pull_request(pullRequestId=pull_request_id)["commentsForPullRequestData"]
    return [dict(comment) for thread in threads for comment in thread["comments"]]


def test_pull_request_comment_is_stored_with_its_author_and_read_back(
    aws: Aws, codecommit: CodeCommitClient, feature_branch: FeatureBranch
) -> None:
    # Given an open pull request
    pull_request = open_pull_request(codecommit)

    # When a comment is posted on its difference
    posted = _post(codecommit, pull_request, "Build passed", clientRequestToken="build-1")

    # Then the comment carries CodeCommit's fields, authored by the caller
    comment = posted["comment"]
    assert comment.keys() >= COMMENT_FIELDS
    assert comment["content"] == "Build passed"
    assert comment["authorArn"] == aws.sts().get_caller_identity()["Arn"]
    assert comment["deleted"] is False
    assert comment["clientRequestToken"] == "build-1"
    assert (comment["callerReactions"], comment["reactionCounts"]) == ([], {})
    assert comment["lastModifiedDate"] == comment["creationDate"]
    # And the pull request's comments list it under the compared commits
    (thread,) = codecommit.get_comments_for_pull_request(pullRequestId=pull_request["pullRequestId"])[
        "commentsForPullRequestData"
    ]
    assert (thread["beforeCommitId"], thread["afterCommitId"]) == (feature_branch.main, feature_branch.feature)
    assert thread["comments"] == [comment]


@pytest.mark.parametrize("post_as", ["iam-user", "assumed-role"])
def test_author_arn_is_the_callers_identity(
    aws: Aws, codecommit: CodeCommitClient, feature_branch: FeatureBranch, post_as: str
) -> None:
    # Given a caller other than the default one
    credentials = aws.iam_user("ci-bot") if post_as == "iam-user" else aws.assume_role("commenter", "build-42")
    pull_request = open_pull_request(codecommit)

    # When that caller comments
    comment = _post(aws.codecommit(credentials), pull_request, "From a bot")["comment"]

    # Then the author is who STS says that caller is, not the default identity
    assert comment["authorArn"] == aws.sts(credentials).get_caller_identity()["Arn"]
    assert comment["authorArn"] != aws.sts().get_caller_identity()["Arn"]


def test_same_token_and_parameters_return_the_original_comment(
    codecommit: CodeCommitClient, feature_branch: FeatureBranch
) -> None:
    # Given a comment posted with a deterministic token (e.g. derived from an event id)
    pull_request = open_pull_request(codecommit)
    token = str(uuid.uuid5(uuid.NAMESPACE_URL, "event/1234"))
    first = _post(codecommit, pull_request, "Build failed", clientRequestToken=token)

    # When the same event is delivered again
    second = _post(codecommit, pull_request, "Build failed", clientRequestToken=token)

    # Then the original comment comes back and no duplicate exists
    assert second["comment"]["commentId"] == first["comment"]["commentId"]
    assert [comment["commentId"] for comment in _comments_on(codecommit, pull_request["pullRequestId"])] == [
        first["comment"]["commentId"]
    ]


def test_same_token_with_different_content_is_a_mismatch(
    codecommit: CodeCommitClient, feature_branch: FeatureBranch
) -> None:
    # Given a comment posted with a token
    pull_request = open_pull_request(codecommit)
    _post(codecommit, pull_request, "Build failed", clientRequestToken="build-7")

    # When the token is reused with other content, Then it is refused and nothing is added
    with pytest.raises(codecommit.exceptions.IdempotencyParameterMismatchException):
        _post(codecommit, pull_request, "Build passed", clientRequestToken="build-7")
    assert len(_comments_on(codecommit, pull_request["pullRequestId"])) == 1


def test_comment_size_limits(codecommit: CodeCommitClient, feature_branch: FeatureBranch) -> None:
    # Given an open pull request
    pull_request = open_pull_request(codecommit)

    # When a comment is exactly at the limit, Then it is accepted
    assert len(_post(codecommit, pull_request, "x" * 10_240)["comment"]["content"]) == 10_240

    # When it is one character over, or empty, Then it is refused
    with pytest.raises(codecommit.exceptions.CommentContentSizeLimitExceededException):
        _post(codecommit, pull_request, "x" * 10_241)
    with pytest.raises(codecommit.exceptions.CommentContentRequiredException):
        _post(codecommit, pull_request, "")


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"repositoryName": "nope"}, "RepositoryDoesNotExistException"),
        ({"pullRequestId": "999"}, "PullRequestDoesNotExistException"),
        ({"afterCommitId": "f" * 40}, "CommitDoesNotExistException"),
        ({"afterCommitId": "abc1234"}, "InvalidCommitIdException"),
        ({"beforeCommitId": "AFTER"}, "BeforeCommitIdAndAfterCommitIdAreSameException"),
    ],
)
def test_post_comment_for_pull_request_validates_its_target(
    codecommit: CodeCommitClient, feature_branch: FeatureBranch, override: dict[str, str], error: str
) -> None:
    # Given an open pull request
    pull_request = open_pull_request(codecommit)
    # ("AFTER" stands for the after commit, so that before and after are equal.)
    extra = {key: feature_branch.feature if value == "AFTER" else value for key, value in override.items()}

    # When one parameter names something wrong
    with pytest.raises(ClientError) as raised:
        _post(codecommit, pull_request, "Hello", **extra)

    # Then CodeCommit's error for it comes back and nothing is stored
    assert raised.value.response["Error"]["Code"] == error
    assert _comments_on(codecommit, pull_request["pullRequestId"]) == []


def test_only_the_author_can_update_a_comment(
    aws: Aws, codecommit: CodeCommitClient, feature_branch: FeatureBranch
) -> None:
    # Given a comment by the default caller
    pull_request = open_pull_request(codecommit)
    comment = _post(codecommit, pull_request, "Build running")["comment"]

    # When its author edits it, Then the content changes and the comment is marked modified
    updated = codecommit.update_comment(commentId=comment["commentId"], content="Build passed")["comment"]
    assert updated["content"] == "Build passed"
    assert updated["lastModifiedDate"] >= comment["lastModifiedDate"]
    assert updated["commentId"] == comment["commentId"]

    # When another caller edits it, Then it is refused and the content stays
    other = aws.codecommit(aws.assume_role("other-bot", "intruder"))
    with pytest.raises(codecommit.exceptions.CommentNotCreatedByCallerException):
        other.update_comment(commentId=comment["commentId"], content="Hijacked")
    assert codecommit.get_comment(commentId=comment["commentId"])["comment"]["content"] == "Build passed"


def test_deleted_and_unknown_comments_cannot_be_updated(
    codecommit: CodeCommitClient, feature_branch: FeatureBranch
) -> None:
    # Given a comment whose content was deleted
    pull_request = open_pull_request(codecommit)
    comment = _post(codecommit, pull_request, "Oops")["comment"]
    deleted = codecommit.delete_comment_content(commentId=comment["commentId"])["comment"]
    assert deleted["deleted"] is True

    # When it is updated, Then it is refused as deleted; an unknown id is refused as unknown
    with pytest.raises(codecommit.exceptions.CommentDeletedException):
        codecommit.update_comment(commentId=comment["commentId"], content="Fixed")
    with pytest.raises(codecommit.exceptions.CommentDoesNotExistException):
        codecommit.update_comment(commentId="no-such-comment", content="Fixed")
    with pytest.raises(codecommit.exceptions.CommentDeletedException):
        codecommit.get_comment(commentId=comment["commentId"])
    # And listings still show it, flagged deleted
    assert [listed["deleted"] for listed in _comments_on(codecommit, pull_request["pullRequestId"])] == [True]


def test_comments_page_by_comment_count(codecommit: CodeCommitClient, feature_branch: FeatureBranch) -> None:
    # Given five comments
    pull_request = open_pull_request(codecommit)
    posted = [_post(codecommit, pull_request, f"Comment {n}")["comment"]["commentId"] for n in range(5)]

    # When they are read two at a time
    pages = list(
        codecommit.get_paginator("get_comments_for_pull_request").paginate(
            pullRequestId=pull_request["pullRequestId"], PaginationConfig={"PageSize": 2}
        )
    )

    # Then every comment comes once, in order, no page holding more than two
    per_page = [[c["commentId"] for t in page["commentsForPullRequestData"] for c in t["comments"]] for page in pages]
    assert [comment_id for page in per_page for comment_id in page] == posted
    assert max(len(page) for page in per_page) == 2
    # And more than 500 per page is refused
    with pytest.raises(codecommit.exceptions.InvalidMaxResultsException):
        codecommit.get_comments_for_pull_request(pullRequestId=pull_request["pullRequestId"], maxResults=501)


def test_pull_request_comments_filter_by_compared_commits(
    codecommit: CodeCommitClient, feature_branch: FeatureBranch
) -> None:
    # Given a comment on the first revision, then a push and a comment on the second
    pull_request = open_pull_request(codecommit)
    _post(codecommit, pull_request, "On the first revision")
    feature_branch.repo.commit("feature", {"fix.txt": "fix"})
    second_revision = refresh_pull_request("app", pull_request["pullRequestId"]) or {}
    _post(codecommit, second_revision, "On the second revision")

    # When comments are asked for on the second compared commits only
    target = second_revision["pullRequestTargets"][0]
    threads = codecommit.get_comments_for_pull_request(
        pullRequestId=pull_request["pullRequestId"],
        repositoryName="app",
        beforeCommitId=target["destinationCommit"],
        afterCommitId=target["sourceCommit"],
    )["commentsForPullRequestData"]

    # Then only that comment is returned, while the unfiltered list holds both
    assert [c["content"] for t in threads for c in t["comments"]] == ["On the second revision"]
    assert len(_comments_on(codecommit, pull_request["pullRequestId"])) == 2
    # And the documented conditional parameters are enforced
    with pytest.raises(codecommit.exceptions.CommitIdRequiredException):
        codecommit.get_comments_for_pull_request(pullRequestId=pull_request["pullRequestId"], repositoryName="app")


def test_compared_commit_comment_on_a_file_line_carries_blob_ids(
    codecommit: CodeCommitClient, feature_branch: FeatureBranch
) -> None:
    # Given two commits that both contain src/app.py
    before, after = feature_branch.main, feature_branch.feature
    location: LocationTypeDef = {"filePath": "src/app.py", "filePosition": 2, "relativeFileVersion": "AFTER"}

    # When a comment is posted on line 2 of the after version
    posted = codecommit.post_comment_for_compared_commit(
        repositoryName="app",
        beforeCommitId=before,
        afterCommitId=after,
        location=location,
        content="Why bye?",
    )

    # Then it names the file's blob in each commit, as git has them
    repo = feature_branch.repo
    assert posted["beforeBlobId"] == str(repo.read(before).tree["src/app.py"].id)
    assert posted["afterBlobId"] == str(repo.read(after).tree["src/app.py"].id)
    assert posted["location"] == location
    # And it is listed for that comparison, and not for the pull-request side
    (thread,) = codecommit.get_comments_for_compared_commit(
        repositoryName="app", beforeCommitId=before, afterCommitId=after
    )["commentsForComparedCommitData"]
    assert [comment["content"] for comment in thread["comments"]] == ["Why bye?"]
    assert thread["location"] == location


def test_compared_commit_comment_validation(codecommit: CodeCommitClient, feature_branch: FeatureBranch) -> None:
    # Given main's initial commit and feature's commit on top of it
    initial, later = feature_branch.main, feature_branch.feature

    # When commenting on the initial commit alone, Then no before commit is needed
    posted = codecommit.post_comment_for_compared_commit(repositoryName="app", afterCommitId=initial, content="Hi")
    assert "beforeCommitId" not in posted

    # When a later commit, a missing line, a missing file or the same commit twice is used, Then it is refused
    with pytest.raises(codecommit.exceptions.CommitIdRequiredException):
        codecommit.post_comment_for_compared_commit(repositoryName="app", afterCommitId=later, content="Hi")
    bad_line: LocationTypeDef = {"filePath": "src/app.py", "filePosition": 99, "relativeFileVersion": "AFTER"}
    with pytest.raises(codecommit.exceptions.InvalidFilePositionException):
        codecommit.post_comment_for_compared_commit(
            repositoryName="app",
            beforeCommitId=initial,
            afterCommitId=later,
            location=bad_line,
            content="Hi",
        )
    missing_file: LocationTypeDef = {"filePath": "nope.txt", "relativeFileVersion": "BEFORE"}
    with pytest.raises(codecommit.exceptions.PathDoesNotExistException):
        codecommit.post_comment_for_compared_commit(
            repositoryName="app",
            beforeCommitId=initial,
            afterCommitId=later,
            location=missing_file,
            content="Hi",
        )
    with pytest.raises(codecommit.exceptions.BeforeCommitIdAndAfterCommitIdAreSameException):
        codecommit.post_comment_for_compared_commit(
            repositoryName="app", beforeCommitId=later, afterCommitId=later, content="Hi"
        )


def test_the_comments_adapter_reads_every_page(codecommit: CodeCommitClient, feature_branch: FeatureBranch) -> None:
    # Given five comments on a pull request and three on a compared commit
    pull_request = open_pull_request(codecommit)
    on_pull_request = [_post(codecommit, pull_request, f"PR {n}")["comment"]["content"] for n in range(5)]
    before, after = feature_branch.main, feature_branch.feature
    on_commit = [
        codecommit.post_comment_for_compared_commit(
            repositoryName="app", beforeCommitId=before, afterCommitId=after, content=f"Commit {n}"
        )["comment"]["content"]
        for n in range(3)
    ]
    # When codereflex's adapter lists them two to a page, Then it returns every comment once, in order
    comments = CodeCommitComments(codecommit, page_size=2)
    listed = comments.pull_request_comments(pull_request["pullRequestId"])
    assert [comment.content for comment in listed] == on_pull_request
    assert [comment.content for comment in comments.commit_comments("app", before, after)] == on_commit
    # And a listing the service refuses is codereflex's own error, not botocore's
    with pytest.raises(CodeReflexError):
        comments.commit_comments("no-such-repository", before, after)
