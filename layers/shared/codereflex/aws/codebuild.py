"""CodeBuild: start builds (with a pull request's context), list a project's newest, read builds, reports, tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from codereflex.aws.errors import translate
from codereflex.ci.builds import Build, Phase, Report, TestCase
from codereflex.errors import TargetGone

if TYPE_CHECKING:
    from mypy_boto3_codebuild import CodeBuildClient

# DescribeTestCases pages hold at most 100 cases; a comment shows far fewer.
TEST_CASES_PAGE = 100


class CodeBuildProjects:
    """Starts builds; each method makes one call."""

    def __init__(self, client: CodeBuildClient) -> None:
        self._client = client

    def start_build(
        self, project: str, source_version: str | None, variables: Mapping[str, str], idempotency_token: str
    ) -> str:
        """Start `project` at `source_version` with extra plain-text variables; returns the build id.

        The token makes a retried call within CodeBuild's five-minute window return the same build.
        A project without source (NO_SOURCE) gets no `source_version`.
        """
        version: dict[str, str] = {"sourceVersion": source_version} if source_version is not None else {}
        try:
            response = self._client.start_build(
                projectName=project,
                environmentVariablesOverride=[
                    {"name": name, "value": value, "type": "PLAINTEXT"} for name, value in variables.items()
                ],
                idempotencyToken=idempotency_token,
                **version,  # type: ignore[arg-type]
            )
        except ClientError as error:
            raise translate(error, f"StartBuild of {project}", gone=frozenset({"ResourceNotFoundException"})) from error
        return response["build"]["id"]

    def recent_build_ids(self, project: str) -> list[str]:
        """The project's newest builds, at most 100 (CodeBuild's first page, newest first by default).

        No sortOrder: CodeBuild refuses one for a project with more than 100 builds.
        """
        try:
            response = self._client.list_builds_for_project(projectName=project)
        except ClientError as error:
            raise translate(
                error, f"ListBuildsForProject of {project}", gone=frozenset({"ResourceNotFoundException"})
            ) from error
        return list(response.get("ids") or [])


class CodeBuildResults:
    """Reads what a build produced; each method makes one call."""

    def __init__(self, client: CodeBuildClient) -> None:
        self._client = client

    def get_build(self, build_id: str) -> Build:
        """One build by id (`project:uuid`) or ARN (events carry the ARN; the id is the ARN's tail)."""
        try:
            response = self._client.batch_get_builds(ids=[build_id.split(":build/", 1)[-1]])
        except ClientError as error:
            raise translate(error, f"BatchGetBuilds of {build_id}") from error
        builds = response.get("builds") or []
        if not builds:
            raise TargetGone(f"build {build_id} does not exist")
        return _build(dict(builds[0]))

    def get_builds(self, build_ids: Sequence[str]) -> list[Build]:
        """Several builds in one call (at most 100); unknown ids are left out."""
        if not build_ids:
            return []
        try:
            response = self._client.batch_get_builds(ids=[b.split(":build/", 1)[-1] for b in build_ids[:100]])
        except ClientError as error:
            raise translate(error, "BatchGetBuilds") from error
        return [_build(dict(raw)) for raw in response.get("builds") or []]

    def get_reports(self, report_arns: Sequence[str]) -> list[Report]:
        """The reports of a build (at most 100, as BatchGetReports allows), in the build's order."""
        if not report_arns:
            return []
        try:
            response = self._client.batch_get_reports(reportArns=list(report_arns[:100]))
        except ClientError as error:
            raise translate(error, "BatchGetReports") from error
        reports = []
        for raw in response.get("reports") or []:
            summary: Mapping[str, Any] = raw.get("testSummary") or {}
            reports.append(
                Report(
                    arn=raw.get("arn", ""),
                    name=raw.get("name", "") or raw.get("reportGroupArn", "").rsplit("/", 1)[-1],
                    report_type=raw.get("type", "TEST"),
                    total=int(summary.get("total", 0)),
                    counts={str(k): int(v) for k, v in (summary.get("statusCounts") or {}).items()},
                )
            )
        return reports

    def failing_tests(self, report: Report, limit: int) -> list[TestCase]:
        """Up to `limit` (≤ 100) FAILED cases of a report, one page; ERROR cases are left to the counts."""
        try:
            response = self._client.describe_test_cases(
                reportArn=report.arn, filter={"status": "FAILED"}, maxResults=max(1, min(limit, TEST_CASES_PAGE))
            )
        except ClientError as error:
            raise translate(error, f"DescribeTestCases of {report.arn}") from error
        return [
            TestCase(
                name=case.get("name", ""),
                prefix=case.get("prefix"),
                status=case.get("status", "FAILED"),
                message=case.get("message"),
                report_name=report.name,
            )
            for case in response.get("testCases") or []
        ]


def _build(raw: dict[str, Any]) -> Build:
    logs = raw.get("logs") or {}
    variables = (raw.get("environment") or {}).get("environmentVariables") or []
    number = raw.get("buildNumber")
    return Build(
        build_id=raw["id"],
        project=raw.get("projectName", ""),
        status=raw.get("buildStatus", "IN_PROGRESS"),
        number=int(number) if number is not None else None,
        start_time=_time(raw.get("startTime")),
        end_time=_time(raw.get("endTime")),
        source_version=raw.get("sourceVersion"),
        resolved_source_version=raw.get("resolvedSourceVersion"),
        report_arns=tuple(raw.get("reportArns") or ()),
        phases=tuple(
            Phase(
                phase_type=phase.get("phaseType", ""),
                status=phase.get("phaseStatus"),
                duration_seconds=phase.get("durationInSeconds"),
                contexts=tuple(
                    f"{c.get('statusCode', '')}: {c.get('message', '')}".strip(": ")
                    for c in phase.get("contexts") or []
                    if c.get("statusCode") or c.get("message")
                ),
            )
            for phase in raw.get("phases") or []
        ),
        log_group=logs.get("groupName"),
        log_stream=logs.get("streamName"),
        log_link=logs.get("deepLink"),
        variables={v["name"]: str(v.get("value", "")) for v in variables if "name" in v},
    )


def _time(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None
