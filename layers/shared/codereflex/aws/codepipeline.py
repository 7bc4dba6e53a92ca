"""CodePipeline: what a manual approval waits on, its token (read right before deciding), and the decision.

The token is never returned to anyone but the caller that passes it straight to `put_result`: it is
not stored, logged or shown. A token counts only while the action waits on the execution asked
about: GetPipelineState shows a stage's *latest* execution, which may be a newer one (or, right after
a new execution entered, still show the previous one's token).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from codereflex.approvals.model import (
    DEFAULT_TIMEOUT_MINUTES,
    ActionDetails,
    ActionRef,
    BuildSummary,
    Revision,
    Status,
)
from codereflex.aws.errors import error_code, translate

if TYPE_CHECKING:
    from mypy_boto3_codepipeline import CodePipelineClient

    from codereflex.aws.codecommit import CodeCommitCommits

__all__ = ["ActionDetails", "CodePipelineApprovals", "PutResult"]

PutResult = Literal["decided", "already-done"]
# PutApprovalResult's answers when the approval is no longer waiting on that token: it was decided
# (here, by someone in the console, or by an earlier try of this very call) or the action ended.
_ALREADY_DONE = frozenset({"ApprovalAlreadyCompletedException", "InvalidApprovalTokenException"})
_IN_PROGRESS = "InProgress"
# An action execution's status → the word its terminal state-change event uses.
_FINAL_STATES = {"Succeeded": "SUCCEEDED", "Failed": "FAILED", "Abandoned": "ABANDONED"}
# How far back the SNS path looks for the action execution a PARALLEL-mode token belongs to: a
# waiting approval is among a pipeline's newest action executions.
_TOKEN_SEARCH_ITEMS = 1000


class CodePipelineApprovals:
    """One account's pipelines, as manual approvals see them."""

    def __init__(self, client: CodePipelineClient, commits: CodeCommitCommits | None = None) -> None:
        self._client = client
        self._commits = commits  # to name the authors of CodeCommit revisions (separation of duties)

    def waiting_token(self, ref: ActionRef) -> str | None:
        """The token, only if the action is waiting on `ref.execution_id` right now."""
        if self._parallel(ref.pipeline):
            detail = self._action_execution(ref)
            if detail is None or detail.get("status") != _IN_PROGRESS:
                return None
            token = detail.get("output", {}).get("executionResult", {}).get("externalExecutionId")
            return str(token) if token else None
        action = self._action_state(ref.pipeline, ref.stage, ref.action)
        if action is None or action[0] != ref.execution_id:
            return None
        latest = action[1]
        token = latest.get("token")
        if latest.get("status") != _IN_PROGRESS or not token:
            return None
        # The stage's execution is ours; the action's may still be an earlier one's (the approval has
        # not started again yet): the action execution ids tell.
        shown = latest.get("actionExecutionId")
        if shown:
            detail = self._action_execution(ref)
            if detail is None or detail.get("actionExecutionId", shown) != shown:
                return None
        return str(token)

    def execution_for_token(self, pipeline: str, stage: str, action: str, token: str) -> str | None:
        """The execution an approval token belongs to, while it waits (CodePipeline's SNS message names none)."""
        if self._parallel(pipeline):
            for detail in self._action_executions(pipeline, None, max_items=_TOKEN_SEARCH_ITEMS):
                result = detail.get("output", {}).get("executionResult", {})
                if (
                    (detail.get("stageName"), detail.get("actionName")) == (stage, action)
                    and detail.get("status") == _IN_PROGRESS
                    and result.get("externalExecutionId") == token
                ):
                    return str(detail["pipelineExecutionId"])
            return None
        state = self._action_state(pipeline, stage, action)
        if state is None:
            return None
        execution_id, latest = state
        return execution_id if latest.get("status") == _IN_PROGRESS and latest.get("token") == token else None

    def action_details(self, ref: ActionRef) -> ActionDetails:
        """The approval action as declared, and when it started for this execution."""
        declaration = self._declaration(self._pipeline(ref.pipeline), ref.stage, ref.action)
        configuration: Mapping[str, str] = declaration.get("configuration") or {}
        detail = self._action_execution(ref)
        started = detail.get("startTime") if detail else None
        return ActionDetails(
            timeout_minutes=int(declaration.get("timeoutInMinutes") or DEFAULT_TIMEOUT_MINUTES),
            started_at=started.astimezone(UTC) if isinstance(started, datetime) else None,
            custom_data=configuration.get("CustomData") or None,
            external_link=configuration.get("ExternalEntityLink") or None,
            notification_arn=configuration.get("NotificationArn") or None,
        )

    def execution_details(self, ref: ActionRef) -> tuple[tuple[Revision, ...], tuple[BuildSummary, ...]]:
        """The execution's source revisions (with CodeCommit authors) and its Build actions' results."""
        try:
            execution = self._client.get_pipeline_execution(
                pipelineName=ref.pipeline, pipelineExecutionId=ref.execution_id
            )["pipelineExecution"]
        except ClientError as error:
            raise translate(error, f"GetPipelineExecution {ref.execution_id} of {ref.pipeline}") from error
        repositories = _codecommit_repositories(self._pipeline(ref.pipeline))
        revisions = tuple(
            self._revision(raw, repositories.get(str(raw.get("name", ""))))
            for raw in execution.get("artifactRevisions") or []
        )
        builds = tuple(
            BuildSummary(
                action=str(detail.get("actionName", "")),
                status=str(detail.get("status", "")),
                summary=str(detail.get("output", {}).get("executionResult", {}).get("externalExecutionSummary") or ""),
                url=str(detail.get("output", {}).get("executionResult", {}).get("externalExecutionUrl") or ""),
            )
            for detail in self._action_executions(ref.pipeline, ref.execution_id)
            if detail.get("input", {}).get("actionTypeId", {}).get("category") == "Build"
        )
        return revisions, builds

    def put_result(self, ref: ActionRef, token: str, status: Status, summary: str) -> PutResult:
        """Decide the approval; "already-done" when CodePipeline no longer waits on this token."""
        try:
            self._client.put_approval_result(
                pipelineName=ref.pipeline,
                stageName=ref.stage,
                actionName=ref.action,
                result={"status": status, "summary": summary},
                token=token,
            )
        except ClientError as error:
            if error_code(error) in _ALREADY_DONE:
                return "already-done"
            raise translate(error, f"PutApprovalResult for {ref.key}") from error
        return "decided"

    def updated_by(self, ref: ActionRef) -> str | None:
        """Who CodePipeline says last updated the action's execution for `ref` (an ARN), if it says.

        ListActionExecutions' `updatedBy` for that very action execution; else GetPipelineState's
        `lastUpdatedBy`, but only while the stage's latest execution is `ref`'s and shows the same
        action execution (it may be a newer execution's).
        """
        return self._updated_by(ref, self._action_execution(ref))

    def _updated_by(self, ref: ActionRef, detail: Mapping[str, Any] | None) -> str | None:
        if detail is not None and detail.get("updatedBy"):
            return str(detail["updatedBy"])
        state = self._action_state(ref.pipeline, ref.stage, ref.action)
        if state is None or state[0] != ref.execution_id:
            return None
        latest = state[1]
        if detail is not None and latest.get("actionExecutionId", detail.get("actionExecutionId")) != detail.get(
            "actionExecutionId"
        ):
            return None
        return str(latest["lastUpdatedBy"]) if latest.get("lastUpdatedBy") else None

    def final_state(self, ref: ActionRef) -> tuple[str, str | None]:
        """How an action that no longer waits finished, in its terminal event's words, and who last updated it.

        SUCCEEDED or FAILED (the action's own status), ABANDONED (superseded by a newer execution, or
        no ending of its own: the stage moved on) or CANCELED (the execution was stopped).
        """
        try:
            execution = self._client.get_pipeline_execution(
                pipelineName=ref.pipeline, pipelineExecutionId=ref.execution_id
            )["pipelineExecution"]
        except ClientError as error:
            raise translate(error, f"GetPipelineExecution {ref.execution_id} of {ref.pipeline}") from error
        status = execution.get("status")
        if status == "Superseded":
            return "ABANDONED", None
        if status in ("Stopped", "Stopping"):
            return "CANCELED", None
        detail = self._action_execution(ref)
        state = _FINAL_STATES.get(str((detail or {}).get("status")), "ABANDONED")
        if state in ("SUCCEEDED", "FAILED"):
            return state, self._updated_by(ref, detail)
        return state, None

    def tags(self, pipeline: str) -> dict[str, str]:
        """The pipeline's tags (where a pipeline names its own approvers)."""
        arn = self._pipeline_response(pipeline).get("metadata", {}).get("pipelineArn")
        if not arn:
            return {}
        tags: dict[str, str] = {}
        try:
            for page in self._client.get_paginator("list_tags_for_resource").paginate(resourceArn=arn):
                tags.update({str(t["key"]): str(t.get("value", "")) for t in page.get("tags", [])})
        except ClientError as error:
            raise translate(error, f"ListTagsForResource of {pipeline}") from error
        return tags

    def _revision(self, raw: Mapping[str, Any], repository: str | None) -> Revision:
        revision_id = str(raw.get("revisionId") or "")
        email = name = None
        if repository and revision_id and self._commits is not None:
            email, name = self._commits.author(repository, revision_id)
        return Revision(
            name=str(raw.get("name") or ""),
            revision_id=revision_id,
            summary=_commit_message(str(raw.get("revisionSummary") or "")),
            url=str(raw.get("revisionUrl") or ""),
            author_email=email,
            author_name=name,
        )

    def _parallel(self, pipeline: str) -> bool:
        return self._pipeline(pipeline).get("executionMode") == "PARALLEL"

    def _pipeline(self, pipeline: str) -> Mapping[str, Any]:
        declared: Mapping[str, Any] = self._pipeline_response(pipeline).get("pipeline") or {}
        return declared

    def _pipeline_response(self, pipeline: str) -> Mapping[str, Any]:
        try:
            response: Mapping[str, Any] = self._client.get_pipeline(name=pipeline)
        except ClientError as error:
            raise translate(error, f"GetPipeline {pipeline}") from error
        return response

    def _action_state(self, pipeline: str, stage: str, action: str) -> tuple[str, Mapping[str, Any]] | None:
        """(the stage's latest execution id, the action's latest execution) from GetPipelineState."""
        try:
            state: Mapping[str, Any] = self._client.get_pipeline_state(name=pipeline)
        except ClientError as error:
            raise translate(error, f"GetPipelineState of {pipeline}") from error
        for stage_state in state.get("stageStates") or []:
            if stage_state.get("stageName") != stage:
                continue
            execution_id = (stage_state.get("latestExecution") or {}).get("pipelineExecutionId")
            for action_state in stage_state.get("actionStates") or []:
                if action_state.get("actionName") == action and execution_id:
                    return str(execution_id), action_state.get("latestExecution") or {}
        return None

    def _action_execution(self, ref: ActionRef) -> Mapping[str, Any] | None:
        """The action's newest execution within the pipeline execution (a retried stage runs it again)."""
        matching = [
            detail
            for detail in self._action_executions(ref.pipeline, ref.execution_id)
            if (detail.get("stageName"), detail.get("actionName")) == (ref.stage, ref.action)
        ]
        epoch = datetime.min.replace(tzinfo=UTC)
        return max(matching, key=lambda d: d.get("startTime") or epoch, default=None)

    def _action_executions(
        self, pipeline: str, execution_id: str | None, max_items: int | None = None
    ) -> Iterator[Mapping[str, Any]]:
        arguments: dict[str, Any] = {"pipelineName": pipeline}
        if execution_id is not None:
            arguments["filter"] = {"pipelineExecutionId": execution_id}
        if max_items is not None:
            arguments["PaginationConfig"] = {"MaxItems": max_items}
        try:
            for page in self._client.get_paginator("list_action_executions").paginate(**arguments):
                yield from page.get("actionExecutionDetails") or []
        except ClientError as error:
            raise translate(error, f"ListActionExecutions of {pipeline}") from error

    @staticmethod
    def _declaration(pipeline: Mapping[str, Any], stage: str, action: str) -> Mapping[str, Any]:
        for declared_stage in pipeline.get("stages") or []:
            if declared_stage.get("name") == stage:
                for declared in declared_stage.get("actions") or []:
                    if declared.get("name") == action:
                        found: Mapping[str, Any] = declared
                        return found
        return {}


def _codecommit_repositories(pipeline: Mapping[str, Any]) -> dict[str, str]:
    """Output artifact name → CodeCommit repository, for the pipeline's CodeCommit source actions."""
    repositories: dict[str, str] = {}
    for stage in pipeline.get("stages") or []:
        for action in stage.get("actions") or []:
            kind = action.get("actionTypeId") or {}
            repository = (action.get("configuration") or {}).get("RepositoryName")
            if (kind.get("category"), kind.get("provider")) == ("Source", "CodeCommit") and repository:
                for artifact in action.get("outputArtifacts") or []:
                    repositories[str(artifact.get("name"))] = str(repository)
    return repositories


def _commit_message(summary: str) -> str:
    """CodeCommit's revision summary is the commit message; connection sources send JSON with one in it."""
    if summary.startswith("{"):
        try:
            parsed = json.loads(summary)
        except ValueError:
            return summary
        if isinstance(parsed, dict) and isinstance(parsed.get("CommitMessage"), str):
            return str(parsed["CommitMessage"])
    return summary
