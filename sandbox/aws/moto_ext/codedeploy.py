"""CodeDeploy's lifecycle hooks, deployment targets and revisions for Lambda and ECS, grafted onto moto.

moto (5.2) creates applications, deployment groups and deployments, but a deployment never starts:
it has no targets, no lifecycle events and no hook executions, so
PutLifecycleEventHookExecutionStatus, ListDeploymentTargets, BatchGetDeploymentTargets,
GetDeploymentTarget and GetApplicationRevision are missing. Its ids are uuids (CodeDeploy's are `d-`
and nine capitals or digits), its GetDeployment returns the AppSpec text (CodeDeploy never does) and
empty placeholders for errorInformation and rollbackInfo, and its GetDeploymentGroup drops the alarm
configuration. The sandbox adds the operations and corrects those details; `sandbox.aws.deployments`
is what moves a deployment through its lifecycle events. Every field name follows botocore's
codedeploy service-2.json (2014-10-06), including its `identifer` spelling.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from moto.codedeploy.models import (
    CodeDeployBackend,
    CodeDeployDefault,
    DeploymentGroup,
    DeploymentInfo,
    codedeploy_backends,
)
from moto.codedeploy.responses import CodeDeployResponse, _deployment_group_info, _deployment_info
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.moto_api._internal import mock_random

from sandbox.aws.moto_ext._support import ApiError, graft, paginate

if TYPE_CHECKING:
    from collections.abc import Sequence

DEFAULT_REGION = "us-east-1"
# The lifecycle events of a target, in run order (CD-UG deployment-steps-ecs.md, appspec hooks).
ECS_EVENTS = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)
LAMBDA_EVENTS = ("BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")
# The events a hook function decides; the others are CodeDeploy's own steps.
SCRIPTED = frozenset(
    {"BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic"}
)
# "The deployment is considered to have failed if CodeDeploy is not notified by the Lambda validation
# function within one hour." (CD-UG reference-appspec-file-structure-hooks.md)
HOOK_TIMEOUT = timedelta(hours=1)
BATCH_TARGETS_MAX = 25
REPORTABLE = ("Succeeded", "Failed")
FINISHED = ("Succeeded", "Failed", "Stopped")
_DEPLOYMENT_ID = re.compile(r"^d-[A-Z0-9]{9}$")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_DEFAULT_CONFIG = {"Lambda": "CodeDeployDefault.LambdaAllAtOnce", "ECS": "CodeDeployDefault.ECSAllAtOnce"}
_STATE = "_sandbox_codedeploy_state"

_moto_create_deployment = CodeDeployBackend.create_deployment

Clock = Callable[[], datetime]


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class LifecycleEvent:
    name: str
    status: str = "Pending"
    start: datetime | None = None
    end: datetime | None = None
    diagnostics: dict[str, str] | None = None
    execution_id: str | None = None
    deadline: datetime | None = None

    def to_api(self) -> dict[str, Any]:
        shaped: dict[str, Any] = {"lifecycleEventName": self.name, "status": self.status}
        if self.start is not None:
            shaped["startTime"] = self.start
        if self.end is not None:
            shaped["endTime"] = self.end
        if self.diagnostics is not None:
            shaped["diagnostics"] = dict(self.diagnostics)
        return shaped


@dataclass
class Target:
    """The one target of a Lambda or ECS deployment: a function alias, or an ECS service."""

    kind: str  # lambdaTarget | ecsTarget
    target_id: str
    target_arn: str
    events: list[LifecycleEvent]
    updated: datetime
    status: str = "InProgress"
    lambda_function_info: dict[str, Any] | None = None
    task_sets: list[dict[str, Any]] | None = None

    def event(self, name: str) -> LifecycleEvent:
        for event in self.events:
            if event.name == name:
                return event
        raise KeyError(f"no lifecycle event {name} in this deployment")

    def to_api(self, deployment_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "deploymentId": deployment_id,
            "targetId": self.target_id,
            "targetArn": self.target_arn,
            "status": self.status,
            "lastUpdatedAt": self.updated,
            "lifecycleEvents": [event.to_api() for event in self.events],
        }
        if self.lambda_function_info is not None:
            body["lambdaFunctionInfo"] = dict(self.lambda_function_info)
        if self.task_sets is not None:
            body["taskSetsInfo"] = [dict(task_set) for task_set in self.task_sets]
        return {"deploymentTargetType": "LambdaTarget" if self.kind == "lambdaTarget" else "ECSTarget", self.kind: body}


@dataclass(frozen=True)
class HookReport:
    """One PutLifecycleEventHookExecutionStatus call and how CodeDeploy answered it."""

    deployment_id: str
    execution_id: str
    status: str
    answer: str  # "accepted" or the error code
    at: datetime


@dataclass
class Revision:
    location: dict[str, Any]
    registered: datetime
    first_used: datetime | None = None
    last_used: datetime | None = None
    groups: list[str] = field(default_factory=list)
    description: str | None = None


@dataclass
class DeploymentState:
    target: Target | None = None
    error: dict[str, str] | None = None
    rollback: dict[str, str] | None = None
    stop_requested: dict[str, Any] | None = None


@dataclass
class CodeDeployState:
    deployments: dict[str, DeploymentState] = field(default_factory=dict)
    executions: dict[str, tuple[str, str]] = field(default_factory=dict)  # execution id -> (deployment, event)
    revisions: dict[tuple[str, str], Revision] = field(default_factory=dict)
    reports: list[HookReport] = field(default_factory=list)
    clock: Clock = _wall_clock
    lock: threading.RLock = field(default_factory=threading.RLock)


class SandboxCodeDeployBackend(CodeDeployBackend):
    """What the sandbox adds to moto's CodeDeployBackend (grafted onto it by `patch`)."""

    @property
    def sandbox_state(self) -> CodeDeployState:
        # Kept in the instance dict: moto's reset rebuilds the dict, which drops this state too.
        state = self.__dict__.get(_STATE)
        if state is None:
            state = self.__dict__.setdefault(_STATE, CodeDeployState())
        return cast(CodeDeployState, state)

    def create_deployment(
        self, application_name: str, deployment_group_name: str, revision: dict[str, Any], *args: Any, **kwargs: Any
    ) -> str:
        """moto's CreateDeployment, with CodeDeploy's id format and the revision registered as used."""
        if not revision or not revision.get("revisionType"):
            raise ApiError("RevisionRequiredException", "The revision ID was not specified.")
        location = _canonical_revision(revision)
        moto_id = _moto_create_deployment(self, application_name, deployment_group_name, location, *args, **kwargs)
        with self.sandbox_state.lock:
            deployment = self.deployments.pop(moto_id)
            deployment.deployment_id = "d-" + "".join(mock_random.choice(_ALPHABET) for _ in range(9))
            self.deployments[deployment.deployment_id] = deployment
            self.sandbox_state.deployments[deployment.deployment_id] = DeploymentState()
            used = self.sandbox_state.clock()
            key = (application_name, _revision_key(location))
            record = self.sandbox_state.revisions.setdefault(key, Revision(location, registered=used))
            record.first_used = record.first_used or used
            record.last_used = used
            if deployment_group_name not in record.groups:
                record.groups.append(deployment_group_name)
            return deployment.deployment_id

    def register_application_revision(
        self, application_name: str, revision: dict[str, Any], description: str | None
    ) -> None:
        self.get_application(application_name)
        location = _canonical_revision(revision)
        with self.sandbox_state.lock:
            key = (application_name, _revision_key(location))
            record = self.sandbox_state.revisions.setdefault(
                key, Revision(location, registered=self.sandbox_state.clock())
            )
            record.description = description or record.description

    def get_application_revision(self, application_name: str | None, revision: dict[str, Any] | None) -> Revision:
        if not application_name:
            raise ApiError(
                "ApplicationNameRequiredException",
                "The minimum number of required application names was not specified.",
            )
        self.get_application(application_name)
        if not revision:
            raise ApiError("RevisionRequiredException", "The revision ID was not specified.")
        key = (application_name, _revision_key(revision))
        found = self.sandbox_state.revisions.get(key)
        if found is None:
            raise ApiError(
                "RevisionDoesNotExistException", "The named revision does not exist with the user or AWS account."
            )
        return found

    # - a deployment's life, as `sandbox.aws.deployments` drives it ----------------------------------

    def sandbox_deployment(self, deployment_id: str | None) -> DeploymentInfo:
        """The deployment, or the error CodeDeploy gives for a missing, malformed or unknown id."""
        if not deployment_id:
            raise ApiError("DeploymentIdRequiredException", "At least one deployment ID must be specified.")
        if not _DEPLOYMENT_ID.match(deployment_id):
            raise ApiError(
                "InvalidDeploymentIdException", "At least one of the deployment IDs was specified in an invalid format."
            )
        if deployment_id not in self.deployments:
            raise ApiError("DeploymentDoesNotExistException", f"The deployment {deployment_id} could not be found.")
        return self.deployments[deployment_id]

    def sandbox_target(self, deployment_id: str | None) -> Target:
        deployment = self.sandbox_deployment(deployment_id)
        target = self.sandbox_state.deployments[deployment.deployment_id].target
        if target is None:
            raise ApiError("DeploymentNotStartedException", "The specified deployment has not started.")
        return target

    def start_deployment(self, deployment_id: str, target: Target) -> None:
        with self.sandbox_state.lock:
            deployment = self.sandbox_deployment(deployment_id)
            deployment.status = "InProgress"
            deployment.start_time = self.sandbox_state.clock()
            self.sandbox_state.deployments[deployment_id].target = target

    def begin_event(self, deployment_id: str, name: str, *, hook: bool) -> str | None:
        """Mark a lifecycle event InProgress; for a hook, return the new hook execution id."""
        with self.sandbox_state.lock:
            target = self.sandbox_target(deployment_id)
            event = target.event(name)
            event.status, event.start = "InProgress", self.sandbox_state.clock()
            target.updated = event.start
            if not hook:
                return None
            event.execution_id = _execution_id()
            event.deadline = event.start + HOOK_TIMEOUT
            self.sandbox_state.executions[event.execution_id] = (deployment_id, name)
            return event.execution_id

    def end_event(self, deployment_id: str, name: str, status: str, diagnostics: dict[str, str] | None = None) -> None:
        with self.sandbox_state.lock:
            target = self.sandbox_target(deployment_id)
            event = target.event(name)
            if event.status in ("Pending", "InProgress"):
                event.status, event.end, event.diagnostics = status, self.sandbox_state.clock(), diagnostics
                target.updated = event.end

    def event_status(self, deployment_id: str, name: str) -> str:
        """A hook's status, timing it out (Failed) once its hour has passed on the sandbox's clock."""
        with self.sandbox_state.lock:
            event = self.sandbox_target(deployment_id).event(name)
            if (
                event.status == "InProgress"
                and event.deadline is not None
                and self.sandbox_state.clock() >= event.deadline
            ):
                self.end_event(
                    deployment_id,
                    name,
                    "Failed",
                    _diagnostics("ScriptTimedOut", "The hook did not report within one hour."),
                )
            return event.status

    def finish_deployment(
        self,
        deployment_id: str,
        status: str,
        *,
        error: dict[str, str] | None = None,
        rollback: dict[str, str] | None = None,
    ) -> None:
        """End a deployment: events still pending are Skipped, one still running Failed."""
        with self.sandbox_state.lock:
            deployment = self.sandbox_deployment(deployment_id)
            state = self.sandbox_state.deployments[deployment_id]
            if state.target is not None:
                for event in state.target.events:
                    if event.status == "InProgress":
                        self.end_event(
                            deployment_id, event.name, "Failed", _diagnostics("UnknownError", "The deployment ended.")
                        )
                    elif event.status == "Pending":
                        self.end_event(deployment_id, event.name, "Skipped")
                state.target.status = "Succeeded" if status == "Succeeded" else "Failed"
            deployment.status = status
            deployment.complete_time = self.sandbox_state.clock()
            state.error, state.rollback = error, rollback

    def put_lifecycle_event_hook_execution_status(
        self, deployment_id: str | None, execution_id: str | None, status: str | None
    ) -> str:
        with self.sandbox_state.lock:
            try:
                return self._report(deployment_id, execution_id, status)
            except ApiError as error:
                self._record(deployment_id, execution_id, status, error.error_type)
                raise

    def _report(self, deployment_id: str | None, execution_id: str | None, status: str | None) -> str:
        deployment = self.sandbox_deployment(deployment_id)
        if deployment.application.compute_platform not in ("Lambda", "ECS"):
            raise ApiError(
                "UnsupportedActionForDeploymentTypeException",
                "A call was submitted that is not supported for the specified deployment type.",
            )
        if status not in REPORTABLE:
            raise ApiError(
                "InvalidLifecycleEventHookExecutionStatusException",
                f"The status {status} is invalid: it should be Succeeded or Failed.",
            )
        owner = self.sandbox_state.executions.get(execution_id or "")
        if owner is None or owner[0] != deployment.deployment_id:
            raise ApiError("InvalidLifecycleEventHookExecutionIdException", "A lifecycle event hook is invalid.")
        name = owner[1]
        if self.event_status(deployment.deployment_id, name) != "InProgress" or deployment.status != "InProgress":
            raise ApiError(
                "LifecycleEventAlreadyCompletedException",
                "An attempt to return the status of an already completed lifecycle event occurred.",
            )
        diagnostics = _diagnostics(
            "Success" if status == "Succeeded" else "ScriptFailed", f"The hook reported {status}."
        )
        self.end_event(deployment.deployment_id, name, status, diagnostics)
        self._record(deployment_id, execution_id, status, "accepted")
        return cast(str, execution_id)

    def _record(self, deployment_id: str | None, execution_id: str | None, status: str | None, answer: str) -> None:
        report = HookReport(deployment_id or "", execution_id or "", status or "", answer, self.sandbox_state.clock())
        self.sandbox_state.reports.append(report)

    def stop_deployment(self, deployment_id: str | None, auto_rollback: bool | None) -> None:
        with self.sandbox_state.lock:
            deployment = self.sandbox_deployment(deployment_id)
            if deployment.status in FINISHED:
                raise ApiError("DeploymentAlreadyCompletedException", "The deployment is already complete.")
            self.sandbox_state.deployments[deployment.deployment_id].stop_requested = {
                "autoRollbackEnabled": auto_rollback
            }


