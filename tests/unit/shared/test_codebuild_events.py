"""The CodeBuild event models accept every real AWS sample and every events/ file: kebab-case, locale dates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from codereflex.errors import BadEvent
from codereflex.events.codebuild import (
    BUILD_STATE_CHANGE,
    BuildStateChangeEvent,
    parse_build_time,
)
from tests.conftest import AWS_SAMPLES, EVENTS


def _files(detail_type: str) -> list[Path]:
    candidates = sorted(AWS_SAMPLES.glob("codebuild-*.json")) + sorted(EVENTS.rglob("*.json"))
    return [p for p in candidates if json.loads(p.read_text()).get("detail-type") == detail_type]


@pytest.mark.parametrize("path", _files(BUILD_STATE_CHANGE), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_build_state_change_sample_parses(path: Path) -> None:
    # Given a real or project sample of a CodeBuild Build State Change
    raw = json.loads(path.read_text())
    # When it is parsed
    event = BuildStateChangeEvent.read(raw)
    # Then the fields the functions rely on are the sample's own
    detail = raw["detail"]
    assert event.detail.build_status == detail["build-status"]
    assert event.detail.project_name == detail["project-name"]
    assert event.detail.build_id == detail["build-id"]
    info = detail["additional-information"]
    assert event.detail.additional_information.build_complete == info["build-complete"]
    assert event.detail.additional_information.build_start_time is not None
    variables = {v["name"]: v["value"] for v in info.get("environment", {}).get("environment-variables", [])}
    assert event.detail.additional_information.variables() == variables


def test_the_samples_cover_progress_success_and_failure() -> None:
    statuses = {json.loads(p.read_text())["detail"]["build-status"] for p in _files(BUILD_STATE_CHANGE)}
    assert {"IN_PROGRESS", "SUCCEEDED", "FAILED"} <= statuses


def test_locale_dates_phases_and_contexts_are_read() -> None:
    # Given the documented FAILED build
    raw = json.loads((AWS_SAMPLES / "codebuild-build-state-failed.json").read_text())
    # When it is parsed
    info = BuildStateChangeEvent.read(raw).detail.additional_information
    # Then the locale start time is a UTC datetime, and the failing phase keeps its message
    assert info.build_start_time == datetime(2017, 9, 1, 16, 12, 29, tzinfo=UTC)
    failed = [phase for phase in info.phases if phase.phase_status == "FAILED"]
    assert [phase.phase_type for phase in failed] == ["BUILD"]
    assert failed[0].phase_context[0].startswith("COMMAND_EXECUTION_ERROR")
    assert failed[0].duration_in_seconds == 70
    assert info.phases[-1].phase_type == "COMPLETED"
    assert info.phases[-1].end_time is None
    assert info.logs.stream_name == "8745a7a9-c340-456a-9166-edf953571bEX"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sep 1, 2017 4:12:29 PM", datetime(2017, 9, 1, 16, 12, 29, tzinfo=UTC)),
        ("Dec 31, 2025 12:00:01 AM", datetime(2025, 12, 31, 0, 0, 1, tzinfo=UTC)),
        ("Sep 1, 2017, 4:12:29\u202fPM", datetime(2017, 9, 1, 16, 12, 29, tzinfo=UTC)),
        ("2017-09-01T16:12:29Z", datetime(2017, 9, 1, 16, 12, 29, tzinfo=UTC)),
        ("yesterday-ish", None),
        ("", None),
        (None, None),
    ],
)
def test_build_times_in_every_known_format(text: str | None, expected: datetime | None) -> None:
    assert parse_build_time(text) == expected


def test_numbers_may_arrive_as_floats() -> None:
    # Given a state change whose numbers are floats, as in aws-lambda-go's captured events
    raw = json.loads((AWS_SAMPLES / "codebuild-build-state-succeeded.json").read_text())
    raw["detail"]["additional-information"]["build-number"] = 12.0
    raw["detail"]["additional-information"]["phases"][1]["duration-in-seconds"] = 36.0
    # Then they parse
    info = BuildStateChangeEvent.read(raw).detail.additional_information
    assert info.build_number == 12
    assert info.phases[1].duration_in_seconds == 36


@pytest.mark.parametrize("path", _files("CodeBuild Build Phase Change"), ids=lambda p: p.name)
def test_a_phase_change_is_not_mistaken_for_a_state_change(path: Path) -> None:
    # (No function acts on phase changes: there is no model of them, only this refusal.)
    with pytest.raises(BadEvent, match="detail-type"):
        BuildStateChangeEvent.read(json.loads(path.read_text()))


def test_an_unknown_build_status_is_refused() -> None:
    raw = json.loads((AWS_SAMPLES / "codebuild-build-state-succeeded.json").read_text())
    raw["detail"]["build-status"] = "EXPLODED"
    with pytest.raises(BadEvent, match="build-status"):
        BuildStateChangeEvent.read(raw)
