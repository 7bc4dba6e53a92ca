"""CodeBuild reports and test cases moto lacks, and the build details a PR comment needs, grafted onto moto.

moto's StartBuild records a fixed environment (dropping the project's and the per-build
`environmentVariablesOverride`), a fixed source and no `resolvedSourceVersion`, and ignores
`idempotencyToken`; its ListBuildsForProject lists oldest first (CodeBuild: newest first by
default), without pages; its BatchGetBuilds marks every build SUCCEEDED and appends another nine
phases on every call, and never reports `buildsNotFound`; its CreateProject demands a source location
even for NO_SOURCE projects, which have none. The sandbox keeps moto's operations and corrects
those details. Tests drive a build's outcome with `set_build_status` (and keep a project's builds
running until then with `hold_builds`) and attach reports with `put_report`.
"""

from __future__ import annotations

import copy
import re
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from moto.codebuild.exceptions import InvalidInputException, ResourceNotFoundException
from moto.codebuild.models import CodeBuildBackend, codebuild_backends
from moto.codebuild.responses import (
    CodeBuildResponse,
    _validate_required_params_artifacts,
    _validate_required_params_environment,
    _validate_required_params_project_name,
    _validate_required_params_service_role,
)
from moto.core.exceptions import JsonRESTError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.core.utils import iso_8601_datetime_with_milliseconds
from moto.moto_api._internal import mock_random

from sandbox.aws.moto_ext import codecommit, gitrepo
from sandbox.aws.moto_ext._support import ApiError, caller_arn, fingerprint, graft, now, paginate

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