class SandboxCodeDeployResponse(CodeDeployResponse):
    """The request side of the added and corrected operations (grafted onto moto's CodeDeployResponse)."""

    @property
    def sandbox_backend(self) -> SandboxCodeDeployBackend:
        return cast(SandboxCodeDeployBackend, self.codedeploy_backend)

    def get_deployment(self) -> ActionResult:
        deployment = self.sandbox_backend.sandbox_deployment(self._get_param("deploymentId"))
        return ActionResult({"deploymentInfo": deployment_info(self.sandbox_backend, deployment)})

    def batch_get_deployments(self) -> ActionResult:
        ids: list[str] = self._get_param("deploymentIds") or []
        found = [
            self.sandbox_backend.deployments[i] for i in dict.fromkeys(ids) if i in self.sandbox_backend.deployments
        ]
        return ActionResult({"deploymentsInfo": [deployment_info(self.sandbox_backend, d) for d in found]})

    def get_deployment_group(self) -> ActionResult:
        group = self.sandbox_backend.get_deployment_group(
            self._get_param("applicationName"), self._get_param("deploymentGroupName")
        )
        return ActionResult({"deploymentGroupInfo": deployment_group_info(self.sandbox_backend, group)})

    def get_application_revision(self) -> ActionResult:
        name = self._get_param("applicationName")
        found = self.sandbox_backend.get_application_revision(name, self._get_param("revision"))
        info = {
            "description": found.description,
            "deploymentGroups": list(found.groups),
            "firstUsedTime": found.first_used,
            "lastUsedTime": found.last_used,
            "registerTime": found.registered,
        }
        return ActionResult({"applicationName": name, "revision": found.location, "revisionInfo": _without_nones(info)})

    def register_application_revision(self) -> ActionResult:
        self.sandbox_backend.register_application_revision(
            self._get_param("applicationName"), self._get_param("revision") or {}, self._get_param("description")
        )
        return ActionResult({})

    def list_deployment_targets(self) -> ActionResult:
        target = self.sandbox_backend.sandbox_target(self._get_param("deploymentId"))
        filters: dict[str, list[str]] = self._get_param("targetFilters") or {}
        for name in filters:
            if name not in ("TargetStatus", "ServerInstanceLabel"):
                raise ApiError("InvalidTargetFilterNameException", "The target filter name is invalid.")
        targets = [target]
        if "TargetStatus" in filters:
            targets = [t for t in targets if t.status in filters["TargetStatus"]]
        if "ServerInstanceLabel" in filters:
            targets = []  # Blue/Green labels belong to server instances; a Lambda or ECS target has none
        page, token = paginate(
            [t.target_id for t in targets],
            self._get_param("nextToken"),
            100,
            ApiError("InvalidNextTokenException", "The next token was specified in an invalid format."),
        )
        return ActionResult({"targetIds": page, "nextToken": token} if token else {"targetIds": page})

    def batch_get_deployment_targets(self) -> ActionResult:
        deployment_id = self._get_param("deploymentId")
        target = self.sandbox_backend.sandbox_target(deployment_id)
        ids: list[str] = self._get_param("targetIds") or []
        if not ids:
            raise ApiError("DeploymentTargetIdRequiredException", "A deployment target ID was not provided.")
        if len(ids) > 1:
            # "The target list of both types of deployments must have exactly one item."
            raise ApiError(
                "DeploymentTargetListSizeExceededException",
                "The target list of an Amazon ECS or Lambda deployment must have exactly one item.",
            )
        for target_id in ids:
            if not target_id.strip():
                raise ApiError("InvalidDeploymentTargetIdException", "The target ID provided was not valid.")
            if target_id != target.target_id:
                raise ApiError(
                    "DeploymentTargetDoesNotExistException",
                    "The provided target ID does not belong to the attempted deployment.",
                )
        with self.sandbox_backend.sandbox_state.lock:
            return ActionResult({"deploymentTargets": [target.to_api(deployment_id)]})

    def get_deployment_target(self) -> ActionResult:
        deployment_id = self._get_param("deploymentId")
        target = self.sandbox_backend.sandbox_target(deployment_id)
        target_id = self._get_param("targetId")
        if not target_id:
            raise ApiError("DeploymentTargetIdRequiredException", "A deployment target ID was not provided.")
        if target_id != target.target_id:
            raise ApiError(
                "DeploymentTargetDoesNotExistException",
                "The provided target ID does not belong to the attempted deployment.",
            )
        with self.sandbox_backend.sandbox_state.lock:
            return ActionResult({"deploymentTarget": target.to_api(deployment_id)})

    def put_lifecycle_event_hook_execution_status(self) -> ActionResult:
        execution_id = self.sandbox_backend.put_lifecycle_event_hook_execution_status(
            self._get_param("deploymentId"), self._get_param("lifecycleEventHookExecutionId"), self._get_param("status")
        )
        return ActionResult({"lifecycleEventHookExecutionId": execution_id})

    def stop_deployment(self) -> ActionResult:
        self.sandbox_backend.stop_deployment(self._get_param("deploymentId"), self._get_param("autoRollbackEnabled"))
        return ActionResult({"status": "Pending", "statusMessage": "Stop requested"})


