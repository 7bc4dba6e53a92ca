"""CodeCommit: repository history questions answered by the API (no clone needed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from codereflex.aws.errors import error_code, translate
from codereflex.ci.pullrequests import Comment, PullRequest
from codereflex.errors import NoCommonHistory, PermanentError

if TYPE_CHECKING:
    from mypy_boto3_codecommit import CodeCommitClient
    from mypy_boto3_codecommit.type_defs import PaginatorConfigTypeDef

# Codes meaning "these commits cannot be compared", which is an answer, not a failure.
_UNCOMPARABLE = frozenset(
    {
        "CommitDoesNotExistException",
        "InvalidCommitException",
        "MaximumFileContentToLoadExceededException",
        "MaximumItemsToCompareExceededException",
    }
)
# GetMergeOptions' answer for tips without a merge base: its output requires `baseCommitId`, and of
# the errors it declares only this one says the tips cannot be related ("divergence ... too great").
_NO_MERGE_BASE = "TipsDivergenceExceededException"


class CodeCommitHistory:
    """Ancestry questions about one account's repositories."""

    def __init__(self, client: CodeCommitClient) -> None:
        self._client = client

    def merge_base(self, repository: str, first: str, second: str) -> str | None:
        """The merge base of two commits, or None when CodeCommit cannot compare them.

        GetMergeOptions is the one CodeCommit call that reports a merge base; one call answers
        "is `first` an ancestor of `second`" (it is exactly when the base is `first`). Raises
        NoCommonHistory when CodeCommit finds no merge base (unrelated histories).
        """
        try:
            response = self._client.get_merge_options(
                repositoryName=repository, sourceCommitSpecifier=second, destinationCommitSpecifier=first
            )
        except ClientError as error:
            if error_code(error) == _NO_MERGE_BASE:
                raise NoCommonHistory(f"{first} and {second} share no history in {repository}") from error
            if error_code(error) in _UNCOMPARABLE:
                return None
            raise translate(
                error, f"GetMergeOptions on {repository}", gone=frozenset({"RepositoryDoesNotExistException"})
            ) from error
        return response.get("baseCommitId")


# --- pull requests, approvals and comments --------------------------------------------------------

# An approval vote that no longer applies (the PR moved on or closed) is an answer, not a failure.
_VOTE_MOOT = frozenset({"RevisionNotCurrentException", "PullRequestAlreadyClosedException"})
_PERMANENT_COMMENT = frozenset(
    {
        "CommentContentSizeLimitExceededException",
        "CommentDeletedException",
        "CommentNotCreatedByCallerException",
        "BeforeCommitIdAndAfterCommitIdAreSameException",
        "InvalidCommitIdException",
    }
)
# CodeCommit's documented page-size maximum for comment listings; a bot's comment is rarely past it.
COMMENTS_PAGE = 500


def _comment(raw: Mapping[str, Any]) -> Comment:
    return Comment(
        comment_id=str(raw.get("commentId", "")),
        content=str(raw.get("content", "")),
        author_arn=raw.get("authorArn"),
        client_request_token=raw.get("clientRequestToken"),
        deleted=bool(raw.get("deleted", False)),
    )


def _comment_error(error: ClientError, what: str) -> Exception:
    if error_code(error) in _PERMANENT_COMMENT:
        return PermanentError(f"{what}: {error_code(error)}")
    return translate(
        error, what, gone=frozenset({"PullRequestDoesNotExistException", "RepositoryDoesNotExistException"})
    )


class CodeCommitPullRequests:
    """Pull requests and approval votes; each method makes one call."""

    def __init__(self, client: CodeCommitClient) -> None:
        self._client = client

    def get_pull_request(self, pull_request_id: str) -> PullRequest:
        try:
            raw = self._client.get_pull_request(pullRequestId=pull_request_id)["pullRequest"]
        except ClientError as error:
            raise translate(error, f"GetPullRequest {pull_request_id}") from error
        target = (raw.get("pullRequestTargets") or [{}])[0]
        return PullRequest(
            pull_request_id=str(raw.get("pullRequestId", pull_request_id)),
            repository_name=str(target.get("repositoryName", "")),
            status=str(raw.get("pullRequestStatus", "")),
            source_commit=str(target.get("sourceCommit", "")),
            destination_commit=str(target.get("destinationCommit", "")),
            revision_id=str(raw.get("revisionId", "")),
            is_merged=bool((target.get("mergeMetadata") or {}).get("isMerged", False)),
        )

    def vote(self, pull_request_id: str, revision_id: str, approve: bool) -> bool:
        """APPROVE or REVOKE the caller's approval of one revision; False when the vote is moot."""
        try:
            self._client.update_pull_request_approval_state(
                pullRequestId=pull_request_id, revisionId=revision_id, approvalState="APPROVE" if approve else "REVOKE"
            )
        except ClientError as error:
            if error_code(error) in _VOTE_MOOT:
                return False
            raise translate(error, f"UpdatePullRequestApprovalState {pull_request_id}") from error
        return True


