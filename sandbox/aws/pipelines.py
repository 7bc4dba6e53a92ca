"""Runs CodePipeline executions in the sandbox: source, build, a manual approval that waits, and what follows.

An execution started with StartPipelineExecution (moto's, extended in `moto_ext/codepipeline.py`)
runs its stages in order and each stage's actions one after another in runOrder: a CodeCommit
source action reads its branch tip through the sandbox's CodeCommit; a CodeBuild action starts a
build of that commit through the CodeBuild stand-in and waits while it runs (`hold_builds`); a
manual approval waits, publishing CodePipeline's approval message to its `NotificationArn`. Every
step emits the CodePipeline events AWS would through the sandbox's router. An answer
(PutApprovalResult), an expiry or a finished build is picked up by `settle()`, which runs what
follows: the rest of the stage, later stages, and the execution's end. Other action types fail,
saying the sandbox does not run them.

Execution modes: PARALLEL executions never meet. Otherwise (SUPERSEDED, and QUEUED, which the
sandbox does not queue) an execution entering a stage where an older one waits supersedes it: the
older's waiting actions are abandoned (its approval token dies) and it ends Superseded. AWS
supersedes at stage boundaries too; when exactly it replaces a waiting approval is simplified here.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from sandbox.aws import codepipeline_events as events
from sandbox.aws.moto_ext import codebuild, codepipeline

if TYPE_CHECKING:
    from sandbox.aws.moto_ext.codepipeline import ActionRun, Execution, Happening

LOG = logging.getLogger(__name__)
ROLE_NAME = "codepipeline-sandbox"
_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
Publish = Callable[[str, str, str], Any]  # (topic ARN, subject, message)


@dataclass
class _Cursor:
    """Where a waiting execution stopped: the stage and action index it waits at."""

    stage: int
    action: int


class PipelineRunner:
    """Runs the executions of one account and region's pipelines; `settle()` runs whatever is due.

    `client(service)` gives boto3 clients for the sandbox, `deliver(event)` routes an EventBridge event,
    `publish(topic, subject, message)` publishes to SNS (and on to subscribed functions). With
    `background=True` (a served sandbox, where the functions call CodePipeline over HTTP) a worker
    thread settles whenever something happens and once a second (expiry, builds).
    """

    def __init__(
        self,
        *,
        client: Callable[[str], Any],
        deliver: Callable[[dict[str, Any]], Any],
        publish: Publish,
        account_id: str,
        region: str,
        background: bool = False,
    ) -> None:
        self._client, self._deliver, self._publish = client, deliver, publish
        self.account_id, self.region = account_id, region
        self._backend = codepipeline.backend_for(account_id, region)
        self.events: list[dict[str, Any]] = []
        self._cursors: dict[str, _Cursor] = {}
        self._builds: dict[str, ActionRun] = {}  # execution id -> its running build action
        self._lock = threading.RLock()
        self._background = background
        self._wakeup = threading.Condition()
        self._pending = False
        self._busy = False
        self._stopped = False
        self.errors: list[BaseException] = []
        self._worker: threading.Thread | None = None
        self._backend.sandbox_state.listeners.append(self._wake)
        if background:
            self._worker = threading.Thread(target=self._work, name="sandbox-pipelines", daemon=True)
            self._worker.start()

    # --- the caller's side -----------------------------------------------------------------------

    @property
    def clock(self) -> Callable[[], datetime]:
        return self._backend.sandbox_state.clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        """Replace the time CodePipeline sees (approval expiry, event times, action timestamps)."""
        self._backend.sandbox_state.clock = clock

    def create(self, declaration: Mapping[str, Any], tags: Mapping[str, str] | None = None) -> str:
        """CreatePipeline with a role CodePipeline may assume (made once); returns the pipeline's name."""
        iam = self._client("iam")
        try:
            role = iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
        except ClientError:
            role = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(_TRUST))["Role"]["Arn"]
        pipeline = {"roleArn": role, **declaration}
        tag_list = [{"key": key, "value": value} for key, value in (tags or {}).items()]
        self._client("codepipeline").create_pipeline(pipeline=pipeline, tags=tag_list)
        return str(pipeline["name"])

    def start(self, pipeline: str) -> str:
        """StartPipelineExecution, then run it as far as it goes (to an approval, say); returns its id."""
        execution_id = str(self._client("codepipeline").start_pipeline_execution(name=pipeline)["pipelineExecutionId"])
        self.settle()
        return execution_id

    def settle(self, timeout: float = 30.0) -> None:
        """Run everything that has happened so far: started executions, answers, expiries, finished builds."""
        if not self._background:
            self.advance()
            return
        with self._wakeup:
            self._pending = True
            self._wakeup.notify_all()
            if not self._wakeup.wait_for(lambda: not (self._pending or self._busy), timeout):
                raise TimeoutError(f"the pipelines were still running after {timeout} s")
        if self.errors:
            raise self.errors.pop(0)

    def close(self) -> None:
        if self._wake in self._backend.sandbox_state.listeners:
            self._backend.sandbox_state.listeners.remove(self._wake)
        with self._wakeup:
            self._stopped = True
            self._wakeup.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=10)

    def advance(self) -> None:
        """Settle in this thread (what `settle()` does without a worker)."""
        with self._lock:
            outbox = self._backend.sandbox_state.outbox
            while True:
                self._backend.sandbox_expire()
                self._poll_builds()
                if not outbox:
                    return
                self._handle(outbox.popleft())

    # --- background --------------------------------------------------------------------------------

    def _wake(self) -> None:
        if self._background:
            with self._wakeup:
                self._pending = True
                self._wakeup.notify_all()

    def _work(self) -> None:
        while True:
            with self._wakeup:
                self._wakeup.wait_for(lambda: self._pending or self._stopped, timeout=1.0)
                if self._stopped:
                    return
                self._pending, self._busy = False, True
            try:
                self.advance()
            except Exception as error:  # kept for settle(): a worker has no caller to raise to
                LOG.exception("a pipeline step failed")
                self.errors.append(error)
            finally:
                with self._wakeup:
                    self._busy = False
                    self._wakeup.notify_all()

    # --- running -------------------------------------------------------------------------------------

    def _handle(self, happening: Happening) -> None:
        execution = self._backend.sandbox_execution(happening.pipeline, happening.execution_id)
        if happening.kind == "started":
            self._emit(events.pipeline_event(execution, "STARTED", **self._where()))
            self._run(execution, 0, 0)
            return
        run = self._waiting_run(execution, happening)
        if run is None:
            return
        cursor = self._cursors.pop(execution.execution_id, None)
        if happening.kind == "decided" and run.answer == "Approved":
            self._emit(events.action_event(execution, run, "SUCCEEDED", **self._where()))
            if cursor is not None:
                self._run(execution, cursor.stage, cursor.action + 1)
            return
        self._emit(events.action_event(execution, run, "FAILED", **self._where()))
        self._fail(execution, run.stage, f"{run.action}: {run.summary}")

    def _waiting_run(self, execution: Execution, happening: Happening) -> ActionRun | None:
        """The approval a happening is about, unless a newer execution superseded its execution meanwhile."""
        if execution.done:
            return None
        for run in execution.actions:
            if (run.stage, run.action) == (happening.stage, happening.action) and run.is_approval:
                return run
        return None

    def _run(self, execution: Execution, stage_index: int, action_index: int) -> None:
        declaration = self._backend.pipelines[execution.pipeline].pipeline
        for index, stage in enumerate(declaration["stages"][stage_index:], start=stage_index):
            actions = sorted(stage["actions"], key=lambda action: int(action.get("runOrder", 1)))
            if action_index == 0:
                self._enter(execution, stage["name"])
            for position in range(action_index, len(actions)):
                run = self._backend.sandbox_begin_action(execution, stage["name"], actions[position])
                bucket = (declaration.get("artifactStore") or {}).get("location")
                self._emit(events.action_event(execution, run, "STARTED", artifact_bucket=bucket, **self._where()))
                outcome = self._perform(execution, run, actions[position])
                if outcome == "waiting":
                    self._cursors[execution.execution_id] = _Cursor(index, position)
                    return
                if not self._ended(execution, run, stage["name"]):
                    return
            self._backend.sandbox_set_stage(execution, stage["name"], "Succeeded")
            self._emit(events.stage_event(execution, stage["name"], "SUCCEEDED", **self._where()))
            action_index = 0
        self._backend.sandbox_finish(execution, "Succeeded")
        self._emit(events.pipeline_event(execution, "SUCCEEDED", **self._where()))

    def _ended(self, execution: Execution, run: ActionRun, stage: str) -> bool:
        """Emit a finished action's event; False (and the execution failed) if it failed."""
        if run.status == "Succeeded":
            self._emit(events.action_event(execution, run, "SUCCEEDED", **self._where()))
            return True
        self._emit(events.action_event(execution, run, "FAILED", **self._where()))
        self._fail(execution, stage, f"{run.action}: {run.summary}")
        return False

    def _enter(self, execution: Execution, stage: str) -> None:
        if execution.mode != "PARALLEL":
            for other in list(self._backend.sandbox_executions(execution.pipeline).values()):
                if other is not execution and not other.done and other.stages.get(stage, ("",))[0] == "InProgress":
                    self._supersede(other, stage, by=execution)
        self._backend.sandbox_set_stage(execution, stage, "InProgress")
        self._emit(events.stage_event(execution, stage, "STARTED", **self._where()))

    def _supersede(self, older: Execution, stage: str, *, by: Execution) -> None:
        moment = self.clock()
        for run in older.actions:
            if run.status == "InProgress":
                run.end("Abandoned", moment, summary=f"Superseded by execution {by.execution_id}")
                self._emit(events.action_event(older, run, "ABANDONED", **self._where()))
        self._cursors.pop(older.execution_id, None)
        self._builds.pop(older.execution_id, None)
        self._backend.sandbox_set_stage(older, stage, "Cancelled")
        self._emit(events.stage_event(older, stage, "CANCELED", **self._where()))
        self._backend.sandbox_finish(older, "Superseded", f"Superseded by execution {by.execution_id}")
        self._emit(events.pipeline_event(older, "SUPERSEDED", **self._where()))

    def _fail(self, execution: Execution, stage: str, summary: str) -> None:
        self._backend.sandbox_set_stage(execution, stage, "Failed")
        self._emit(events.stage_event(execution, stage, "FAILED", **self._where()))
        self._backend.sandbox_finish(execution, "Failed", summary[:2048])
        self._emit(events.pipeline_event(execution, "FAILED", **self._where()))

    def _perform(self, execution: Execution, run: ActionRun, declaration: Mapping[str, Any]) -> str:
        """Do one action: "waiting" (approval, running build) or ended (run.status Succeeded|Failed)."""
        kind = (run.type_id.get("category"), run.type_id.get("owner"), run.type_id.get("provider"))
        try:
            if kind == ("Source", "AWS", "CodeCommit"):
                self._source(execution, run, declaration)
            elif kind == ("Build", "AWS", "CodeBuild"):
                return self._build(execution, run)
            elif run.is_approval:
                self._approval(execution, run)
                return "waiting"
            else:
                self._finish(run, "Failed", f"The sandbox does not run {'/'.join(str(k) for k in kind)} actions")
        except ClientError as error:
            self._finish(run, "Failed", str(error.response.get("Error", {}).get("Message") or error))
        return run.status

    def _finish(self, run: ActionRun, status: str, summary: str | None = None) -> None:
        with self._backend.sandbox_state.lock:
            run.end(status, self.clock(), summary=summary)
            if status == "Failed":
                run.error = {"code": "JobFailed", "message": summary or "Failed"}

    def _source(self, execution: Execution, run: ActionRun, declaration: Mapping[str, Any]) -> None:
        repository, branch = run.configuration.get("RepositoryName"), run.configuration.get("BranchName")
        if not repository or not branch:
            self._finish(run, "Failed", "The CodeCommit action's configuration needs RepositoryName and BranchName")
            return
        codecommit = self._client("codecommit")
        commit_id = str(codecommit.get_branch(repositoryName=repository, branchName=branch)["branch"]["commitId"])
        commit = codecommit.get_commit(repositoryName=repository, commitId=commit_id)["commit"]
        message = str(commit.get("message", "")).strip()
        url = (
            f"https://{self.region}.console.aws.amazon.com/codesuite/codecommit/repositories/"
            f"{quote(repository, safe='')}/commit/{commit_id}?region={self.region}"
        )
        with self._backend.sandbox_state.lock:
            run.external_id, run.external_url, run.external_summary = commit_id, url, message
            run.output_variables = {
                "CommitId": commit_id,
                "CommitMessage": message,
                "RepositoryName": repository,
                "BranchName": branch,
                "AuthorDate": str((commit.get("author") or {}).get("date", "")),
                "CommitterDate": str((commit.get("committer") or {}).get("date", "")),
            }
            for artifact in declaration.get("outputArtifacts") or []:
                run.output_artifacts.append({"name": artifact["name"]})
                execution.artifact_revisions.append(
                    {
                        "name": artifact["name"],
                        "revisionId": commit_id,
                        "revisionSummary": message,
                        "created": self.clock(),
                        "revisionUrl": url,
                    }
                )
            execution.source_revisions.append(
                {"actionName": run.action, "revisionId": commit_id, "revisionSummary": message, "revisionUrl": url}
            )
        self._finish(run, "Succeeded", message)

    def _build(self, execution: Execution, run: ActionRun) -> str:
        inputs = {artifact["name"] for artifact in run.input_artifacts}
        versions = [r["revisionId"] for r in execution.artifact_revisions if r["name"] in inputs]
        project = run.configuration.get("ProjectName")
        if not project:
            self._finish(run, "Failed", "The CodeBuild action's configuration needs ProjectName")
            return run.status
        started = self._client("codebuild").start_build(
            projectName=project, **({"sourceVersion": versions[0]} if versions else {})
        )["build"]
        # CodeBuild names the pipeline as the initiator of the builds CodePipeline starts.
        build = codebuild.backend_for(self.account_id, self.region).sandbox_build(str(started["id"]))
        if build is not None:
            build["initiator"] = f"codepipeline/{execution.pipeline}"
        with self._backend.sandbox_state.lock:
            run.external_id = str(started["id"])
            run.external_url = (
                f"https://console.aws.amazon.com/codebuild/home?region={self.region}"
                f"#/builds/{quote(run.external_id, safe='')}/view/new"
            )
        self._builds[execution.execution_id] = run
        return self._check_build(execution, run)

    def _check_build(self, execution: Execution, run: ActionRun) -> str:
        (build,) = self._client("codebuild").batch_get_builds(ids=[run.external_id])["builds"]
        status = str(build["buildStatus"])
        if status == "IN_PROGRESS":
            return "waiting"
        self._builds.pop(execution.execution_id, None)
        if status == "SUCCEEDED":
            self._finish(run, "Succeeded")
        else:
            self._finish(run, "Failed", f"Build terminated with state: {status}")
        return run.status

    def _poll_builds(self) -> None:
        for execution_id, run in list(self._builds.items()):
            execution = self._backend.sandbox_execution(self._pipeline_of(execution_id), execution_id)
            if self._check_build(execution, run) == "waiting":
                continue
            cursor = self._cursors.pop(execution_id)
            if self._ended(execution, run, run.stage):
                self._run(execution, cursor.stage, cursor.action + 1)

    def _pipeline_of(self, execution_id: str) -> str:
        for name in self._backend.pipelines:
            if execution_id in self._backend.sandbox_executions(name):
                return name
        raise LookupError(execution_id)

    def _approval(self, execution: Execution, run: ActionRun) -> None:
        topic = run.configuration.get("NotificationArn")
        if topic:
            subject, message = events.approval_notification(execution, run)
            self._publish(topic, subject, message)

    def _where(self) -> dict[str, Any]:
        return {"account": self.account_id, "region": self.region, "at": self.clock()}

    def _emit(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self._deliver(event)


def approval_pipeline(
    name: str,
    *,
    repository: str,
    project: str,
    branch: str = "main",
    artifact_bucket: str = "codepipeline-artifacts",
    approval: Mapping[str, Any] | None = None,
    mode: str | None = None,
    after: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A pipeline declaration: Source (CodeCommit) -> Build (CodeBuild) -> Approval (Manual) [-> `after`].

    `approval` adds to the approval action: `configuration` (NotificationArn, CustomData,
    ExternalEntityLink) and `timeoutInMinutes`.
    """
    manual: dict[str, Any] = {
        "name": "Approve",
        "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
        "runOrder": 1,
        **(approval or {}),
    }
    declaration: dict[str, Any] = {
        "name": name,
        "artifactStore": {"type": "S3", "location": artifact_bucket},
        "stages": [
            {
                "name": "Source",
                "actions": [
                    {
                        "name": "Source",
                        "actionTypeId": {
                            "category": "Source",
                            "owner": "AWS",
                            "provider": "CodeCommit",
                            "version": "1",
                        },
                        "configuration": {
                            "RepositoryName": repository,
                            "BranchName": branch,
                            "PollForSourceChanges": "false",
                        },
                        "outputArtifacts": [{"name": "SourceArtifact"}],
                    }
                ],
            },
            {
                "name": "Build",
                "actions": [
                    {
                        "name": "Build",
                        "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                        "configuration": {"ProjectName": project},
                        "inputArtifacts": [{"name": "SourceArtifact"}],
                        "outputArtifacts": [{"name": "BuildArtifact"}],
                    }
                ],
            },
            {"name": "Approval", "actions": [manual]},
            *[dict(stage) for stage in after],
        ],
    }
    if mode is not None:
        declaration["executionMode"] = mode
        declaration["pipelineType"] = "V2"  # execution modes other than SUPERSEDED need a V2 pipeline
    return declaration