def deployment_info(backend: SandboxCodeDeployBackend, deployment: DeploymentInfo) -> dict[str, Any]:
    """GetDeployment's deploymentInfo as CodeDeploy gives it: no AppSpec text, no empty placeholders."""
    info = _deployment_info(deployment)
    for placeholder in (
        "previousRevision",
        "errorInformation",
        "rollbackInfo",
        "relatedDeployments",
        "additionalDeploymentStatusInfo",
        "externalId",
    ):
        info.pop(placeholder, None)
    # "The content property of the appSpecContent object in the returned revision is always null."
    revision = json.loads(json.dumps(deployment.revision))
    for kind in ("appSpecContent", "string"):
        if kind in revision:
            revision[kind].pop("content", None)
    info["revision"] = revision
    group = deployment.deployment_group
    if isinstance(deployment.deployment_config_name, CodeDeployDefault):
        info["deploymentConfigName"] = _DEFAULT_CONFIG.get(
            deployment.application.compute_platform, str(deployment.deployment_config_name)
        )
    if deployment.auto_rollback_configuration is None and group.auto_rollback_configuration:
        info["autoRollbackConfiguration"] = group.auto_rollback_configuration
    state = backend.sandbox_state.deployments.get(deployment.deployment_id) or DeploymentState()
    if state.error is not None:
        info["errorInformation"] = dict(state.error)
    if state.rollback is not None:
        info["rollbackInfo"] = dict(state.rollback)
    return _without_nones(info)


