"""The page's view of CodePipeline: the shared adapter, and how an action that stopped waiting ended.

`ended_how` is the page's own question (the requests function learns endings from the action's
terminal event): asked only when a POST finds the action no longer waiting on its execution, so
the page can record and say why instead of deciding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from codereflex.approvals.model import ActionRef, EndedHow, Status
from codereflex.aws.codepipeline import CodePipelineApprovals, PutResult
from codereflex.aws.errors import translate

if TYPE_CHECKING:
    from mypy_boto3_codepipeline import CodePipelineClient

# The action's newest execution status, when its pipeline execution is still its own.
_ACTION_ENDINGS: dict[str, EndedHow] = {
    "Succeeded": "approved-elsewhere",
    "Failed": "rejected-elsewhere",
    "Abandoned": "abandoned",
}


class PipelineDecisions:
    """GetPipelineState and PutApprovalResult through the shared adapter; `ended_how` answered here."""

    def __init__(self, client: CodePipelineClient) -> None:
        self._client = client
        self._approvals = CodePipelineApprovals(client)

    def waiting_token(self, ref: ActionRef) -> str | None:
        return self._approvals.waiting_token(ref)

    def put_result(self, ref: ActionRef, token: str, status: Status, summary: str) -> PutResult:
        return self._approvals.put_result(ref, token, status, summary)

    def ended_how(self, ref: ActionRef) -> EndedHow:
        """Superseded or stopped (the execution's status), else what became of the action itself."""
        try:
            execution = self._client.get_pipeline_execution(
                pipelineName=ref.pipeline, pipelineExecutionId=ref.execution_id
            )["pipelineExecution"]
            status = execution.get("status")
            if status == "Superseded":
                return "superseded"
            if status in ("Stopped", "Stopping"):
                return "abandoned"
            details = [
                detail
                for page in self._client.get_paginator("list_action_executions").paginate(
                    pipelineName=ref.pipeline, filter={"pipelineExecutionId": ref.execution_id}
                )
                for detail in page.get("actionExecutionDetails", [])
                if (detail.get("stageName"), detail.get("actionName")) == (ref.stage, ref.action)
            ]
        except ClientError as error:
            raise translate(error, f"how {ref.key} ended") from error
        newest = max(details, key=lambda d: str(d.get("startTime", "")), default=None)
        # No ending of its own: the stage moved on to a newer execution (SUPERSEDED mode).
        return _ACTION_ENDINGS.get(str((newest or {}).get("status")), "superseded")
