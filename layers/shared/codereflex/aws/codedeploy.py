"""CodeDeploy for the hook functions: the deployment, its group, its target, its AppSpec, and the one report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from codereflex.aws.errors import error_code, translate
from codereflex.errors import TargetGone, TransientError

if TYPE_CHECKING:
    from mypy_boto3_codedeploy import CodeDeployClient

TARGETS_PER_BATCH = 25  # BatchGetDeploymentTargets' most
# The deployment a hook names cannot be reported to: it is malformed, unknown or gone.
_UNREPORTABLE = frozenset(
    {
        "DeploymentDoesNotExistException",
        "DeploymentIdRequiredException",
        "InvalidDeploymentIdException",
        "InvalidLifecycleEventHookExecutionIdException",
        "UnsupportedActionForDeploymentTypeException",
    }
)
_GONE = frozenset({"DeploymentDoesNotExistException", "DeploymentGroupDoesNotExistException"})

Answer = Literal["accepted", "already-completed"]


class Unreportable(TargetGone):
    """CodeDeploy will never take a status for this deployment or execution: logged, never retried."""

    reason = "unreportable"


class Deployment(NamedTuple):
    deployment_id: str
    application: str
    group: str
    platform: str  # Lambda | ECS | Server
    status: str
    revision: Mapping[str, Any]
    created_at: float | None = None


class CodeDeployDeployments:
    """One call per method (the target listing pages), every ClientError translated."""

    def __init__(self, client: CodeDeployClient) -> None:
        self._client = client

    def deployment(self, deployment_id: str) -> Deployment:
        info = self._call("GetDeployment", deploymentId=deployment_id)["deploymentInfo"]
        created = info.get("createTime")
        return Deployment(
            deployment_id=str(info["deploymentId"]),
            application=str(info["applicationName"]),
            group=str(info["deploymentGroupName"]),
            platform=str(info.get("computePlatform", "")),
            status=str(info.get("status", "")),
            revision=dict(info.get("revision") or {}),
            created_at=created.timestamp() if created is not None else None,
        )

    def group(self, application: str, group: str) -> dict[str, Any]:
        found = self._call("GetDeploymentGroup", applicationName=application, deploymentGroupName=group)
        return dict(found["deploymentGroupInfo"])

    def targets(self, deployment_id: str) -> list[dict[str, Any]]:
        """Every target of the deployment (BatchGetDeploymentTargets' shape), the listing followed to its end."""
        ids: list[str] = []
        try:
            for page in self._client.get_paginator("list_deployment_targets").paginate(deploymentId=deployment_id):
                ids += [str(target) for target in page.get("targetIds") or []]
        except ClientError as error:
            raise _translated(error, "ListDeploymentTargets") from error
        found: list[dict[str, Any]] = []
        for first in range(0, len(ids), TARGETS_PER_BATCH):
            batch = ids[first : first + TARGETS_PER_BATCH]
            answer = self._call("BatchGetDeploymentTargets", deploymentId=deployment_id, targetIds=batch)
            found += [dict(target) for target in answer.get("deploymentTargets") or []]
        return found

    def appspec(self, application: str, revision: Mapping[str, Any]) -> str:
        """The AppSpec text of a text revision (GetDeployment never returns it); "" for S3 or GitHub revisions."""
        answer = self._call("GetApplicationRevision", applicationName=application, revision=dict(revision))
        location = answer.get("revision") or {}
        body = location.get("appSpecContent") or location.get("string") or {}
        return str(body.get("content") or "")

    def report(self, deployment_id: str, execution_id: str, status: Literal["Succeeded", "Failed"]) -> Answer:
        """PutLifecycleEventHookExecutionStatus. An execution already completed is done, not a failure."""
        try:
            self._client.put_lifecycle_event_hook_execution_status(
                deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status=status
            )
        except ClientError as error:
            if error_code(error) == "LifecycleEventAlreadyCompletedException":
                return "already-completed"
            raise _translated(error, "PutLifecycleEventHookExecutionStatus") from error
        except BotoCoreError as error:
            raise TransientError(f"PutLifecycleEventHookExecutionStatus: {type(error).__name__}") from error
        return "accepted"

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        method = getattr(self._client, _snake(operation))
        try:
            answer: dict[str, Any] = method(**kwargs)
        except ClientError as error:
            raise _translated(error, operation) from error
        except BotoCoreError as error:
            raise TransientError(f"{operation}: {type(error).__name__}") from error
        return answer


def _translated(error: ClientError, operation: str) -> Exception:
    code = error_code(error)
    if code in _UNREPORTABLE:
        return Unreportable(f"{operation}: {code}")
    return translate(error, operation, gone=_GONE)


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")