def deployment_group_info(backend: SandboxCodeDeployBackend, group: DeploymentGroup) -> dict[str, Any]:
    """GetDeploymentGroup's deploymentGroupInfo: moto's, with alarms, the platform's default config, the last runs."""
    info = _deployment_group_info(group)
    info["alarmConfiguration"] = group.alarm_configuration or {
        "enabled": False,
        "ignorePollAlarmFailure": False,
        "alarms": [],
    }
    if isinstance(group.deployment_config_name, CodeDeployDefault):
        info["deploymentConfigName"] = _DEFAULT_CONFIG.get(
            group.application.compute_platform, str(group.deployment_config_name)
        )
    for placeholder in ("targetRevision", "lastSuccessfulDeployment", "lastAttemptedDeployment"):
        info.pop(placeholder, None)
    ours = [d for d in backend.deployments.values() if d.deployment_group is group]
    if ours:
        info["lastAttemptedDeployment"] = _last(ours[-1])
        succeeded = [d for d in ours if d.status == "Succeeded"]
        if succeeded:
            info["lastSuccessfulDeployment"] = _last(succeeded[-1])
    return _without_nones(info)


def _last(deployment: DeploymentInfo) -> dict[str, Any]:
    return _without_nones(
        {
            "deploymentId": deployment.deployment_id,
            "status": deployment.status,
            "endTime": deployment.complete_time,
            "createTime": deployment.create_time,
        }
    )


