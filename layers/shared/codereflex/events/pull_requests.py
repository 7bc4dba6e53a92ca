"""CodeCommit pull-request and comment events as EventBridge delivers them: string booleans, free-form dates.

Immutable NamedTuples read by codereflex.events.reading rather than pydantic models, for the PR
builds function's cold start (see codereflex.events.codebuild); the reader checks what the pydantic
models checked. Only the envelopes are dataclasses: they extend one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from codereflex.events.reading import EventBridgeEnvelope, Fields, shape_error

PULL_REQUEST_STATE_CHANGE = "CodeCommit Pull Request State Change"
COMMENT_ON_PULL_REQUEST = "CodeCommit Comment on Pull Request"
COMMENT_ON_COMMIT = "CodeCommit Comment on Commit"


def _string_bool(raw: Fields, key: str) -> bool:
    """CodeCommit's pull-request events spell booleans as strings ("False", "True")."""
    value = raw.value(key)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise shape_error(raw.where(key), "must be a boolean")


class PullRequestChange(NamedTuple):
    """A pull request created, updated, approved, merged or closed.

    Dates stay text: the documented samples use several free-form formats (one with a trailing
    space), and no function needs them as datetimes.
    """

    event: str
    pull_request_id: str
    pull_request_status: str  # "Open" / "Closed" (title case, unlike the API)
    repository_names: tuple[str, ...]
    source_commit: str
    destination_commit: str
    revision_id: str | None = None
    source_reference: str | None = None
    destination_reference: str | None = None
    is_merged: bool = False
    title: str | None = None
    author: str | None = None
    caller_user_arn: str | None = None
    approval_status: str | None = None
    merge_option: str | None = None
    creation_date: str | None = None
    last_modified_date: str | None = None

    @classmethod
    def read(cls, raw: Fields) -> PullRequestChange:
        names = raw.texts("repositoryNames", required=True)
        if not names:
            raise shape_error(raw.where("repositoryNames"), "must not be empty")
        return cls(
            event=raw.required_text("event"),
            pull_request_id=raw.required_text("pullRequestId", non_empty=True),
            pull_request_status=raw.required_text("pullRequestStatus"),
            repository_names=tuple(names),
            source_commit=raw.required_text("sourceCommit", non_empty=True),
            destination_commit=raw.required_text("destinationCommit", non_empty=True),
            revision_id=raw.text("revisionId"),
            source_reference=raw.text("sourceReference"),
            destination_reference=raw.text("destinationReference"),
            is_merged=_string_bool(raw, "isMerged"),
            title=raw.text("title"),
            author=raw.text("author"),
            caller_user_arn=raw.text("callerUserArn"),
            approval_status=raw.text("approvalStatus"),
            merge_option=raw.text("mergeOption"),
            creation_date=raw.text("creationDate"),
            last_modified_date=raw.text("lastModifiedDate"),
        )

    @property
    def repository_name(self) -> str:
        # A pull request has exactly one target today (MultipleRepositoriesInPullRequestException).
        return self.repository_names[0]

    @property
    def is_open(self) -> bool:
        return self.pull_request_status.strip().upper() == "OPEN" and not self.is_merged


@dataclass(frozen=True, slots=True)
class PullRequestStateChangeEvent(EventBridgeEnvelope):
    """The EventBridge envelope around a PullRequestChange."""

    detail: PullRequestChange = field(kw_only=True)

    SOURCE = "aws.codecommit"
    DETAIL_TYPES = (PULL_REQUEST_STATE_CHANGE,)
    DETAIL = PullRequestChange


class CommentChange(NamedTuple):
    """A comment posted or edited on a pull request or on a commit comparison."""

    event: str
    comment_id: str
    repository_name: str
    pull_request_id: str | None = None
    before_commit_id: str | None = None
    after_commit_id: str | None = None
    in_reply_to: str | None = None
    caller_user_arn: str | None = None

    @classmethod
    def read(cls, raw: Fields) -> CommentChange:
        return cls(
            event=raw.required_text("event"),
            comment_id=raw.required_text("commentId", non_empty=True),
            repository_name=raw.required_text("repositoryName", non_empty=True),
            pull_request_id=raw.text("pullRequestId"),
            before_commit_id=raw.text("beforeCommitId"),
            after_commit_id=raw.text("afterCommitId"),
            in_reply_to=raw.text("inReplyTo"),
            caller_user_arn=raw.text("callerUserArn"),
        )


@dataclass(frozen=True, slots=True)
class CommentEvent(EventBridgeEnvelope):
    """The EventBridge envelope around a CommentChange (either comment detail-type)."""

    detail: CommentChange = field(kw_only=True)

    SOURCE = "aws.codecommit"
    DETAIL_TYPES = (COMMENT_ON_PULL_REQUEST, COMMENT_ON_COMMIT)
    DETAIL = CommentChange
