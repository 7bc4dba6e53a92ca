"""CodePipeline executions with state, grafted onto moto: pipeline state, manual approvals, action executions.

moto's StartPipelineExecution records an execution that has "Succeeded" the moment it starts and
runs nothing; it has no GetPipelineState, PutApprovalResult or ListActionExecutions, and its
ListPipelineExecutions neither pages nor lists source revisions. The sandbox keeps moto's
pipelines and adds executions that stay InProgress while something (`sandbox/aws/pipelines.py`)
runs their actions: what that runner records (action runs, stage states, artifact revisions) is
what these operations report, in botocore's shapes.

A manual approval waits with a lowercase-hex UUID token. PutApprovalResult refuses a token that
names no waiting approval (`InvalidApprovalTokenException`: wrong, expired or abandoned) and one
already answered (`ApprovalAlreadyCompletedException`). An approval expires `timeoutInMinutes`
after it started (default 7 days) by the backend's clock, which tests replace (`set_clock`).
In PARALLEL execution mode GetPipelineState shows no token; ListActionExecutions shows it as the
action's `output.executionResult.externalExecutionId`, as AWS does. The summaries and error codes of
an expired or rejected approval are the sandbox's own wording: AWS documents none.
"""

from __future__ import annotations

import itertools
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from moto.codepipeline.exceptions import PipelineExecutionNotFoundException, PipelineNotFoundException
from moto.codepipeline.models import CodePipeline, CodePipelineBackend, codepipeline_backends
from moto.codepipeline.responses import CodePipelineResponse
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult

from sandbox.aws.moto_ext._support import ApiError, caller_arn, graft, now, paginate

DEFAULT_REGION = "us-east-1"
# ActionDeclaration.timeoutInMinutes: "available only to the manual approval ActionType"; 7 days by default.
DEFAULT_APPROVAL_MINUTES = 7 * 24 * 60
APPROVAL_STATUSES = ("Approved", "Rejected")
SUMMARY_MAX = 512  # ApprovalSummary max
PAGE_MAX = 100  # MaxResults: 1..100, "Default value is 100"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_STATE = "_sandbox_codepipeline_state"
_RUNS = "_sandbox_executions"


def _validation(message: str) -> ApiError:
    return ApiError("ValidationException", f"1 validation error detected: {message}")


class Happening(NamedTuple):
    """Something the runner must act on: an execution to run, an approval answered or expired."""

    kind: str  # "started" | "decided" | "expired"
    pipeline: str
    execution_id: str
    stage: str | None = None
    action: str | None = None


@dataclass
class ActionRun:
    """One execution of one action, as ListActionExecutions and GetPipelineState report it."""

    execution_id: str
    pipeline_version: int
    stage: str
    action: str
    type_id: dict[str, str]
    configuration: dict[str, str]
    region: str
    input_artifacts: list[dict[str, Any]]
    start: datetime
    seq: int
    action_execution_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "InProgress"
    last_update: datetime | None = None
    summary: str | None = None
    token: str | None = None
    expires: datetime | None = None
    answer: str | None = None  # "Approved" | "Rejected" once PutApprovalResult decided
    updated_by: str | None = None
    external_id: str | None = None
    external_url: str | None = None
    external_summary: str | None = None
    error: dict[str, str] | None = None
    output_artifacts: list[dict[str, Any]] = field(default_factory=list)
    output_variables: dict[str, str] = field(default_factory=dict)

    @property
    def is_approval(self) -> bool:
        return self.type_id.get("category") == "Approval" and self.type_id.get("provider") == "Manual"

    def end(self, status: str, at: datetime, *, summary: str | None = None) -> None:
        self.status, self.last_update = status, at
        if summary is not None:
            self.summary = summary

    def latest_execution(self, *, show_token: bool) -> dict[str, Any]:
        """GetPipelineState's ActionExecution."""
        shaped: dict[str, Any] = {
            "actionExecutionId": self.action_execution_id,
            "status": self.status,
            "lastStatusChange": self.last_update or self.start,
        }
        optional = {
            "summary": self.summary,
            "token": self.token if show_token else None,
            "lastUpdatedBy": self.updated_by,
            "externalExecutionId": None if self.is_approval else self.external_id,
            "externalExecutionUrl": self.external_url,
            "errorDetails": self.error,
        }
        shaped.update({key: value for key, value in optional.items() if value is not None})
        return shaped

    def detail(self) -> dict[str, Any]:
        """ListActionExecutions' ActionExecutionDetail."""
        result: dict[str, Any] = {}
        external_id = self.token if self.is_approval else self.external_id
        for key, value in (
            ("externalExecutionId", external_id),
            ("externalExecutionSummary", self.external_summary or self.summary),
            ("externalExecutionUrl", self.external_url),
            ("errorDetails", self.error),
        ):
            if value is not None:
                result[key] = value
        shaped: dict[str, Any] = {
            "pipelineExecutionId": self.execution_id,
            "actionExecutionId": self.action_execution_id,
            "pipelineVersion": self.pipeline_version,
            "stageName": self.stage,
            "actionName": self.action,
            "startTime": self.start,
            "lastUpdateTime": self.last_update or self.start,
            "status": self.status,
            "input": {
                "actionTypeId": dict(self.type_id),
                "configuration": dict(self.configuration),
                "resolvedConfiguration": dict(self.configuration),
                "region": self.region,
                "inputArtifacts": list(self.input_artifacts),
            },
            "output": {
                "outputArtifacts": list(self.output_artifacts),
                "executionResult": result,
                "outputVariables": dict(self.output_variables),
            },
        }
        if self.updated_by is not None:
            shaped["updatedBy"] = self.updated_by
        return shaped