def _without_nones(values: dict[str, Any]) -> dict[str, Any]:
    """Absent members stay absent: moto's placeholders (None, {}) are not what CodeDeploy sends."""
    return {key: value for key, value in values.items() if value is not None and value != {}}


def _canonical_revision(revision: dict[str, Any]) -> dict[str, Any]:
    """The revision as CodeDeploy stores it: text revisions carry the sha256 of their content."""
    kind = revision.get("revisionType")
    location = json.loads(json.dumps(revision))
    member = {"AppSpecContent": "appSpecContent", "String": "string"}.get(str(kind))
    if member is not None:
        body = location.get(member) or {}
        if "content" not in body:
            raise ApiError("InvalidRevisionException", "The revision was specified in an invalid format.")
        digest = hashlib.sha256(str(body["content"]).encode()).hexdigest()
        if body.get("sha256") not in (None, digest):
            raise ApiError("InvalidRevisionException", "The revision's sha256 does not match its content.")
        body["sha256"] = digest
        location[member] = body
    elif kind not in ("S3", "GitHub"):
        raise ApiError("InvalidRevisionException", "The revision was specified in an invalid format.")
    return cast(dict[str, Any], location)


def _revision_key(revision: dict[str, Any]) -> str:
    """What identifies a revision: a text revision by its sha256 (GetDeployment gives no content back)."""
    kind = revision.get("revisionType")
    member = {"AppSpecContent": "appSpecContent", "String": "string"}.get(str(kind))
    if member is not None:
        body = revision.get(member) or {}
        digest = body.get("sha256") or hashlib.sha256(str(body.get("content", "")).encode()).hexdigest()
        return f"{kind}:{digest}"
    if kind == "S3":
        s3 = revision.get("s3Location") or {}
        return "S3:" + json.dumps([s3.get(k) for k in ("bucket", "key", "bundleType", "version", "eTag")])
    if kind == "GitHub":
        github = revision.get("gitHubLocation") or {}
        return "GitHub:" + json.dumps([github.get("repository"), github.get("commitId")])
    raise ApiError("InvalidRevisionException", "The revision was specified in an invalid format.")


