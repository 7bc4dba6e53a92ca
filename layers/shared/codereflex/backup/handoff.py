"""The CodeBuild side of a hand-off: start the backup project for one repository, and find that build again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from codereflex.backup.job import BackupRequest, HandOffBuild
from codereflex.ci.builds import Build

# Per-build variables (environmentVariablesOverride); the project itself carries the settings
# the function has (BACKUP_BUCKET, BACKUP_PREFIX, BACKUP_KMS_KEY_ARN, FULL_BACKUP_EVERY).
REPOSITORY_VARIABLE = "BACKUP_REPOSITORY"
EVENT_VARIABLE = "BACKUP_EVENT_ID"
LEASE_OWNER_VARIABLE = "BACKUP_LEASE_OWNER"
# CodeBuild sets this in every build.
BUILD_ID_VARIABLE = "CODEBUILD_BUILD_ID"


class BuildStarter(Protocol):
    def start_build(
        self, project: str, source_version: str | None, variables: Mapping[str, str], idempotency_token: str
    ) -> str: ...

    def recent_build_ids(self, project: str) -> list[str]: ...


class BuildReader(Protocol):
    def get_builds(self, build_ids: Sequence[str]) -> list[Build]: ...


class CodeBuildOffload:
    """The engine's Offload port: one StartBuild of the backup project (it has no source to version).

    Finding the build again costs one BatchGetBuilds when the lease names it, and one
    ListBuildsForProject more when it does not (StartBuild never answered the run that handed off).
    """

    def __init__(self, builds: BuildStarter, project: str, reader: BuildReader) -> None:
        self._builds = builds
        self._project = project
        self._reader = reader

    def start(self, request: BackupRequest, *, lease_owner: str, token: str) -> str:
        # Only values derived from the event: a repeated call within CodeBuild's token window
        # carries identical parameters and gets the same build back, not a mismatch error.
        variables = {
            REPOSITORY_VARIABLE: request.repository,
            EVENT_VARIABLE: request.event_id or "",
            LEASE_OWNER_VARIABLE: lease_owner,
        }
        return self._builds.start_build(self._project, None, variables, token)

    def find(self, lease_owner: str, build_id: str | None) -> HandOffBuild | None:
        # The owner is the variable the build was started with: it identifies the build even
        # when its id never reached the lease. A build started by that hand-off is among the newest.
        ids = [build_id] if build_id is not None else self._builds.recent_build_ids(self._project)
        for build in self._reader.get_builds(ids):
            if build_id is not None or build.variables.get(LEASE_OWNER_VARIABLE) == lease_owner:
                return HandOffBuild(build.build_id, build.status)
        return None