@dataclass
class Execution:
    """One pipeline execution: its status, its stages' states and every action it ran."""

    pipeline: str
    execution_id: str
    version: int
    mode: str
    trigger: dict[str, str]
    start: datetime
    variables: list[dict[str, str]] = field(default_factory=list)
    status: str = "InProgress"
    status_summary: str | None = None
    last_update: datetime | None = None
    # stage name -> (status, order in which stages were entered across the pipeline's executions)
    stages: dict[str, tuple[str, int]] = field(default_factory=dict)
    actions: list[ActionRun] = field(default_factory=list)
    artifact_revisions: list[dict[str, Any]] = field(default_factory=list)
    source_revisions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status != "InProgress"

    def to_api(self) -> dict[str, Any]:
        shaped: dict[str, Any] = {
            "pipelineName": self.pipeline,
            "pipelineVersion": self.version,
            "pipelineExecutionId": self.execution_id,
            "status": self.status,
            "artifactRevisions": list(self.artifact_revisions),
            "variables": [{"name": v["name"], "resolvedValue": v["value"]} for v in self.variables],
            "trigger": dict(self.trigger),
            "executionMode": self.mode,
            "executionType": "STANDARD",
        }
        if self.status_summary is not None:
            shaped["statusSummary"] = self.status_summary
        return shaped

    def summary(self) -> dict[str, Any]:
        shaped: dict[str, Any] = {
            "pipelineExecutionId": self.execution_id,
            "status": self.status,
            "startTime": self.start,
            "lastUpdateTime": self.last_update or self.start,
            "sourceRevisions": list(self.source_revisions),
            "trigger": dict(self.trigger),
            "executionMode": self.mode,
            "executionType": "STANDARD",
        }
        if self.status_summary is not None:
            shaped["statusSummary"] = self.status_summary
        return shaped


@dataclass
class CodePipelineState:
    clock: Callable[[], datetime] = now
    outbox: deque[Happening] = field(default_factory=deque)
    listeners: list[Callable[[], None]] = field(default_factory=list)
    request_tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    seq: itertools.count[int] = field(default_factory=itertools.count)
    lock: threading.RLock = field(default_factory=threading.RLock)


