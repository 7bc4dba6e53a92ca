"""The CodeBuild side of a hand-off: start the backup project for one repository, and the variables it gets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from codereflex.backup.engine import BackupRequest

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


class CodeBuildOffload:
    """The engine's Offload port: one StartBuild of the backup project (it has no source to version)."""

    def __init__(self, builds: BuildStarter, project: str) -> None:
        self._builds = builds
        self._project = project

    def start(self, request: BackupRequest, *, lease_owner: str, token: str) -> str:
        # Only values derived from the event: a repeated call within CodeBuild's token window
        # carries identical parameters and gets the same build back, not a mismatch error.
        variables = {
            REPOSITORY_VARIABLE: request.repository,
            EVENT_VARIABLE: request.event_id or "",
            LEASE_OWNER_VARIABLE: lease_owner,
        }
        return self._builds.start_build(self._project, None, variables, token)
