"""CodeBuild events as EventBridge delivers them: kebab-case fields, locale dates, numbers as floats."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

BUILD_STATE_CHANGE = "CodeBuild Build State Change"
BUILD_PHASE_CHANGE = "CodeBuild Build Phase Change"

BuildStatus = Literal["IN_PROGRESS", "SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT"})

# CodeBuild writes times the way a US-English Java locale prints them ("Sep 1, 2017 4:12:29 PM").
_LOCALE_FORMATS = ("%b %d, %Y %I:%M:%S %p", "%b %d, %Y, %I:%M:%S %p", "%b %d %Y %I:%M:%S %p")


def parse_build_time(value: Any) -> datetime | None:
    """A CodeBuild event time as an aware UTC datetime; None when absent or in an unknown format.

    An unreadable timestamp never rejects an event: it only costs the comment its duration.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = " ".join(str(value).replace("\u202f", " ").split())
    if not text:
        return None
    for pattern in _LOCALE_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


BuildTime = Annotated[datetime | None, BeforeValidator(parse_build_time)]


def _context_list(value: Any) -> list[str]:
    """`phase-context` is a list of strings; tolerate a lone string or null."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value]


class EventBridgeEnvelope(BaseModel):
    """The EventBridge envelope, field for field as Powertools' EventBridgeModel.

    Defined here rather than imported because importing Powertools' parser models costs a cold
    start several hundred milliseconds (it builds every model it ships).
    """

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    replay_name: str | None = Field(default=None, alias="replay-name")


class _Kebab(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")


class EnvironmentVariable(_Kebab):
    name: str
    value: str = ""
    type: str = "PLAINTEXT"


class BuildEnvironment(_Kebab):
    image: str | None = None
    type: str | None = None
    compute_type: str | None = Field(default=None, alias="compute-type")
    environment_variables: list[EnvironmentVariable] = Field(default_factory=list, alias="environment-variables")


class BuildLogs(_Kebab):
    group_name: str | None = Field(default=None, alias="group-name")
    stream_name: str | None = Field(default=None, alias="stream-name")
    deep_link: str | None = Field(default=None, alias="deep-link")


class BuildSource(_Kebab):
    type: str | None = None
    location: str | None = None


class BuildPhase(_Kebab):
    phase_type: str = Field(alias="phase-type")
    phase_status: str | None = Field(default=None, alias="phase-status")
    start_time: BuildTime = Field(default=None, alias="start-time")
    end_time: BuildTime = Field(default=None, alias="end-time")
    duration_in_seconds: float | None = Field(default=None, alias="duration-in-seconds")
    phase_context: Annotated[list[str], BeforeValidator(_context_list)] = Field(
        default_factory=list, alias="phase-context"
    )


class BuildInformation(_Kebab):
    """`detail.additional-information`: most of it is absent until the build is provisioned."""

    build_complete: bool = Field(default=False, alias="build-complete")
    build_number: float | None = Field(default=None, alias="build-number")
    initiator: str | None = None
    build_start_time: BuildTime = Field(default=None, alias="build-start-time")
    source: BuildSource = Field(default_factory=BuildSource)
    source_version: str | None = Field(default=None, alias="source-version")
    resolved_source_version: str | None = Field(default=None, alias="resolved-source-version")
    environment: BuildEnvironment = Field(default_factory=BuildEnvironment)
    logs: BuildLogs = Field(default_factory=BuildLogs)
    phases: list[BuildPhase] = Field(default_factory=list)
    timeout_in_minutes: float | None = Field(default=None, alias="timeout-in-minutes")

    def variables(self) -> dict[str, str]:
        """The build's environment variables (project ones and per-build overrides) by name."""
        return {variable.name: variable.value for variable in self.environment.environment_variables}


class BuildStateChange(_Kebab):
    build_status: BuildStatus = Field(alias="build-status")
    project_name: str = Field(alias="project-name", min_length=1)
    build_id: str = Field(alias="build-id", min_length=1)
    additional_information: BuildInformation = Field(default_factory=BuildInformation, alias="additional-information")
    current_phase: str | None = Field(default=None, alias="current-phase")
    current_phase_context: str | None = Field(default=None, alias="current-phase-context")
    version: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.build_status in TERMINAL_STATUSES


class BuildStateChangeEvent(EventBridgeEnvelope):
    """The EventBridge envelope around a BuildStateChange."""

    detail_type: Literal["CodeBuild Build State Change"] = Field(alias="detail-type")
    source: Literal["aws.codebuild"]
    detail: BuildStateChange


class BuildPhaseChange(_Kebab):
    completed_phase: str = Field(alias="completed-phase")
    completed_phase_status: str | None = Field(default=None, alias="completed-phase-status")
    project_name: str = Field(alias="project-name", min_length=1)
    build_id: str = Field(alias="build-id", min_length=1)
    additional_information: BuildInformation = Field(default_factory=BuildInformation, alias="additional-information")


class BuildPhaseChangeEvent(EventBridgeEnvelope):
    """The EventBridge envelope around a BuildPhaseChange (parsed for completeness; no function acts on it)."""

    detail_type: Literal["CodeBuild Build Phase Change"] = Field(alias="detail-type")
    source: Literal["aws.codebuild"]
    detail: BuildPhaseChange
