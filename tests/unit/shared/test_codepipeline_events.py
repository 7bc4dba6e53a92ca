"""The CodePipeline readers accept every real AWS sample and events/ file of their kind, and name what they refuse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codereflex.errors import BadEvent
from codereflex.events.codepipeline import (
    ACTION_EXECUTION_STATE_CHANGE,
    ActionExecutionStateChangeEvent,
    ApprovalNotification,
)
from tests.conftest import AWS_SAMPLES, EVENTS


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


SAMPLES = sorted(AWS_SAMPLES.glob("*.json")) + sorted(EVENTS.rglob("*.json"))
ACTION_CHANGES = [p for p in SAMPLES if _load(p).get("detail-type") == ACTION_EXECUTION_STATE_CHANGE]
SNS_DELIVERIES = [p for p in SAMPLES if "Records" in _load(p)]


@pytest.mark.parametrize("path", ACTION_CHANGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_action_execution_sample_parses(path: Path) -> None:
    raw = _load(path)
    event = ActionExecutionStateChangeEvent.read(raw)
    detail = raw["detail"]
    assert (event.detail.pipeline, event.detail.stage, event.detail.action) == (
        detail["pipeline"],
        detail["stage"],
        detail["action"],
    )
    assert event.detail.execution_id == detail["execution-id"]
    assert event.detail.state == detail["state"]
    assert event.detail.type.is_manual_approval == (detail["type"]["category"] == "Approval")


def test_the_samples_cover_approval_and_other_actions() -> None:
    kinds = {ActionExecutionStateChangeEvent.read(_load(p)).detail.type.is_manual_approval for p in ACTION_CHANGES}
    assert kinds == {True, False}
    assert len(SNS_DELIVERIES) >= 2  # AWS's and the project's


@pytest.mark.parametrize("path", SNS_DELIVERIES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_approval_message_sample_parses_and_keeps_its_token_out_of_sight(path: Path) -> None:
    raw = _load(path)
    message = json.loads(raw["Records"][0]["Sns"]["Message"])["approval"]
    notification = ApprovalNotification.read(raw)
    assert (notification.pipeline, notification.stage, notification.action) == (
        message["pipelineName"],
        message["stageName"],
        message["actionName"],
    )
    assert notification.token == message["token"]
    assert message["token"] not in repr(notification)
    assert notification.expires is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"state": "RESUMED"}, "detail.state"),
        ({"execution-id": ""}, "detail.execution-id"),
        ({"type": None}, "detail.type.owner"),
    ],
)
def test_a_bad_action_change_names_its_field(change: dict[str, Any], field: str) -> None:
    raw = _load(AWS_SAMPLES / "codepipeline-action-execution-approval-started.json")
    raw["detail"].update(change)
    with pytest.raises(BadEvent, match=field.replace(".", r"\.")):
        ActionExecutionStateChangeEvent.read(raw)


def test_an_approval_message_without_its_token_is_refused_without_echoing_the_message() -> None:
    raw = _load(AWS_SAMPLES / "sns-approval-lambda-event.json")
    message = json.loads(raw["Records"][0]["Sns"]["Message"])
    del message["approval"]["token"]
    raw["Records"][0]["Sns"]["Message"] = json.dumps(message)
    with pytest.raises(BadEvent, match=r"approval\.token") as refused:
        ApprovalNotification.read(raw)
    assert "MyFirstPipeline" not in str(refused.value)
