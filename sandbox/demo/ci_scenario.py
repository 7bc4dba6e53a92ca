"""A repository with CodeBuild projects and a pull request in the sandbox, driven like CodeBuild would drive it.

Used by the build-results demo act and the integration tests: push commits, open the pull
request, deliver its events, let builds run and finish (with test reports and a log stream), and
read back the comments and approvals the functions left.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pygit2
from pygit2.enums import FileMode
from pygit2.remotes import RemoteCollection

from codereflex.gitremote import CodeCommitCredentials
from sandbox.aws.codebuild_events import build_state_event
from sandbox.aws.codecommit_events import pull_request_comment_event, pull_request_event
from sandbox.aws.moto_ext import put_report, refresh_pull_request, report_arn, set_build_status
from sandbox.local import Sandbox

AUTHOR = pygit2.Signature("Alice Developer", "alice@example.com")
SERVICE_ROLE = "arn:aws:iam::123456789012:role/codebuild-service"
# Template parameters that leave only the build capabilities on: tests of them need no other function.
BUILDS_ONLY = {"EnableRepositoryActivity": "false", "EnableRepositoryBackup": "false"}


class CiScenario:
    """One repository, its CodeBuild projects, a developer's clone and (once opened) a pull request."""

    def __init__(
        self,
        sandbox: Sandbox,
        scratch: Path,
        repository: str = "payments-service",
        projects: Sequence[str] = ("payments-service-ci",),
    ) -> None:
        self.sandbox = sandbox
        self.repository = repository
        self.projects = tuple(projects)
        self.url = sandbox.create_repository(repository, "Card payments")
        self.repo = pygit2.init_repository(str(scratch / f"{repository}.git"), bare=True)
        # pygit2 1.17's stubs omit Repository.remotes; RemoteCollection is the same object.
        self.remote = RemoteCollection(self.repo).create("origin", self.url)  # type: ignore[arg-type,no-untyped-call]
        self.codebuild = sandbox.client("codebuild")
        self.codecommit = sandbox.client("codecommit")
        self.logs = sandbox.client("logs")
        self.developer_codecommit = boto3.Session(
            aws_access_key_id=sandbox.developer.access_key,
            aws_secret_access_key=sandbox.developer.secret_key,
            region_name=sandbox.region,
        ).client("codecommit", endpoint_url=sandbox.endpoint_url)
        for project in self.projects:
            self.codebuild.create_project(
                name=project,
                source={"type": "CODECOMMIT", "location": self.url},
                artifacts={"type": "NO_ARTIFACTS"},
                environment={
                    "type": "ARM_CONTAINER",
                    "image": "aws/codebuild/amazonlinux2-aarch64-standard:3.0",
                    "computeType": "BUILD_GENERAL1_SMALL",
                },
                serviceRole=SERVICE_ROLE,
            )
        self.pull_request_id: str | None = None
        self._clock = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)
        self._numbers: dict[str, int] = {}
        self.main = self.commit("refs/heads/main", "Initial import", {"README.md": "# payments\n"})

    # --- git ------------------------------------------------------------------------------------

    def commit(self, ref: str, message: str, files: Mapping[str, str]) -> str:
        """Commit `files` on top of `ref` (a new branch starts from main) and push it; returns the commit id."""
        parents: list[pygit2.Oid | str] = []
        for name in (ref, "refs/heads/main"):
            if name.encode() in self.repo.raw_listall_references():
                parents = [str(self.repo.lookup_reference(name).target)]
                break
        builder = self.repo.TreeBuilder()
        for name, text in files.items():
            builder.insert(name, self.repo.create_blob(text.encode()), FileMode.BLOB)
        oid = self.repo.create_commit(None, AUTHOR, AUTHOR, message, builder.write(), parents)
        self.repo.create_reference_direct(ref, oid, True)
        self.remote.push([f"+{ref}"], callbacks=CodeCommitCredentials(self.sandbox.developer, self.sandbox.region))
        self.sandbox.settle()
        return str(oid)

    # --- pull request ---------------------------------------------------------------------------

    def open_pull_request(self, branch: str = "feature/partial-refunds") -> dict[str, Any]:
        response = self.developer_codecommit.create_pull_request(
            title="Partial refunds",
            description="Refund part of a card payment.",
            targets=[
                {
                    "repositoryName": self.repository,
                    "sourceReference": branch,
                    "destinationReference": "main",
                }
            ],
        )
        pull_request = dict(response["pullRequest"])
        self.pull_request_id = str(pull_request["pullRequestId"])
        return pull_request

    def pull_request(self) -> dict[str, Any]:
        assert self.pull_request_id is not None  # noqa: S101 - open_pull_request comes first
        return dict(self.codecommit.get_pull_request(pullRequestId=self.pull_request_id)["pullRequest"])

    def refresh(self) -> dict[str, Any] | None:
        """CodeCommit's part after a push to the source branch: a new revision of the pull request."""
        assert self.pull_request_id is not None  # noqa: S101
        return refresh_pull_request(self.repository, self.pull_request_id, region=self.sandbox.region)

    def pull_request_event(self, event: str) -> dict[str, Any]:
        return pull_request_event(
            self.pull_request(), event=event, caller_arn=self.sandbox.developer_arn, region=self.sandbox.region
        )

    def comments(self) -> list[dict[str, Any]]:
        """Every comment on the pull request, oldest first."""
        assert self.pull_request_id is not None  # noqa: S101
        found: list[dict[str, Any]] = []
        for thread in self.codecommit.get_comments_for_pull_request(pullRequestId=self.pull_request_id)[
            "commentsForPullRequestData"
        ]:
            found += thread["comments"]
        return sorted(found, key=lambda comment: comment["creationDate"])

    def commit_comments(self, commit: str, parent: str | None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"repositoryName": self.repository, "afterCommitId": commit}
        if parent is not None:
            kwargs["beforeCommitId"] = parent
        data = self.codecommit.get_comments_for_compared_commit(**kwargs)["commentsForComparedCommitData"]
        return [comment for thread in data for comment in thread["comments"]]

    def approvals(self) -> list[dict[str, str]]:
        pull_request = self.pull_request()
        return list(
            self.codecommit.get_pull_request_approval_states(
                pullRequestId=pull_request["pullRequestId"], revisionId=pull_request["revisionId"]
            )["approvals"]
        )

    # --- builds ---------------------------------------------------------------------------------

    def builds(self, project: str) -> list[dict[str, Any]]:
        """The project's builds, oldest first."""
        ids = self.codebuild.list_builds_for_project(projectName=project, sortOrder="ASCENDING")["ids"]
        return list(self.codebuild.batch_get_builds(ids=ids)["builds"]) if ids else []

    def rebuild(self, project: str) -> str:
        """The developer comments `/rebuild` on the pull request; returns the build of `project` it started."""
        pull_request = self.pull_request()
        target = pull_request["pullRequestTargets"][0]
        before = {b["id"] for b in self.builds(project)}
        comment = self.developer_codecommit.post_comment_for_pull_request(
            pullRequestId=pull_request["pullRequestId"],
            repositoryName=self.repository,
            beforeCommitId=target["destinationCommit"],
            afterCommitId=target["sourceCommit"],
            content="/rebuild",
        )["comment"]
        self.sandbox.deliver(
            pull_request_comment_event(
                pull_request, dict(comment), caller_arn=self.sandbox.developer_arn, region=self.sandbox.region
            )
        )
        (started,) = [b["id"] for b in self.builds(project) if b["id"] not in before]
        return str(started)

    def start(self, project: str, source_version: str, variables: Mapping[str, str] | None = None) -> str:
        """A build started directly (a pipeline or a person), not by the PR builds function."""
        overrides = [{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in (variables or {}).items()]
        build = self.codebuild.start_build(
            projectName=project, sourceVersion=source_version, environmentVariablesOverride=overrides
        )["build"]
        return str(build["id"])

    def running(self, build_id: str) -> dict[str, Any]:
        """Provision a build: a monotonic build number, a start time, a log stream; returns the build."""
        project = build_id.split(":", 1)[0]
        self._numbers[project] = self._numbers.get(project, 0) + 1
        self._clock += timedelta(minutes=5)
        group, stream = f"/aws/codebuild/{project}", build_id.split(":", 1)[1]
        with contextlib.suppress(self.logs.exceptions.ResourceAlreadyExistsException):
            self.logs.create_log_group(logGroupName=group)
        self.logs.create_log_stream(logGroupName=group, logStreamName=stream)
        link = f"https://console.aws.amazon.com/cloudwatch/home?region={self.sandbox.region}#logEvent:group={group};stream={stream}"
        return set_build_status(
            build_id,
            "IN_PROGRESS",
            extra={
                "buildNumber": self._numbers[project],
                "startTime": self._clock,
                "logs": {"groupName": group, "streamName": stream, "deepLink": link},
            },
            region=self.sandbox.region,
        )

    def finish(
        self,
        build_id: str,
        status: str,
        *,
        tests: Sequence[Mapping[str, Any]] = (),
        log_lines: Sequence[str] = (),
    ) -> dict[str, Any]:
        """End a build: its status, a test report (when tests are given) and its log output."""
        build = self.build(build_id)
        if log_lines:
            start = int(self._clock.timestamp() * 1000)
            self.logs.put_log_events(
                logGroupName=build["logs"]["groupName"],
                logStreamName=build["logs"]["streamName"],
                logEvents=[{"timestamp": start + i, "message": line} for i, line in enumerate(log_lines)],
            )
        if tests:
            project = build["projectName"]
            put_report(
                report_arn(f"{project}-unit", region=self.sandbox.region),
                build_arn=build["arn"],
                test_cases=tests,
            )
        phases = _phases(status, self._clock)
        return set_build_status(
            build_id,
            status,
            phases=phases,
            extra={"endTime": self._clock + timedelta(minutes=2)},
            region=self.sandbox.region,
        )

    def build(self, build_id: str) -> dict[str, Any]:
        return dict(self.codebuild.batch_get_builds(ids=[build_id])["builds"][0])

    def event(self, build_id: str, status: str | None = None) -> dict[str, Any]:
        """The build state change CodeBuild would emit for this build now (or for an earlier `status`)."""
        return build_state_event(self.build(build_id), status=status, region=self.sandbox.region)


def _phases(status: str, start: datetime) -> list[dict[str, Any]]:
    """A finished build's phases: BUILD carries the outcome and, on failure, CodeBuild's message."""
    phases: list[dict[str, Any]] = []
    for name, seconds in (
        ("SUBMITTED", 0),
        ("PROVISIONING", 30),
        ("DOWNLOAD_SOURCE", 4),
        ("INSTALL", 20),
        ("BUILD", 66),
    ):
        phase: dict[str, Any] = {
            "phaseType": name,
            "phaseStatus": "SUCCEEDED",
            "startTime": start,
            "endTime": start + timedelta(seconds=seconds),
            "durationInSeconds": seconds,
        }
        if name == "BUILD" and status != "SUCCEEDED":
            phase["phaseStatus"] = status
            phase["contexts"] = [
                {
                    "statusCode": "COMMAND_EXECUTION_ERROR",
                    "message": "Error while executing command: python -m pytest. Reason: exit status 1",
                }
            ]
        phases.append(phase)
    phases.append({"phaseType": "COMPLETED", "startTime": start + timedelta(minutes=2)})
    return phases
