"""Build and pull-request values shared by the PR-build and build-result functions, and which projects apply."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import NamedTuple, Protocol

from codereflex.config import split_list

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


def in_scope(repository: str, patterns: Sequence[str]) -> bool:
    """Repositories in scope are exact names or shell globs (`team-*`); `*` means all."""
    return any(fnmatchcase(repository, pattern) for pattern in patterns)


def projects_for(repository: str, conventions: Sequence[str], mapping: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The CodeBuild projects that build a repository: its mapping entry, else the naming convention.

    A convention is a project name with `{repository}` in it (`{repository}-ci`); several are allowed.
    """
    if repository in mapping:
        return tuple(dict.fromkeys(mapping[repository]))
    return tuple(dict.fromkeys(convention.replace("{repository}", repository) for convention in conventions))


def repository_from_source(location: str | None) -> str | None:
    """The repository a CodeCommit source location names (`https://git-codecommit.../v1/repos/<name>`)."""
    if not location or "/v1/repos/" not in location:
        return None
    name = location.rstrip("/").rsplit("/v1/repos/", 1)[1]
    return name or None


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


class Phase(NamedTuple):
    phase_type: str
    status: str | None
    duration_seconds: float | None
    contexts: tuple[str, ...] = ()


class Build(NamedTuple):
    """What BatchGetBuilds tells beyond the event: number, reports, resolved commit, times."""

    build_id: str
    project: str
    status: str
    number: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    source_version: str | None = None
    resolved_source_version: str | None = None
    report_arns: tuple[str, ...] = ()
    phases: tuple[Phase, ...] = ()
    log_group: str | None = None
    log_stream: str | None = None
    log_link: str | None = None
    variables: Mapping[str, str] = MappingProxyType({})


class Report(NamedTuple):
    arn: str
    name: str
    report_type: str
    total: int
    counts: Mapping[str, int]

    def tally(self, *statuses: str) -> int:
        return sum(int(self.counts.get(status, 0)) for status in statuses)


@dataclass(frozen=True, slots=True)  # a dataclass: pytest must be told it is no test class
class TestCase:
    name: str
    prefix: str | None
    status: str
    message: str | None
    report_name: str = ""

    __test__ = False  # not a pytest test class, whatever its name


class MappingSource(Protocol):
    def mapping(self) -> Mapping[str, Sequence[str]]: ...


class ProjectScope(NamedTuple):
    """Which repositories are in scope and which CodeBuild projects build each (template parameters)."""

    repositories: tuple[str, ...] = ("*",)
    conventions: tuple[str, ...] = ("{repository}-ci",)
    mapping_parameter: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProjectScope:
        return cls(
            repositories=split_list(env.get("REPOSITORIES", "*")) or ("*",),
            conventions=split_list(env.get("BUILD_PROJECTS", "{repository}-ci")) or ("{repository}-ci",),
            mapping_parameter=env.get("BUILD_PROJECTS_PARAMETER", "").strip() or None,
        )


class ConfiguredProjects:
    """Answers "which projects build this repository" from the scope and the optional SSM mapping."""

    def __init__(self, scope: ProjectScope, mapping: MappingSource | None = None) -> None:
        self.scope = scope
        self._mapping = mapping

    def in_scope(self, repository: str) -> bool:
        return in_scope(repository, self.scope.repositories)

    def projects_for(self, repository: str) -> tuple[str, ...]:
        mapping = self._mapping.mapping() if self._mapping is not None else {}
        return projects_for(repository, self.scope.conventions, mapping)