class CodeCommitComments:
    """Comments on pull requests and on commits; listings read every page through boto3's paginators."""

    def __init__(self, client: CodeCommitClient, page_size: int = COMMENTS_PAGE) -> None:
        self._client = client
        self._pages: PaginatorConfigTypeDef = {"PageSize": page_size}

    def pull_request_comments(self, pull_request_id: str) -> list[Comment]:
        pages = self._client.get_paginator("get_comments_for_pull_request").paginate(
            pullRequestId=pull_request_id, PaginationConfig=self._pages
        )
        try:
            return [
                _comment(raw)
                for page in pages
                for thread in page.get("commentsForPullRequestData") or []
                for raw in thread.get("comments") or []
            ]
        except ClientError as error:
            raise _comment_error(error, f"GetCommentsForPullRequest {pull_request_id}") from error

    def commit_comments(self, repository: str, before: str | None, after: str) -> list[Comment]:
        compared: dict[str, Any] = {"repositoryName": repository, "afterCommitId": after}
        if before is not None:
            compared["beforeCommitId"] = before
        pages = self._client.get_paginator("get_comments_for_compared_commit").paginate(
            **compared, PaginationConfig=self._pages
        )
        try:
            return [
                _comment(raw)
                for page in pages
                for thread in page.get("commentsForComparedCommitData") or []
                for raw in thread.get("comments") or []
            ]
        except ClientError as error:
            raise _comment_error(error, f"GetCommentsForComparedCommit {repository}") from error

    def post_on_pull_request(self, pull_request: PullRequest, content: str, client_request_token: str) -> Comment:
        """A general comment on the PR's current difference (before = destination, after = source tip)."""
        try:
            response = self._client.post_comment_for_pull_request(
                pullRequestId=pull_request.pull_request_id,
                repositoryName=pull_request.repository_name,
                beforeCommitId=pull_request.destination_commit,
                afterCommitId=pull_request.source_commit,
                content=content,
                clientRequestToken=client_request_token,
            )
        except ClientError as error:
            raise _comment_error(error, f"PostCommentForPullRequest {pull_request.pull_request_id}") from error
        return _comment(response.get("comment") or {})

    def post_on_commit(
        self, repository: str, before: str | None, after: str, content: str, client_request_token: str
    ) -> Comment:
        kwargs: dict[str, Any] = {
            "repositoryName": repository,
            "afterCommitId": after,
            "content": content,
            "clientRequestToken": client_request_token,
        }
        if before is not None:
            kwargs["beforeCommitId"] = before
        try:
            response = self._client.post_comment_for_compared_commit(**kwargs)
        except ClientError as error:
            raise _comment_error(error, f"PostCommentForComparedCommit {repository}") from error
        return _comment(response.get("comment") or {})

    def get(self, comment_id: str) -> Comment:
        try:
            response = self._client.get_comment(commentId=comment_id)
        except ClientError as error:
            if error_code(error) == "CommentDeletedException":
                return Comment(comment_id, "", None, None, deleted=True)
            raise translate(
                error, f"GetComment {comment_id}", gone=frozenset({"CommentDoesNotExistException"})
            ) from error
        return _comment(response.get("comment") or {})

    def update(self, comment_id: str, content: str) -> Comment:
        try:
            response = self._client.update_comment(commentId=comment_id, content=content)
        except ClientError as error:
            raise _comment_error(error, f"UpdateComment {comment_id}") from error
        return _comment(response.get("comment") or {})


# A commit's parents never change: a warm function asks for each at most once (bounded, oldest dropped).
KNOWN_PARENTS = 1024


class CodeCommitCommits:
    """Commit metadata; one call per method, none for a commit asked about before."""

    def __init__(self, client: CodeCommitClient) -> None:
        self._client = client
        self._parents: dict[tuple[str, str], str | None] = {}

    def first_parent(self, repository: str, commit_id: str) -> str | None:
        """The first parent of a commit (what a comment on it compares against); None for a root commit."""
        key = (repository, commit_id)
        if key not in self._parents:
            if len(self._parents) >= KNOWN_PARENTS:
                del self._parents[next(iter(self._parents))]
            self._parents[key] = self._ask_first_parent(repository, commit_id)
        return self._parents[key]

    def author(self, repository: str, commit_id: str) -> tuple[str | None, str | None]:
        """The commit's author (email, name), as git recorded them (separation of duties compares the email)."""
        try:
            commit = self._client.get_commit(repositoryName=repository, commitId=commit_id)["commit"]
        except ClientError as error:
            raise translate(error, f"GetCommit {commit_id} in {repository}") from error
        author = commit.get("author") or {}
        return author.get("email") or None, author.get("name") or None

    def _ask_first_parent(self, repository: str, commit_id: str) -> str | None:
        try:
            commit = self._client.get_commit(repositoryName=repository, commitId=commit_id)["commit"]
        except ClientError as error:
            raise translate(error, f"GetCommit {commit_id} in {repository}") from error
        parents = commit.get("parents") or []
        return str(parents[0]) if parents else None