class SandboxCodePipelineBackend(CodePipelineBackend):
    """What the sandbox adds to moto's CodePipelineBackend (grafted onto it by `patch`)."""

    @property
    def sandbox_state(self) -> CodePipelineState:
        # Kept in the instance dict: moto's reset rebuilds the dict, which drops this state too.
        state = self.__dict__.get(_STATE)
        if state is None:
            state = self.__dict__.setdefault(_STATE, CodePipelineState())
        return cast(CodePipelineState, state)

    def sandbox_pipeline(self, name: str) -> CodePipeline:
        pipeline = self.pipelines.get(name)
        if pipeline is None:
            raise PipelineNotFoundException(f"Account '{self.account_id}' does not have a pipeline with name '{name}'")
        return pipeline

    def sandbox_executions(self, name: str) -> dict[str, Execution]:
        """The pipeline's executions, oldest first (kept on moto's pipeline: deleting it drops them)."""
        pipeline = self.sandbox_pipeline(name)
        return cast(dict[str, Execution], pipeline.__dict__.setdefault(_RUNS, {}))

    def sandbox_execution(self, name: str, execution_id: str) -> Execution:
        found = self.sandbox_executions(name).get(execution_id)
        if found is None:
            raise PipelineExecutionNotFoundException(
                f"Account '{self.account_id}' does not have an execution with id '{execution_id}' for pipeline '{name}'"
            )
        return found

    def sandbox_next_seq(self) -> int:
        return next(self.sandbox_state.seq)

    def sandbox_emit(self, happening: Happening) -> None:
        """Queue a happening for the runner and wake its listeners (outside the lock)."""
        self.sandbox_state.outbox.append(happening)
        for listener in list(self.sandbox_state.listeners):
            listener()

    def sandbox_start(
        self,
        name: str,
        *,
        trigger_type: str,
        trigger_detail: str,
        variables: list[dict[str, str]] | None = None,
        client_request_token: str | None = None,
    ) -> Execution:
        """A new execution, InProgress; the runner is told to run it."""
        state = self.sandbox_state
        with state.lock:
            if client_request_token and (name, client_request_token) in state.request_tokens:
                return self.sandbox_execution(name, state.request_tokens[name, client_request_token])
            pipeline = self.sandbox_pipeline(name)
            execution_id = self.start_pipeline_execution(name, variables)  # moto's own record, for the id
            execution = Execution(
                pipeline=name,
                execution_id=execution_id,
                version=int(pipeline.pipeline["version"]),
                mode=str(pipeline.pipeline.get("executionMode") or "SUPERSEDED"),
                trigger={"triggerType": trigger_type, "triggerDetail": trigger_detail},
                start=state.clock(),
                variables=list(variables or []),
            )
            self.sandbox_executions(name)[execution_id] = execution
            if client_request_token:
                state.request_tokens[name, client_request_token] = execution_id
        self.sandbox_emit(Happening("started", name, execution_id))
        return execution

    def sandbox_set_stage(self, execution: Execution, stage: str, status: str) -> None:
        """Record a stage's state for an execution; entering it makes it the stage's latest execution."""
        with self.sandbox_state.lock:
            order = execution.stages[stage][1] if stage in execution.stages else self.sandbox_next_seq()
            execution.stages[stage] = (status, order)
            execution.last_update = self.sandbox_state.clock()

    def sandbox_begin_action(self, execution: Execution, stage: str, declaration: dict[str, Any]) -> ActionRun:
        """An action of `execution` starts (InProgress); a manual approval gets its token and expiry."""
        state = self.sandbox_state
        with state.lock:
            moment = state.clock()
            run = ActionRun(
                execution_id=execution.execution_id,
                pipeline_version=execution.version,
                stage=stage,
                action=declaration["name"],
                type_id={key: str(value) for key, value in declaration["actionTypeId"].items()},
                configuration={key: str(value) for key, value in (declaration.get("configuration") or {}).items()},
                region=str(declaration.get("region") or self.region_name),
                input_artifacts=[{"name": artifact["name"]} for artifact in declaration.get("inputArtifacts") or []],
                start=moment,
                seq=self.sandbox_next_seq(),
            )
            if run.is_approval:
                run.token = str(uuid.uuid4())
                run.expires = approval_expiry(declaration, moment)
            execution.actions.append(run)
            execution.last_update = moment
            return run

    def sandbox_finish(self, execution: Execution, status: str, summary: str | None = None) -> None:
        with self.sandbox_state.lock:
            execution.status, execution.status_summary = status, summary
            execution.last_update = self.sandbox_state.clock()

    def sandbox_expire(self) -> list[ActionRun]:
        """Fail every waiting approval whose timeout has passed; the runner emits what follows."""
        expired: list[ActionRun] = []
        state = self.sandbox_state
        with state.lock:
            moment = state.clock()
            for name in list(self.pipelines):
                for execution in self.sandbox_executions(name).values():
                    for run in execution.actions:
                        if run.is_approval and run.status == "InProgress" and run.expires and run.expires <= moment:
                            run.end("Failed", moment, summary="The approval request expired")
                            run.error = {"code": "JobFailed", "message": "The approval request expired"}
                            expired.append(run)
        for run in expired:
            self.sandbox_emit(Happening("expired", _pipeline_of(self, run), run.execution_id, run.stage, run.action))
        return expired

    def get_pipeline_state(self, name: str) -> dict[str, Any]:
        self.sandbox_expire()
        pipeline = self.sandbox_pipeline(name)
        executions = list(self.sandbox_executions(name).values())
        parallel = (pipeline.pipeline.get("executionMode") or "SUPERSEDED") == "PARALLEL"
        stage_states = []
        for index, stage in enumerate(pipeline.pipeline["stages"]):
            shaped: dict[str, Any] = {"stageName": stage["name"]}
            if index > 0:
                shaped["inboundTransitionState"] = {"enabled": True}
            entered = [(e.stages[stage["name"]], e) for e in executions if stage["name"] in e.stages]
            actions = []
            for action in stage["actions"]:
                action_state: dict[str, Any] = {"actionName": action["name"]}
                runs = [
                    r for e in executions for r in e.actions if (r.stage, r.action) == (stage["name"], action["name"])
                ]
                if runs:
                    latest = max(runs, key=lambda run: run.seq)
                    action_state["latestExecution"] = latest.latest_execution(show_token=not parallel)
                    if latest.type_id.get("category") == "Source" and latest.external_id:
                        action_state["currentRevision"] = {
                            "revisionId": latest.external_id,
                            "revisionChangeId": latest.external_id,
                            "created": latest.start,
                        }
                        if latest.external_url:
                            action_state["revisionUrl"] = latest.external_url
                actions.append(action_state)
            shaped["actionStates"] = actions
            if entered:
                (status, _), latest_execution = max(entered, key=lambda pair: pair[0][1])
                shaped["latestExecution"] = {"pipelineExecutionId": latest_execution.execution_id, "status": status}
            stage_states.append(shaped)
        metadata = pipeline.metadata
        return {
            "pipelineName": name,
            "pipelineVersion": pipeline.pipeline["version"],
            "stageStates": stage_states,
            "created": datetime.fromisoformat(metadata["created"].replace("Z", "+00:00")),
            "updated": datetime.fromisoformat(metadata["updated"].replace("Z", "+00:00")),
        }

    def put_approval_result(
        self, name: str, stage: str, action: str, *, status: str, summary: str, token: str, caller: str
    ) -> datetime:
        self.sandbox_expire()
        pipeline = self.sandbox_pipeline(name)
        stages = {s["name"]: s for s in pipeline.pipeline["stages"]}
        if stage not in stages:
            raise ApiError("StageNotFoundException", f"Stage '{stage}' does not exist in pipeline '{name}'")
        if action not in {a["name"] for a in stages[stage]["actions"]}:
            raise ApiError("ActionNotFoundException", f"Action '{action}' does not exist in stage '{stage}'")
        state = self.sandbox_state
        with state.lock:
            runs = [
                run
                for execution in self.sandbox_executions(name).values()
                for run in execution.actions
                if (run.stage, run.action, run.token) == (stage, action, token) and run.is_approval
            ]
            if not runs:
                raise ApiError("InvalidApprovalTokenException", f"Invalid approval token for action '{action}'")
            run = runs[0]
            if run.answer is not None:
                raise ApiError(
                    "ApprovalAlreadyCompletedException", f"The approval for action '{action}' is already completed"
                )
            if run.status != "InProgress":
                # Expired, or abandoned when a newer execution superseded this one: the token is dead.
                raise ApiError(
                    "InvalidApprovalTokenException", f"The approval token for action '{action}' is no longer valid"
                )
            moment = state.clock()
            run.answer, run.updated_by = status, caller
            run.end("Succeeded" if status == "Approved" else "Failed", moment, summary=summary)
        self.sandbox_emit(Happening("decided", name, run.execution_id, stage, action))
        return moment

    def list_action_executions(self, name: str, execution_id: str | None) -> list[dict[str, Any]]:
        self.sandbox_expire()
        executions = self.sandbox_executions(name)
        if execution_id is not None and execution_id not in executions:
            self.sandbox_execution(name, execution_id)  # raises PipelineExecutionNotFoundException
        runs = [
            run
            for execution in executions.values()
            if execution_id is None or execution.execution_id == execution_id
            for run in execution.actions
        ]
        # Newest first, as CodePipeline lists them.
        return [run.detail() for run in sorted(runs, key=lambda run: run.seq, reverse=True)]


