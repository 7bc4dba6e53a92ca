"""The events and messages CodePipeline sends: execution state changes and the manual approval notification.

Field for field as the CodePipeline user guide shows them (tests/data/aws-samples/codepipeline-*):
kebab-case names, the pipeline's version as a number in pipeline and action events but as a string
in stage events, `type.version` as the action declaration's string, and an approval notification
whose `expires` has minute precision and whose absent keys are null.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sandbox.aws.envelope import envelope
from sandbox.aws.moto_ext.codepipeline import ActionRun, Execution

SOURCE = "aws.codepipeline"
PIPELINE_CHANGE = "CodePipeline Pipeline Execution State Change"
STAGE_CHANGE = "CodePipeline Stage Execution State Change"
ACTION_CHANGE = "CodePipeline Action Execution State Change"


def _envelope(detail_type: str, detail: dict[str, Any], *, account: str, region: str, at: datetime) -> dict[str, Any]:
    pipeline = detail["pipeline"]
    return envelope(
        source=SOURCE,
        detail_type=detail_type,
        detail=detail,
        account=account,
        region=region,
        resources=[f"arn:aws:codepipeline:{region}:{account}:{pipeline}"],
        time=at,
    )


def pipeline_event(execution: Execution, state: str, *, account: str, region: str, at: datetime) -> dict[str, Any]:
    """STARTED | SUCCEEDED | FAILED | SUPERSEDED ... for the whole execution; STARTED names its trigger."""
    detail: dict[str, Any] = {"pipeline": execution.pipeline, "execution-id": execution.execution_id}
    if state == "STARTED":
        detail["execution-trigger"] = {
            "trigger-type": execution.trigger["triggerType"],
            "trigger-detail": execution.trigger["triggerDetail"],
        }
    detail |= {"state": state, "version": execution.version}
    return _envelope(PIPELINE_CHANGE, detail, account=account, region=region, at=at)


def stage_event(
    execution: Execution, stage: str, state: str, *, account: str, region: str, at: datetime
) -> dict[str, Any]:
    detail = {
        "pipeline": execution.pipeline,
        "version": str(execution.version),
        "execution-id": execution.execution_id,
        "stage": stage,
        "state": state,
    }
    return _envelope(STAGE_CHANGE, detail, account=account, region=region, at=at)


def action_event(
    execution: Execution,
    run: ActionRun,
    state: str,
    *,
    account: str,
    region: str,
    at: datetime,
    artifact_bucket: str | None = None,
) -> dict[str, Any]:
    """STARTED | SUCCEEDED | FAILED | ABANDONED for one action; never an approval's token."""
    detail: dict[str, Any] = {
        "pipeline": execution.pipeline,
        "execution-id": execution.execution_id,
        "stage": run.stage,
        "action": run.action,
        "state": state,
        "region": run.region,
        "type": {
            "owner": run.type_id.get("owner"),
            "category": run.type_id.get("category"),
            "provider": run.type_id.get("provider"),
            "version": run.type_id.get("version"),
        },
        "version": execution.version,
    }
    if state == "STARTED" and run.input_artifacts and artifact_bucket:
        detail["input-artifacts"] = [
            {"name": a["name"], "s3location": {"bucket": artifact_bucket, "key": f"{execution.pipeline}/{a['name']}"}}
            for a in run.input_artifacts
        ]
    if state in ("SUCCEEDED", "FAILED"):
        result: dict[str, Any] = {}
        if run.external_url:
            result["external-execution-url"] = run.external_url
        if run.summary or run.external_summary:
            result["external-execution-summary"] = run.external_summary or run.summary
        if run.external_id and not run.is_approval:
            result["external-execution-id"] = run.external_id
        if state == "FAILED":
            result["error-code"] = (run.error or {}).get("code", "JobFailed")
        if result:
            detail["execution-result"] = result
    return _envelope(ACTION_CHANGE, detail, account=account, region=region, at=at)


def console_link(pipeline: str, region: str) -> str:
    return f"https://console.aws.amazon.com/codepipeline/home?region={region}#/view/{pipeline}"


def approval_notification(execution: Execution, run: ActionRun) -> tuple[str, str]:
    """The (subject, message) CodePipeline publishes to an approval action's NotificationArn.

    This message carries the raw token (AWS's does): only the stack's own subscriber may read it.
    """
    if run.token is None or run.expires is None:
        raise ValueError(f"{run.stage}/{run.action} is not a waiting manual approval")
    link = console_link(execution.pipeline, run.region)
    message = {
        "region": run.region,
        "consoleLink": link,
        "approval": {
            "pipelineName": execution.pipeline,
            "stageName": run.stage,
            "actionName": run.action,
            "token": run.token,
            "expires": run.expires.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"),
            "externalEntityLink": run.configuration.get("ExternalEntityLink"),
            "approvalReviewLink": f"{link}/{run.stage}/{run.action}/approve/{run.token}",
            "customData": run.configuration.get("CustomData"),
        },
    }
    subject = f"APPROVAL NEEDED: AWS CodePipeline {execution.pipeline} for action {run.action}"
    # SNS subjects stop at 100 characters.
    return subject[:100], json.dumps(message, separators=(",", ":"))