DEFAULT_REGION = "us-east-1"
REPORT_TYPES = ("TEST", "CODE_COVERAGE")
REPORT_STATUSES = ("GENERATING", "SUCCEEDED", "FAILED", "INCOMPLETE", "DELETING")
TEST_CASE_STATUSES = ("SUCCEEDED", "FAILED", "ERROR", "SKIPPED", "UNKNOWN")
BUILD_STATUSES = ("SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "IN_PROGRESS", "STOPPED")
BUILD_PHASES = (
    "SUBMITTED",
    "QUEUED",
    "PROVISIONING",
    "DOWNLOAD_SOURCE",
    "INSTALL",
    "PRE_BUILD",
    "BUILD",
    "POST_BUILD",
    "UPLOAD_ARTIFACTS",
    "FINALIZING",
    "COMPLETED",
)
TEST_CASES_MAX_PAGE_SIZE = 100
LIST_PAGE_SIZE = 100  # ListBuildsForProject: "only the first 100 items are returned, along with a nextToken"
REPORTS_MAX_BATCH = 100
REPORT_EXPIRY = timedelta(days=30)
# StartBuild: "The token ... is valid for 5 minutes. If you repeat the StartBuild request with the
# same token, but change a parameter, CodeBuild returns a parameter mismatch error."
IDEMPOTENCY_WINDOW = timedelta(minutes=5)
_REPORT_ARN = re.compile(
    r"^arn:(?P<partition>[\w-]+):codebuild:(?P<region>[\w-]+):(?P<account>\d{12}):report/(?P<group>[^:]+):(?P<id>.+)$"
)
_BUILD_ARN = re.compile(r"^arn:[\w-]+:codebuild:(?P<region>[\w-]+):(?P<account>\d{12}):build/(?P<id>.+)$")

_moto_start_build = CodeBuildResponse.start_build
_moto_create_project = CodeBuildResponse.create_project
_moto_list_builds_for_project = CodeBuildResponse.list_builds_for_project
_STATE = "_sandbox_codebuild_state"


@dataclass
class Report:
    arn: str
    report_type: str
    status: str
    execution_id: str | None
    test_cases: list[dict[str, Any]]
    code_coverage_summary: dict[str, Any] | None
    truncated: bool
    created: datetime = field(default_factory=now)

    @property
    def expired(self) -> datetime:
        return self.created + REPORT_EXPIRY

    def to_api(self) -> dict[str, Any]:
        match = cast(re.Match[str], _REPORT_ARN.match(self.arn))
        group_arn = self.arn.split(":report/", 1)[0] + f":report-group/{match['group']}"
        report: dict[str, Any] = {
            "arn": self.arn,
            "type": self.report_type,
            "name": match["group"],
            "reportGroupArn": group_arn,
            "status": self.status,
            "created": self.created,
            "expired": self.expired,
            "exportConfig": {"exportConfigType": "NO_EXPORT"},
            "truncated": self.truncated,
        }
        if self.execution_id is not None:
            report["executionId"] = self.execution_id
        if self.report_type == "TEST":
            counts = dict.fromkeys(TEST_CASE_STATUSES, 0)
            for case in self.test_cases:
                counts[case["status"]] += 1
            report["testSummary"] = {
                "total": len(self.test_cases),
                "statusCounts": counts,
                "durationInNanoSeconds": sum(int(case.get("durationInNanoSeconds", 0)) for case in self.test_cases),
            }
        if self.code_coverage_summary is not None:
            report["codeCoverageSummary"] = self.code_coverage_summary
        return report


@dataclass(frozen=True)
class StartedBuild:
    """What an idempotency token started: the request it came with, the build, and when."""

    fingerprint: str
    build_id: str
    started: datetime


@dataclass
class CodeBuildState:
    reports: dict[str, Report] = field(default_factory=dict)
    start_tokens: dict[str, StartedBuild] = field(default_factory=dict)
    # Builds whose outcome a test set explicitly: BatchGetBuilds must not "finish" them itself.
    pinned_builds: set[str] = field(default_factory=set)
    # Projects whose builds stay IN_PROGRESS until a test decides their outcome (`hold_builds`).
    held_projects: set[str] = field(default_factory=set)
    lock: threading.RLock = field(default_factory=threading.RLock)


class SandboxCodeBuildBackend(CodeBuildBackend):
    """What the sandbox adds to moto's CodeBuildBackend (grafted onto it by `patch`)."""

    @property
    def sandbox_state(self) -> CodeBuildState:
        # Kept in the instance dict: moto's reset rebuilds the dict, which drops this state too.
        state = self.__dict__.get(_STATE)
        if state is None:
            state = self.__dict__.setdefault(_STATE, CodeBuildState())
        return cast(CodeBuildState, state)

    def sandbox_build(self, build_id: str) -> dict[str, Any] | None:
        for builds in self.build_metadata_history.values():
            for build in builds:
                if build["id"] == build_id:
                    return build
        return None

    def batch_get_builds(self, ids: list[str]) -> list[dict[str, Any]]:
        """moto's BatchGetBuilds, in request order, finishing an unpinned build once instead of every call."""
        found = []
        for build_id in dict.fromkeys(ids):
            build = self.sandbox_build(build_id)
            if build is None:
                continue
            if build_id not in self.sandbox_state.pinned_builds and build["buildStatus"] == "IN_PROGRESS":
                # moto's model of time: a build has finished by the time anyone looks at it.
                build["phases"] = self._set_phases(build["phases"])
                build["endTime"] = iso_8601_datetime_with_milliseconds()
                build["currentPhase"] = "COMPLETED"
                build["buildStatus"] = "SUCCEEDED"
            # moto's StopBuild leaves buildComplete false on a STOPPED build.
            build["buildComplete"] = build["buildStatus"] != "IN_PROGRESS"
            found.append(build)
        return found

    def put_report(self, report: Report) -> None:
        with self.sandbox_state.lock:
            self.sandbox_state.reports[report.arn] = report
            build = self._build_for_arn(report.execution_id) if report.execution_id else None
            if build is not None and report.arn not in build.setdefault("reportArns", []):
                build["reportArns"].append(report.arn)

    def _build_for_arn(self, build_arn: str) -> dict[str, Any] | None:
        match = _BUILD_ARN.match(build_arn)
        return self.sandbox_build(match["id"]) if match else None

    def describe_test_cases(self, report_arn: str | None, test_filter: dict[str, Any] | None) -> list[dict[str, Any]]:
        if not report_arn:
            raise InvalidInputException("reportArn is required")
        report = self.sandbox_state.reports.get(report_arn)
        if report is None:
            raise ResourceNotFoundException(f"Report {report_arn} does not exist")
        status = (test_filter or {}).get("status")
        keyword = (test_filter or {}).get("keyword")
        if status is not None and status not in TEST_CASE_STATUSES:
            raise InvalidInputException(f"Invalid test case status: {status}")
        return [
            {**case, "reportArn": report.arn, "expired": report.expired}
            for case in report.test_cases
            if (status is None or case["status"] == status)
            and (keyword is None or keyword in case.get("name", "") or keyword in case.get("prefix", ""))
        ]


class SandboxCodeBuildResponse(CodeBuildResponse):
    """The request side of the added and corrected operations (grafted onto moto's CodeBuildResponse)."""

    @property
    def sandbox_backend(self) -> SandboxCodeBuildBackend:
        return cast(SandboxCodeBuildBackend, self.codebuild_backend)

    def create_project(self) -> ActionResult:
        source = self._get_param("source") or {}
        if source.get("type") != "NO_SOURCE" or source.get("location"):
            return _moto_create_project(self)
        # A NO_SOURCE project (the buildspec is inline) has no location: moto's check would refuse it.
        service_role = self._get_param("serviceRole")
        _validate_required_params_service_role(self.current_account, self.region, service_role)
        _validate_required_params_artifacts(self._get_param("artifacts"))
        _validate_required_params_environment(self._get_param("environment"))
        _validate_required_params_project_name(self._get_param("name"))
        if self._get_param("name") in self.codebuild_backend.codebuild_projects:
            raise ApiError("ResourceAlreadyExistsException", f"Project already exists: {self._get_param('name')}")
        project = self.codebuild_backend.create_project(
            project_name=self._get_param("name"),
            description=self._get_param("description"),
            project_source=source,
            artifacts=self._get_param("artifacts"),
            environment=self._get_param("environment"),
            service_role=service_role,
            tags=self._get_param("tags"),
            cache=self._get_param("cache"),
            timeout=self._get_param("timeoutInMinutes"),
            queued_timeout=self._get_param("queuedTimeoutInMinutes"),
            source_version=self._get_param("sourceVersion"),
            logs_config=self._get_param("logsConfig"),
            vpc_config=self._get_param("vpcConfig"),
        )
        return ActionResult({"project": project})

    def start_build(self) -> ActionResult:
        token = self._get_param("idempotencyToken")
        if not token:
            return self._start_build()
        state = self.sandbox_backend.sandbox_state
        request = {
            name: self._get_param(name)
            for name in ("projectName", "sourceVersion", "environmentVariablesOverride", "buildspecOverride")
        }
        with state.lock:  # two deliveries at once must not both start a build
            seen = state.start_tokens.get(token)
            if seen is not None and now() - seen.started < IDEMPOTENCY_WINDOW:
                if seen.fingerprint != fingerprint("StartBuild", request):
                    raise ApiError(
                        "InvalidInputException",
                        "Parameter mismatch: the idempotency token was used with different parameters",
                    )
                build = self.sandbox_backend.sandbox_build(seen.build_id)
                return ActionResult({"build": build})
            result = self._start_build()
            build_id = cast(dict[str, Any], result.result)["build"]["id"]
            state.start_tokens[token] = StartedBuild(fingerprint("StartBuild", request), build_id, now())
            return result

    def _start_build(self) -> ActionResult:
        result = _moto_start_build(self)
        build = cast(dict[str, Any], result.result)["build"]
        project = self.codebuild_backend.codebuild_projects[self._get_param("projectName")].project_metadata
        environment = copy.deepcopy(project["environment"])
        for name in ("type", "image", "computeType"):
            # StartBuild's overrides are named environmentTypeOverride, imageOverride, computeTypeOverride.
            override = "environmentTypeOverride" if name == "type" else f"{name}Override"
            environment[name] = self._get_param(override) or environment[name]
        environment["environmentVariables"] = _merge_variables(
            environment.get("environmentVariables") or [], self._get_param("environmentVariablesOverride") or []
        )
        build["environment"] = environment
        build["source"] = copy.deepcopy(project["source"])
        if not self._get_param("sourceVersion") and project.get("sourceVersion"):
            build["sourceVersion"] = project["sourceVersion"]
        resolved = _resolve_source(self.current_account, self.region, build["source"], build["sourceVersion"])
        if resolved is not None:
            build["resolvedSourceVersion"] = resolved
        build["initiator"] = _initiator(caller_arn(self))
        build["reportArns"] = []
        state = self.sandbox_backend.sandbox_state
        if self._get_param("projectName") in state.held_projects:
            state.pinned_builds.add(build["id"])
        return result

    def batch_get_builds(self) -> ActionResult:
        ids: list[str] = self._get_param("ids") or []
        for build_id in ids:
            if ":" not in build_id:
                raise InvalidInputException("Invalid build ID provided")
        builds = self.sandbox_backend.batch_get_builds(ids)
        found = {build["id"] for build in builds}
        missing = [build_id for build_id in dict.fromkeys(ids) if build_id not in found]
        return ActionResult({"builds": builds, "buildsNotFound": missing or None})

    def list_builds_for_project(self) -> ActionResult:
        """Newest first unless ASCENDING is asked for (moto lists oldest first), 100 ids a page."""
        result = _moto_list_builds_for_project(self)
        ids = list(cast(dict[str, Any], result.result)["ids"])
        order = self._get_param("sortOrder") or "DESCENDING"
        if order not in ("ASCENDING", "DESCENDING"):
            raise InvalidInputException(f"Invalid sortOrder: {order}")
        if self._get_param("sortOrder") and len(ids) > LIST_PAGE_SIZE:
            # "If the project has more than 100 builds, setting the sort order will result in an error."
            raise InvalidInputException("sortOrder cannot be set for a project with more than 100 builds")
        if order == "DESCENDING":
            ids.reverse()
        page, token = paginate(
            ids, self._get_param("nextToken"), LIST_PAGE_SIZE, ApiError("InvalidInputException", "Invalid nextToken")
        )
        return ActionResult({"ids": page, "nextToken": token} if token else {"ids": page})

    def batch_get_reports(self) -> ActionResult:
        arns: list[str] = self._get_param("reportArns") or []
        if not 1 <= len(arns) <= REPORTS_MAX_BATCH:
            raise InvalidInputException("reportArns must hold between 1 and 100 ARNs")
        reports = self.sandbox_backend.sandbox_state.reports
        found = [reports[arn].to_api() for arn in dict.fromkeys(arns) if arn in reports]
        missing = [arn for arn in dict.fromkeys(arns) if arn not in reports]
        return ActionResult({"reports": found or None, "reportsNotFound": missing or None})

    def describe_test_cases(self) -> ActionResult:
        max_results = self._get_param("maxResults")
        if max_results is not None and not 1 <= int(max_results) <= TEST_CASES_MAX_PAGE_SIZE:
            raise InvalidInputException(f"maxResults must be between 1 and {TEST_CASES_MAX_PAGE_SIZE}")
        cases = self.sandbox_backend.describe_test_cases(self._get_param("reportArn"), self._get_param("filter"))
        page, token = paginate(
            cases,
            self._get_param("nextToken"),
            int(max_results or TEST_CASES_MAX_PAGE_SIZE),
            ApiError("InvalidInputException", "Invalid nextToken"),
        )
        return ActionResult({"testCases": page, "nextToken": token})


def _merge_variables(project: list[dict[str, Any]], overrides: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-build overrides replace the project's variables of the same name, as StartBuild documents."""
    merged = {variable["name"]: {"type": "PLAINTEXT", **variable} for variable in project}
    merged.update({variable["name"]: {"type": "PLAINTEXT", **variable} for variable in overrides})
    return list(merged.values())


def _resolve_source(account_id: str, region: str, source: dict[str, Any], version: str | None) -> str | None:
    """The commit a CodeCommit source version names, when the source is a sandbox repository."""
    if gitrepo.FULL_COMMIT_ID.match(version or ""):
        return version
    location = str(source.get("location", ""))
    if source.get("type") != "CODECOMMIT" or "/v1/repos/" not in location or not version:
        return None
    name = location.rstrip("/").rsplit("/v1/repos/", 1)[1]
    try:
        repo = codecommit.backend_for(account_id, region).sandbox_git(name)
    except (JsonRESTError, ValueError):
        # Not a sandbox repository (yet): real CodeBuild would fail later, in DOWNLOAD_SOURCE.
        return None
    found = gitrepo.resolve(repo, version)
    return str(found.id) if found is not None else None


def _initiator(arn: str) -> str:
    """CodeBuild's `initiator`: the user name for a user, `<role>/<session>` for an assumed role."""
    resource = arn.split(":", 5)[-1]
    kind, _, name = resource.partition("/")
    return name if kind in ("user", "assumed-role") else resource


def _default_phases(status: str, start: str) -> list[dict[str, Any]]:
    """A plausible phase list: everything succeeds, except BUILD which carries a failing status."""
    last = "BUILD" if status == "IN_PROGRESS" else "COMPLETED"
    phases: list[dict[str, Any]] = []
    for phase_type in BUILD_PHASES[: BUILD_PHASES.index(last) + 1]:
        phase: dict[str, Any] = {"phaseType": phase_type, "startTime": start}
        if phase_type == last:
            phases.append(phase)  # the current phase (or COMPLETED) has no outcome yet
            break
        phase.update(
            phaseStatus=status if phase_type == "BUILD" else "SUCCEEDED",
            endTime=start,
            durationInSeconds=0,
        )
        phases.append(phase)
    return phases


def patch() -> None:
    """Graft the sandbox's CodeBuild operations onto moto (idempotent: grafting sets the same attributes again)."""
    graft(CodeBuildBackend, SandboxCodeBuildBackend)
    graft(CodeBuildResponse, SandboxCodeBuildResponse)


def backend_for(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> SandboxCodeBuildBackend:
    """moto's CodeBuild backend for an account and region, typed with the sandbox's additions."""
    patch()
    return cast(SandboxCodeBuildBackend, codebuild_backends[account_id][region])


def report_arn(report_group: str, *, account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> str:
    """A fresh report ARN in `report_group` (CodeBuild names groups `<project>-<group in buildspec>`)."""
    return f"arn:aws:codebuild:{region}:{account_id}:report/{report_group}:{mock_random.uuid4()}"


def put_report(
    report_arn: str,
    *,
    build_arn: str | None = None,
    report_type: str = "TEST",
    status: str = "SUCCEEDED",
    test_cases: Sequence[Mapping[str, Any]] = (),
    code_coverage_summary: Mapping[str, Any] | None = None,
    truncated: bool = False,
) -> dict[str, Any]:
    """Store (or replace) a report as a build would produce it; returns BatchGetReports' shape.

    The account and region come from the ARN. With `build_arn`, the report's `executionId` is that
    build, and the ARN is added to the build's `reportArns` if moto knows the build. Each test case
    needs `name` and `status` (SUCCEEDED|FAILED|ERROR|SKIPPED|UNKNOWN); `prefix`, `testSuiteName`,
    `message`, `durationInNanoSeconds` and `testRawDataPath` are optional.
    """
    match = _REPORT_ARN.match(report_arn)
    if match is None:
        raise ValueError(f"not a CodeBuild report ARN: {report_arn}")
    if report_type not in REPORT_TYPES or status not in REPORT_STATUSES:
        raise ValueError(f"invalid report type or status: {report_type}, {status}")
    cases = [dict(case) for case in test_cases]
    for case in cases:
        if not case.get("name") or case.get("status") not in TEST_CASE_STATUSES:
            raise ValueError(f"a test case needs a name and a status in {TEST_CASE_STATUSES}: {case}")
    report = Report(
        arn=report_arn,
        report_type=report_type,
        status=status,
        execution_id=build_arn,
        test_cases=cases,
        code_coverage_summary=dict(code_coverage_summary) if code_coverage_summary is not None else None,
        truncated=truncated,
    )
    backend_for(match["account"], match["region"]).put_report(report)
    return report.to_api()


def hold_builds(project: str, *, account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> None:
    """From now on, `project`'s builds stay IN_PROGRESS (queued) until `set_build_status` ends them.

    For builds whose work a test does itself (the backup hand-off runs the build's command): moto's
    "finished by the time anyone looks" would report them SUCCEEDED before anything ran.
    """
    backend = backend_for(account_id, region)
    with backend.sandbox_state.lock:
        backend.sandbox_state.held_projects.add(project)


def set_build_status(
    build_id: str,
    status: str,
    *,
    phases: Sequence[Mapping[str, Any]] | None = None,
    resolved_source_version: str | None = None,
    extra: Mapping[str, Any] | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
    region: str = DEFAULT_REGION,
) -> dict[str, Any]:
    """Decide a build's outcome, as BatchGetBuilds will report it from now on; returns the build.

    `build_id` is the build's id or ARN (an ARN names its own account and region). Without
    `phases`, a plausible list is generated (BUILD carries a non-SUCCEEDED status). `extra` sets any
    other Build field, e.g. `{"initiator": "rule/pr-builds"}` or `logs`.
    """
    if status not in BUILD_STATUSES:
        raise ValueError(f"invalid build status: {status}")
    arn = _BUILD_ARN.match(build_id)
    if arn is not None:
        build_id, account_id, region = arn["id"], arn["account"], arn["region"]
    backend = backend_for(account_id, region)
    with backend.sandbox_state.lock:
        build = backend.sandbox_build(build_id)
        if build is None:
            raise LookupError(f"no build {build_id} in {account_id}/{region}")
        backend.sandbox_state.pinned_builds.add(build_id)
        if phases is None:
            build["phases"] = _default_phases(status, build["startTime"])
        else:
            build["phases"] = [dict(phase) for phase in phases]
        build["currentPhase"] = build["phases"][-1]["phaseType"] if build["phases"] else "SUBMITTED"
        build["buildStatus"] = status
        build["buildComplete"] = status != "IN_PROGRESS"
        if build["buildComplete"]:
            build["endTime"] = iso_8601_datetime_with_milliseconds()
        else:
            build.pop("endTime", None)
        if resolved_source_version is not None:
            build["resolvedSourceVersion"] = resolved_source_version
        build.update(extra or {})
        return dict(build)
