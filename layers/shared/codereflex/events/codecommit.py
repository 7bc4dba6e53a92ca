"""CodeCommit reference events as EventBridge delivers them (detail-type "CodeCommit Repository State Change")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from codereflex.events.reading import EventBridgeEnvelope, Fields

REPOSITORY_STATE_CHANGE = "CodeCommit Repository State Change"
REFERENCE_EVENTS = ("referenceCreated", "referenceUpdated", "referenceDeleted")


class ReferenceChange(NamedTuple):
    """One reference (branch or tag) created, moved or deleted by a push, a merge or the console."""

    event: str  # one of REFERENCE_EVENTS
    repository_name: str
    reference_type: str  # "branch" or "tag"; kept open for future types
    reference_name: str
    reference_full_name: str
    repository_id: str | None = None
    commit_id: str | None = None
    old_commit_id: str | None = None
    # Present on pushes (the pusher's IAM identity); absent from the documented samples.
    caller_user_arn: str | None = None
    # Present when the update is a pull-request merge.
    merge_option: str | None = None
    source_commit_id: str | None = None
    destination_commit_id: str | None = None

    @classmethod
    def read(cls, raw: Fields) -> ReferenceChange:
        return cls(
            event=raw.choice("event", REFERENCE_EVENTS),
            repository_name=raw.required_text("repositoryName", non_empty=True),
            reference_type=raw.required_text("referenceType"),
            reference_name=raw.required_text("referenceName"),
            reference_full_name=raw.required_text("referenceFullName"),
            repository_id=raw.text("repositoryId"),
            commit_id=raw.text("commitId"),
            old_commit_id=raw.text("oldCommitId"),
            caller_user_arn=raw.text("callerUserArn"),
            merge_option=raw.text("mergeOption"),
            source_commit_id=raw.text("sourceCommitId"),
            destination_commit_id=raw.text("destinationCommitId"),
        )

    @property
    def is_branch(self) -> bool:
        return self.reference_type == "branch"

    @property
    def is_tag(self) -> bool:
        return self.reference_type == "tag"


@dataclass(frozen=True, slots=True)
class RepositoryStateChangeEvent(EventBridgeEnvelope):
    """The EventBridge envelope around a ReferenceChange."""

    detail: ReferenceChange = field(kw_only=True)

    SOURCE = "aws.codecommit"
    DETAIL_TYPES = (REPOSITORY_STATE_CHANGE,)
    DETAIL = ReferenceChange