def _execution_id() -> str:
    """Opaque, shaped like the real ones (base64 JSON of encrypted data, as the AWS samples show)."""
    body = {
        "encryptedData": base64.b64encode(os.urandom(96)).decode(),
        "ivParameterSpec": base64.b64encode(os.urandom(12)).decode(),
        "materialSetSerial": 1,
    }
    return base64.b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


def _diagnostics(code: str, message: str) -> dict[str, str]:
    return {"errorCode": code, "scriptName": "", "message": message, "logTail": ""}


def patch() -> None:
    """Graft the sandbox's CodeDeploy operations onto moto (idempotent: grafting sets the same attributes again)."""
    graft(CodeDeployBackend, SandboxCodeDeployBackend)
    graft(CodeDeployResponse, SandboxCodeDeployResponse)


def backend_for(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> SandboxCodeDeployBackend:
    """moto's CodeDeploy backend for an account and region, typed with the sandbox's additions."""
    patch()
    return cast(SandboxCodeDeployBackend, codedeploy_backends[account_id][region])


def set_clock(clock: Clock, *, account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> None:
    """The time CodeDeploy sees (hook deadlines, event times): tests pass a simulated clock."""
    backend_for(account_id, region).sandbox_state.clock = clock


def hook_reports(
    deployment_id: str | None = None, *, account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION
) -> Sequence[HookReport]:
    """Every PutLifecycleEventHookExecutionStatus call so far (accepted or refused), oldest first."""
    reports = backend_for(account_id, region).sandbox_state.reports
    return [r for r in reports if deployment_id is None or r.deployment_id == deployment_id]
