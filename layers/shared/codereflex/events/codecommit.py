"""CodeCommit events as EventBridge delivers them (detail-type "CodeCommit Repository State Change")."""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field

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
