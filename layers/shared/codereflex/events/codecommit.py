"""CodeCommit events as EventBridge delivers them (detail-type "CodeCommit Repository State Change")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

REPOSITORY_STATE_CHANGE = "CodeCommit Repository State Change"


class EventBridgeModel(BaseModel):
    """The EventBridge envelope, field for field as Powertools' EventBridgeModel.

    Defined here rather than imported: importing Powertools' parser models builds every model it
    ships, which cost the PR builds function's cold start about 0.15 s (bench/bench_cold_start.py).
    """

    # allow_inf_nan=False: a number in an event is finite or the event is bad (JSON's 1e400 reads as inf).
    model_config = ConfigDict(populate_by_name=True, allow_inf_nan=False)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: Any
    replay_name: str | None = Field(default=None, alias="replay-name")


ReferenceEvent = Literal["referenceCreated", "referenceUpdated", "referenceDeleted"]


class ReferenceChange(BaseModel):
    """One reference (branch or tag) created, moved or deleted by a push, a merge or the console."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, allow_inf_nan=False)

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


# --- pull requests and comments: plain NamedTuples (no pydantic), kept importable from here too -------

from codereflex.events.pull_requests import (  # noqa: E402
    COMMENT_ON_COMMIT,
    COMMENT_ON_PULL_REQUEST,
    PULL_REQUEST_STATE_CHANGE,
    CommentChange,
    CommentEvent,
    PullRequestChange,
    PullRequestStateChangeEvent,
)

__all__ = [
    "COMMENT_ON_COMMIT",
    "COMMENT_ON_PULL_REQUEST",
    "PULL_REQUEST_STATE_CHANGE",
    "REPOSITORY_STATE_CHANGE",
    "CommentChange",
    "CommentEvent",
    "EventBridgeModel",
    "PullRequestChange",
    "PullRequestStateChangeEvent",
    "ReferenceChange",
    "RepositoryStateChangeEvent",
]
