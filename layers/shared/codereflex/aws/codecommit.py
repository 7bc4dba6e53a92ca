"""CodeCommit: repository history questions answered by the API (no clone needed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from codereflex.aws.errors import error_code, translate

if TYPE_CHECKING:
    from mypy_boto3_codecommit import CodeCommitClient

# Codes meaning "these commits cannot be compared", which is an answer, not a failure.
_UNCOMPARABLE = frozenset(
    {
        "CommitDoesNotExistException",
        "InvalidCommitException",
        "TipsDivergenceExceededException",
        "MaximumFileContentToLoadExceededException",
        "MaximumItemsToCompareExceededException",
    }
)


class CodeCommitHistory:
    """Ancestry questions about one account's repositories."""

    def __init__(self, client: CodeCommitClient) -> None:
        self._client = client

    def merge_base(self, repository: str, first: str, second: str) -> str | None:
        """The merge base of two commits, or None when CodeCommit cannot compare them.

        GetMergeOptions is the one CodeCommit call that reports a merge base; one call answers
        "is `first` an ancestor of `second`" (it is exactly when the base is `first`).
        """
        try:
            response = self._client.get_merge_options(
                repositoryName=repository, sourceCommitSpecifier=second, destinationCommitSpecifier=first
            )
        except ClientError as error:
            if error_code(error) in _UNCOMPARABLE:
                return None
            raise translate(
                error, f"GetMergeOptions on {repository}", gone=frozenset({"RepositoryDoesNotExistException"})
            ) from error
        return response.get("baseCommitId")
