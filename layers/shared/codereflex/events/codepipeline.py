"""CodePipeline manual approvals as they arrive: the action's state change from EventBridge, CodePipeline's SNS message.

The SNS message carries the approval's raw token. It is read into a field that no repr, error or
log line shows (`ApprovalNotification.token`), and a BadEvent names fields, never their values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from codereflex.events.reading import EventBridgeEnvelope, Fields, shape_error

ACTION_EXECUTION_STATE_CHANGE = "CodePipeline Action Execution State Change"
OPENING_STATES = ("STARTED",)
# How an action execution ends (CodePipeline's documented action states besides STARTED).
TERMINAL_STATES = ("SUCCEEDED", "FAILED", "ABANDONED", "CANCELED")
ACTION_STATES = OPENING_STATES + TERMINAL_STATES


class ActionType(NamedTuple):
    owner: str
    category: str
    provider: str
    version: str

    @classmethod
    def read(cls, raw: Fields) -> ActionType:
        version = raw.value("version")
        return cls(
            owner=raw.required_text("owner"),
            category=raw.required_text("category"),
            provider=raw.required_text("provider"),
            # "1" in the documented samples; tolerate a number.
            version=str(version) if isinstance(version, int | str) and not isinstance(version, bool) else "",
        )

    @property
    def is_manual_approval(self) -> bool:
        return (self.category, self.provider) == ("Approval", "Manual")


class ActionExecution(NamedTuple):
    """One action of one pipeline execution entering a state."""

    pipeline: str
    execution_id: str
    stage: str
    action: str
    state: str  # one of ACTION_STATES
    type: ActionType
    # The decision's summary when the action ended (PutApprovalResult's `summary`), if the event has one.
    summary: str | None = None

    @classmethod
    def read(cls, raw: Fields) -> ActionExecution:
        result = raw.child("execution-result", lambda fields: fields)
        return cls(
            pipeline=raw.required_text("pipeline", non_empty=True),
            execution_id=raw.required_text("execution-id", non_empty=True),
            stage=raw.required_text("stage", non_empty=True),
            action=raw.required_text("action", non_empty=True),
            state=raw.choice("state", ACTION_STATES),
            type=raw.child("type", ActionType.read),
            summary=result.text("external-execution-summary"),
        )


@dataclass(frozen=True, slots=True)
class ActionExecutionStateChangeEvent(EventBridgeEnvelope):
    """The EventBridge envelope of a CodePipeline action execution state change."""

    detail: ActionExecution = field(kw_only=True)

    SOURCE = "aws.codepipeline"
    DETAIL_TYPES = (ACTION_EXECUTION_STATE_CHANGE,)
    DETAIL = ActionExecution


@dataclass(frozen=True, slots=True)
class ApprovalNotification:
    """CodePipeline's approval message (docs: "JSON data format for manual approval notifications") as SNS delivers it.

    It has no execution id: the execution is the one the token belongs to. `token` never appears in
    a repr; hold it only as long as it takes to find that execution.
    """

    message_id: str
    topic_arn: str
    region: str
    pipeline: str
    stage: str
    action: str
    expires: datetime | None
    external_link: str | None
    custom_data: str | None
    token: str = field(repr=False)

    @classmethod
    def read(cls, event: Any) -> ApprovalNotification:
        """Read the SNS Lambda event (one record); a BadEvent names the first field that does not fit."""
        records = Fields(event, "").children("Records", lambda fields: fields)
        if len(records) != 1:
            raise shape_error("Records", "must hold exactly one record")
        (record,) = records
        if record.text("EventSource") != "aws:sns":
            raise shape_error("Records.0.EventSource", "must be aws:sns")
        sns = record.child("Sns", lambda fields: fields)
        text = sns.required_text("Message", non_empty=True)
        try:
            message = json.loads(text)
        except ValueError:
            raise shape_error("Records.0.Sns.Message", "must be CodePipeline's approval JSON") from None
        body = Fields(message, "Records.0.Sns.Message")
        approval = body.child("approval", lambda fields: fields)
        return cls(
            message_id=sns.required_text("MessageId", non_empty=True),
            topic_arn=sns.required_text("TopicArn", non_empty=True),
            region=body.text("region", default="") or "",
            pipeline=approval.required_text("pipelineName", non_empty=True),
            stage=approval.required_text("stageName", non_empty=True),
            action=approval.required_text("actionName", non_empty=True),
            expires=_approval_time(approval, "expires"),
            external_link=approval.text("externalEntityLink") or None,
            custom_data=approval.text("customData") or None,
            token=approval.required_text("token", non_empty=True),
        )


def _approval_time(raw: Fields, key: str) -> datetime | None:
    # CodePipeline writes minutes only ("2016-07-07T20:22Z"); fromisoformat reads that too.
    return raw.iso_time(key) if raw.value(key) is not None else None
