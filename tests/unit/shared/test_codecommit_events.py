"""The CodeCommit event models accept every real AWS sample and every events/ file, and reject the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codereflex.errors import BadEvent
from codereflex.events.codecommit import REPOSITORY_STATE_CHANGE, RepositoryStateChangeEvent
from tests.conftest import AWS_SAMPLES, EVENTS


def _state_change_files() -> list[Path]:
    candidates = sorted(AWS_SAMPLES.glob("codecommit-*.json")) + sorted(EVENTS.rglob("*.json"))
    return [p for p in candidates if json.loads(p.read_text()).get("detail-type") == REPOSITORY_STATE_CHANGE]


@pytest.mark.parametrize("path", _state_change_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_repository_state_change_sample_parses(path: Path) -> None:
    # Given a real or project sample of a CodeCommit Repository State Change
    raw = json.loads(path.read_text())
    # When it is parsed
    event = RepositoryStateChangeEvent.read(raw)
    # Then the fields the functions rely on are the sample's own
    assert event.detail.repository_name == raw["detail"]["repositoryName"]
    assert event.detail.reference_full_name == raw["detail"]["referenceFullName"]
    assert event.detail.commit_id == raw["detail"].get("commitId")
    assert event.detail.old_commit_id == raw["detail"].get("oldCommitId")


def test_the_aws_samples_cover_all_three_reference_events() -> None:
    # Given the samples AWS documents
    events = {json.loads(p.read_text())["detail"].get("event") for p in _state_change_files()}
    # Then created, updated and deleted are all exercised by the test above
    assert {"referenceCreated", "referenceUpdated", "referenceDeleted"} <= events


def test_a_pull_request_event_is_not_a_reference_change() -> None:
    # Given a CodeCommit event of another detail-type
    raw = json.loads((AWS_SAMPLES / "codecommit-pull-request-created.json").read_text())
    # Then the model refuses it instead of guessing
    with pytest.raises(BadEvent):
        RepositoryStateChangeEvent.read(raw)


def test_a_reference_change_without_a_repository_is_refused() -> None:
    raw = json.loads((AWS_SAMPLES / "codecommit-reference-deleted.json").read_text())
    del raw["detail"]["repositoryName"]
    with pytest.raises(BadEvent, match="repositoryName"):
        RepositoryStateChangeEvent.read(raw)
