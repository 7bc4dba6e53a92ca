"""CodeBuild events as EventBridge delivers them: kebab-case fields, locale dates, numbers as floats.

Immutable NamedTuples read by codereflex.events.reading rather than pydantic models, for the build
results function's cold start (a NamedTuple class costs a fifth of a frozen dataclass to create); the
reader checks what the pydantic models checked. Only the envelopes are dataclasses: they extend one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple, cast, get_args

from codereflex.events.reading import EventBridgeEnvelope, Fields, parse_build_time

__all__ = ["EventBridgeEnvelope", "parse_build_time"]  # re-exported: they were first defined here

BUILD_STATE_CHANGE = "CodeBuild Build State Change"

BuildStatus = Literal["IN_PROGRESS", "SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT"]
BUILD_STATUSES: tuple[str, ...] = get_args(BuildStatus)
TERMINAL_STATUSES: frozenset[str] = frozenset({"SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT"})


class EnvironmentVariable(NamedTuple):
    name: str
    value: str = ""
    type: str = "PLAINTEXT"

    @classmethod
    def read(cls, raw: Fields) -> EnvironmentVariable:
        return cls(
            name=raw.required_text("name"),
            value=raw.text("value", default="") or "",
            type=raw.text("type", default="PLAINTEXT") or "PLAINTEXT",
        )


class BuildEnvironment(NamedTuple):
    image: str | None = None
    type: str | None = None
    compute_type: str | None = None
    environment_variables: tuple[EnvironmentVariable, ...] = ()

    @classmethod
    def read(cls, raw: Fields) -> BuildEnvironment:
        return cls(
            image=raw.text("image"),
            type=raw.text("type"),
            compute_type=raw.text("compute-type"),
            environment_variables=raw.children("environment-variables", EnvironmentVariable.read),
        )


class BuildLogs(NamedTuple):
    group_name: str | None = None
    stream_name: str | None = None
    deep_link: str | None = None

    @classmethod
    def read(cls, raw: Fields) -> BuildLogs:
        return cls(raw.text("group-name"), raw.text("stream-name"), raw.text("deep-link"))


class BuildSource(NamedTuple):
    type: str | None = None
    location: str | None = None

    @classmethod
    def read(cls, raw: Fields) -> BuildSource:
        return cls(raw.text("type"), raw.text("location"))


class BuildPhase(NamedTuple):
    phase_type: str
    phase_status: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration_in_seconds: float | None = None
    phase_context: tuple[str, ...] = ()

    @classmethod
    def read(cls, raw: Fields) -> BuildPhase:
        return cls(
            phase_type=raw.required_text("phase-type"),
            phase_status=raw.text("phase-status"),
            start_time=raw.build_time("start-time"),
            end_time=raw.build_time("end-time"),
            duration_in_seconds=raw.number("duration-in-seconds"),
            phase_context=raw.contexts("phase-context"),
        )


class BuildInformation(NamedTuple):
    """`detail.additional-information`: most of it is absent until the build is provisioned."""

    build_complete: bool = False
    build_number: float | None = None
    initiator: str | None = None
    build_start_time: datetime | None = None
    source: BuildSource = BuildSource()
    source_version: str | None = None
    resolved_source_version: str | None = None
    environment: BuildEnvironment = BuildEnvironment()
    logs: BuildLogs = BuildLogs()
    phases: tuple[BuildPhase, ...] = ()
    timeout_in_minutes: float | None = None

    @classmethod
    def read(cls, raw: Fields) -> BuildInformation:
        return cls(
            build_complete=raw.boolean("build-complete"),
            build_number=raw.number("build-number"),
            initiator=raw.text("initiator"),
            build_start_time=raw.build_time("build-start-time"),
            source=raw.child("source", BuildSource.read),
            source_version=raw.text("source-version"),
            resolved_source_version=raw.text("resolved-source-version"),
            environment=raw.child("environment", BuildEnvironment.read),
            logs=raw.child("logs", BuildLogs.read),
            phases=raw.children("phases", BuildPhase.read),
            timeout_in_minutes=raw.number("timeout-in-minutes"),
        )

    def variables(self) -> dict[str, str]:
        """The build's environment variables (project ones and per-build overrides) by name."""
        return {variable.name: variable.value for variable in self.environment.environment_variables}


class BuildStateChange(NamedTuple):
    build_status: BuildStatus
    project_name: str
    build_id: str
    additional_information: BuildInformation = BuildInformation()
    current_phase: str | None = None
    current_phase_context: str | None = None
    version: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.build_status in TERMINAL_STATUSES

    @classmethod
    def read(cls, raw: Fields) -> BuildStateChange:
        return cls(
            build_status=cast(BuildStatus, raw.choice("build-status", BUILD_STATUSES)),
            project_name=raw.required_text("project-name", non_empty=True),
            build_id=raw.required_text("build-id", non_empty=True),
            additional_information=raw.child("additional-information", BuildInformation.read),
            current_phase=raw.text("current-phase"),
            current_phase_context=raw.text("current-phase-context"),
            version=raw.text("version"),
        )


@dataclass(frozen=True, slots=True)
class BuildStateChangeEvent(EventBridgeEnvelope):
    """The EventBridge envelope around a BuildStateChange."""

    detail: BuildStateChange = field(kw_only=True)

    SOURCE = "aws.codebuild"
    DETAIL_TYPES = (BUILD_STATE_CHANGE,)
    DETAIL = BuildStateChange