def _pipeline_of(backend: CodePipelineBackend, run: ActionRun) -> str:
    for name, pipeline in backend.pipelines.items():
        if run.execution_id in pipeline.__dict__.get(_RUNS, {}):
            return name
    raise LookupError(run.execution_id)


class SandboxCodePipelineResponse(CodePipelineResponse):
    """The request side of the added and extended operations (grafted onto moto's CodePipelineResponse)."""

    @property
    def sandbox_backend(self) -> SandboxCodePipelineBackend:
        return cast(SandboxCodePipelineBackend, self.codepipeline_backend)

    def _page_size(self) -> int:
        size = self._get_param("maxResults")
        if size is not None and not 1 <= int(size) <= PAGE_MAX:
            raise _validation(
                f"Value '{size}' at 'maxResults' failed to satisfy constraint: Member must be between 1 and 100"
            )
        return int(size or PAGE_MAX)

    def _execution_id_param(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not _UUID.match(value):
            raise _validation(
                f"Value '{value}' at '{where}' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern"
            )
        return value

    def start_pipeline_execution(self) -> ActionResult:  # type: ignore[override]
        execution = self.sandbox_backend.sandbox_start(
            self._get_param("name"),
            trigger_type="StartPipelineExecution",
            trigger_detail=caller_arn(self),
            variables=self._get_param("variables"),
            client_request_token=self._get_param("clientRequestToken"),
        )
        return ActionResult({"pipelineExecutionId": execution.execution_id})

    def get_pipeline_execution(self) -> ActionResult:  # type: ignore[override]
        self.sandbox_backend.sandbox_expire()
        execution_id = self._execution_id_param(self._get_param("pipelineExecutionId"), "pipelineExecutionId")
        execution = self.sandbox_backend.sandbox_execution(self._get_param("pipelineName"), execution_id)
        return ActionResult({"pipelineExecution": execution.to_api()})

    def list_pipeline_executions(self) -> ActionResult:  # type: ignore[override]
        self.sandbox_backend.sandbox_expire()
        executions = self.sandbox_backend.sandbox_executions(self._get_param("pipelineName"))
        summaries = [execution.summary() for execution in reversed(list(executions.values()))]
        page, token = paginate(
            summaries,
            self._get_param("nextToken"),
            self._page_size(),
            ApiError("InvalidNextTokenException", "The next token is not valid"),
        )
        result: dict[str, Any] = {"pipelineExecutionSummaries": page}
        if token:
            result["nextToken"] = token
        return ActionResult(result)

    def get_pipeline_state(self) -> ActionResult:
        return ActionResult(self.sandbox_backend.get_pipeline_state(self._get_param("name")))

    def put_approval_result(self) -> ActionResult:
        result = self._get_param("result") or {}
        status, summary, token = result.get("status"), result.get("summary"), self._get_param("token")
        if status not in APPROVAL_STATUSES:
            raise _validation(
                f"Value '{status}' at 'result.status' failed to satisfy constraint: "
                "Member must satisfy enum value set: [Approved, Rejected]"
            )
        if not isinstance(summary, str) or len(summary) > SUMMARY_MAX:
            raise _validation(
                "Value at 'result.summary' failed to satisfy constraint: "
                "Member must have length less than or equal to 512"
            )
        if not isinstance(token, str) or not _UUID.match(token):
            raise _validation(
                "Value at 'token' failed to satisfy constraint: Member must satisfy regular expression pattern"
            )
        approved_at = self.sandbox_backend.put_approval_result(
            self._get_param("pipelineName"),
            self._get_param("stageName"),
            self._get_param("actionName"),
            status=status,
            summary=summary,
            token=token,
            caller=caller_arn(self),
        )
        return ActionResult({"approvedAt": approved_at})

    def list_action_executions(self) -> ActionResult:
        selector = self._get_param("filter") or {}
        execution_id = selector.get("pipelineExecutionId")
        if execution_id is None and "latestInPipelineExecution" in selector:
            execution_id = selector["latestInPipelineExecution"].get("pipelineExecutionId")
        if execution_id is not None:
            self._execution_id_param(execution_id, "filter.pipelineExecutionId")
        details = self.sandbox_backend.list_action_executions(self._get_param("pipelineName"), execution_id)
        page, token = paginate(
            details,
            self._get_param("nextToken"),
            self._page_size(),
            ApiError("InvalidNextTokenException", "The next token is not valid"),
        )
        result: dict[str, Any] = {"actionExecutionDetails": page}
        if token:
            result["nextToken"] = token
        return ActionResult(result)


def patch() -> None:
    """Graft the sandbox's CodePipeline operations onto moto (idempotent)."""
    graft(CodePipelineBackend, SandboxCodePipelineBackend)
    graft(CodePipelineResponse, SandboxCodePipelineResponse)


def backend_for(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> SandboxCodePipelineBackend:
    """moto's CodePipeline backend for an account and region, typed with the sandbox's additions."""
    patch()
    return cast(SandboxCodePipelineBackend, codepipeline_backends[account_id][region])


def set_clock(
    clock: Callable[[], datetime], *, account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION
) -> None:
    """Replace the backend's clock (approval expiry, every timestamp the runner records)."""
    backend_for(account_id, region).sandbox_state.clock = clock


def approval_expiry(declaration: dict[str, Any], started: datetime) -> datetime:
    """When a manual approval started at `started` expires: its `timeoutInMinutes`, 7 days by default."""
    return started + timedelta(minutes=int(declaration.get("timeoutInMinutes") or DEFAULT_APPROVAL_MINUTES))
