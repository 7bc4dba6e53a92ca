"""CodeCommit: which repositories exist, their clone URLs, and the metadata a backup keeps beside the refs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from codereflex.aws.errors import translate

if TYPE_CHECKING:
    from mypy_boto3_codecommit import CodeCommitClient

_GONE = frozenset({"RepositoryDoesNotExistException"})


class CodeCommitRepositories:
    """Repository listing and description for the backup (read-only calls)."""

    def __init__(self, client: CodeCommitClient) -> None:
        self._client = client

    def names(self) -> list[str]:
        found: list[str] = []
        try:
            for page in self._client.get_paginator("list_repositories").paginate():
                found += [item["repositoryName"] for item in page.get("repositories", []) if "repositoryName" in item]
        except ClientError as error:
            raise translate(error, "codecommit ListRepositories") from error
        return sorted(found)

    def clone_url(self, repository: str) -> str:
        return str(self._repository(repository)["cloneUrlHttp"])

    def describe(self, repository: str) -> dict[str, Any]:
        """Description, default branch, and every pull request with its comments and approval states."""
        metadata = self._repository(repository)
        return {
            "description": metadata.get("repositoryDescription", ""),
            "defaultBranch": metadata.get("defaultBranch"),
            "arn": metadata.get("Arn"),
            "pullRequests": [self._pull_request(pr_id) for pr_id in self._pull_request_ids(repository)],
        }

    def _repository(self, repository: str) -> dict[str, Any]:
        try:
            return dict(self._client.get_repository(repositoryName=repository)["repositoryMetadata"])
        except ClientError as error:
            raise translate(error, f"codecommit GetRepository {repository}", gone=_GONE) from error

    def _pull_request_ids(self, repository: str) -> list[str]:
        found: list[str] = []
        try:
            for page in self._client.get_paginator("list_pull_requests").paginate(repositoryName=repository):
                found += list(page.get("pullRequestIds", []))
        except ClientError as error:
            raise translate(error, f"codecommit ListPullRequests {repository}", gone=_GONE) from error
        return found

    def _pull_request(self, pull_request_id: str) -> dict[str, Any]:
        try:
            pull_request = dict(self._client.get_pull_request(pullRequestId=pull_request_id)["pullRequest"])
            revision = str(pull_request.get("revisionId", ""))
            approvals = (
                self._client.get_pull_request_approval_states(pullRequestId=pull_request_id, revisionId=revision).get(
                    "approvals", []
                )
                if revision
                else []
            )
            comments: list[dict[str, Any]] = []
            for page in self._client.get_paginator("get_comments_for_pull_request").paginate(
                pullRequestId=pull_request_id
            ):
                for thread in page.get("commentsForPullRequestData", []):
                    comments += [dict(comment) for comment in thread.get("comments", [])]
        except ClientError as error:
            raise translate(error, f"codecommit pull request {pull_request_id}") from error
        pull_request["approvals"] = [dict(approval) for approval in approvals]
        pull_request["comments"] = comments
        return pull_request
