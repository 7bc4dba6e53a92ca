"""What codereflex knows of a pull-request revision: the builds it started for it and each project's latest run."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple


def rank(status: str) -> int:
    """Build states only move forward: IN_PROGRESS, then one terminal state."""
    return 0 if status == "IN_PROGRESS" else 1


class Run(NamedTuple):
    """One build of a project for a target, as codereflex remembers it."""

    build_id: str  # `project:uuid`
    status: str
    commit: str
    started: str  # ISO 8601; orders runs (newest first)
    number: int | None = None

    @property
    def order(self) -> tuple[str, int, str]:
        return (self.started, self.number if self.number is not None else -1, self.build_id)


class StartedFor(NamedTuple):
    """The pull request revision the PR builds function started builds for, as it read it from CodeCommit."""

    repository: str
    pull_request_id: str
    revision_id: str
    source_commit: str
    destination_commit: str
    projects: tuple[str, ...]

    @property
    def key(self) -> str:
        return revision_key(self.repository, self.pull_request_id, self.revision_id)


class RevisionRecord(NamedTuple):
    """One revision's record: what it was started for, and each project's latest run."""

    started_for: StartedFor | None = None
    runs: Mapping[str, Run] = MappingProxyType({})
    changed: bool = True  # False when the run just recorded was not newer than the one held


def revision_key(repository: str, pull_request_id: str, revision_id: str) -> str:
    return f"pr:{repository}:{pull_request_id}:{revision_id}"
