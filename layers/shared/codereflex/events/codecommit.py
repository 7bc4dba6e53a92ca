"""CodeCommit events as EventBridge delivers them (detail-type "CodeCommit Repository State Change")."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

REPOSITORY_STATE_CHANGE = "CodeCommit Repository State Change"

ReferenceEvent = Literal["referenceCreated", "referenceUpdated", "referenceDeleted"]


class ReferenceChange(BaseModel):
    """One reference (branch or tag) created, moved or deleted by a push, a merge or the console."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    event: ReferenceEvent
    repository_name: str = Field(alias="repositoryName", min_length=1)
    repository_id: str | None = Field(default=None, alias="repositoryId")
    reference_type: str = Field(alias="referenceType")  # "branch" or "tag"; kept open for future types
    reference_name: str = Field(alias="referenceName")
    reference_full_name: str = Field(alias="referenceFullName")
    commit_id: str | None = Field(default=None, alias="commitId")
    old_commit_id: str | None = Field(default=None, alias="oldCommitId")
    # Present on pushes (the pusher's IAM identity); absent from the documented samples.
    caller_user_arn: str | None = Field(default=None, alias="callerUserArn")
    # Present when the update is a pull-request merge.
    merge_option: str | None = Field(default=None, alias="mergeOption")
    source_commit_id: str | None = Field(default=None, alias="sourceCommitId")
    destination_commit_id: str | None = Field(default=None, alias="destinationCommitId")

    @property
    def is_branch(self) -> bool:
        return self.reference_type == "branch"

    @property
    def is_tag(self) -> bool:
        return self.reference_type == "tag"


class RepositoryStateChangeEvent(EventBridgeModel):
    """The EventBridge envelope around a ReferenceChange."""

    detail_type: Literal["CodeCommit Repository State Change"] = Field(alias="detail-type")
    source: Literal["aws.codecommit"]
    detail: ReferenceChange


# --- pull requests and comments ------------------------------------------------------------------

PULL_REQUEST_STATE_CHANGE = "CodeCommit Pull Request State Change"
COMMENT_ON_PULL_REQUEST = "CodeCommit Comment on Pull Request"
COMMENT_ON_COMMIT = "CodeCommit Comment on Commit"


def _string_bool(value: object) -> object:
    """CodeCommit's pull-request events spell booleans as strings ("False", "True")."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "false"}:
            return lowered == "true"
    return value


StringBool = Annotated[bool, BeforeValidator(_string_bool)]


class PullRequestChange(BaseModel):
    """A pull request created, updated, approved, merged or closed.

    Dates stay text: the documented samples use several free-form formats (one with a trailing
    space), and no function needs them as datetimes.
    """

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    event: str
    pull_request_id: str = Field(alias="pullRequestId", min_length=1)
    pull_request_status: str = Field(alias="pullRequestStatus")  # "Open" / "Closed" (title case, unlike the API)
    repository_names: list[str] = Field(alias="repositoryNames", min_length=1)
    revision_id: str | None = Field(default=None, alias="revisionId")
    source_commit: str = Field(alias="sourceCommit", min_length=1)
    destination_commit: str = Field(alias="destinationCommit", min_length=1)
    source_reference: str | None = Field(default=None, alias="sourceReference")
    destination_reference: str | None = Field(default=None, alias="destinationReference")
    is_merged: StringBool = Field(default=False, alias="isMerged")
    title: str | None = None
    author: str | None = None
    caller_user_arn: str | None = Field(default=None, alias="callerUserArn")
    approval_status: str | None = Field(default=None, alias="approvalStatus")
    merge_option: str | None = Field(default=None, alias="mergeOption")
    creation_date: str | None = Field(default=None, alias="creationDate")
    last_modified_date: str | None = Field(default=None, alias="lastModifiedDate")

    @property
    def repository_name(self) -> str:
        # A pull request has exactly one target today (MultipleRepositoriesInPullRequestException).
        return self.repository_names[0]

    @property
    def is_open(self) -> bool:
        return self.pull_request_status.strip().upper() == "OPEN" and not self.is_merged


class PullRequestStateChangeEvent(EventBridgeModel):
    """The EventBridge envelope around a PullRequestChange."""

    detail_type: Literal["CodeCommit Pull Request State Change"] = Field(alias="detail-type")
    source: Literal["aws.codecommit"]
    detail: PullRequestChange


class CommentChange(BaseModel):
    """A comment posted or edited on a pull request or on a commit comparison."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    event: str
    comment_id: str = Field(alias="commentId", min_length=1)
    repository_name: str = Field(alias="repositoryName", min_length=1)
    pull_request_id: str | None = Field(default=None, alias="pullRequestId")
    before_commit_id: str | None = Field(default=None, alias="beforeCommitId")
    after_commit_id: str | None = Field(default=None, alias="afterCommitId")
    in_reply_to: str | None = Field(default=None, alias="inReplyTo")
    caller_user_arn: str | None = Field(default=None, alias="callerUserArn")


class CommentEvent(EventBridgeModel):
    """The EventBridge envelope around a CommentChange (either comment detail-type)."""

    detail_type: Literal["CodeCommit Comment on Pull Request", "CodeCommit Comment on Commit"] = Field(
        alias="detail-type"
    )
    source: Literal["aws.codecommit"]
    detail: CommentChange
