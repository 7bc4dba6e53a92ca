"""A pull request and its comments as the functions read them, and the build variables carrying its context."""

from __future__ import annotations

import hashlib
from typing import NamedTuple

# Build environment variables carrying a pull request's context. The names are those of the
# official aws-codecommit-pull-request-aws-codebuild sample, so builds it starts are understood too.
VAR_PULL_REQUEST_ID = "pullRequestId"
VAR_REPOSITORY_NAME = "repositoryName"
VAR_SOURCE_COMMIT = "sourceCommit"
VAR_DESTINATION_COMMIT = "destinationCommit"
VAR_REVISION_ID = "revisionId"
# The projects configured for the repository when the build was started (comma-separated).
VAR_PROJECTS = "codereflexProjects"


def token(*parts: str) -> str:
    """A deterministic idempotency token (64 hex characters) for the given parts."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class PullRequest(NamedTuple):
    pull_request_id: str
    repository_name: str
    status: str  # OPEN or CLOSED
    source_commit: str
    destination_commit: str
    revision_id: str
    is_merged: bool = False

    @property
    def is_open(self) -> bool:
        return self.status == "OPEN" and not self.is_merged


class Comment(NamedTuple):
    comment_id: str
    content: str
    author_arn: str | None
    client_request_token: str | None
    deleted: bool = False
