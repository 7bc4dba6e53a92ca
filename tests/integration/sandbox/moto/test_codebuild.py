"""CodeBuild: reports and test cases, and the build details (env vars, versions, outcome) a PR comment reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from sandbox.aws.moto_ext import put_report, report_arn, set_build_status

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_codebuild import CodeBuildClient

    from sandbox.git.gitstore import GitStore

    from .conftest import Aws, GitRepo

ROLE = "arn:aws:iam::123456789012:role/codebuild-service"

TEST_CASES: list[dict[str, Any]] = [
    {"name": "test_login", "prefix": "tests.auth", "status": "SUCCEEDED", "durationInNanoSeconds": 1_000},
    {"name": "test_logout", "prefix": "tests.auth", "status": "FAILED", "message": "AssertionError: 1 != 2"},
    {"name": "test_signup", "prefix": "tests.accounts", "status": "FAILED", "durationInNanoSeconds": 2_500},
    {"name": "test_slow", "prefix": "tests.accounts", "status": "SKIPPED"},
    {"name": "test_flaky", "prefix": "tests.misc", "status": "ERROR", "testSuiteName": "misc"},
]


def _project(codebuild: CodeBuildClient, location: str = "https://example.invalid/v1/repos/app") -> None:
    codebuild.create_project(
        name="pr-builds",
        source={"type": "CODECOMMIT", "location": location},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "ARM_CONTAINER",
            "image": "aws/codebuild/amazonlinux2-aarch64-standard:3.0",
            "computeType": "BUILD_GENERAL1_SMALL",
            "environmentVariables": [{"name": "STAGE", "value": "ci"}, {"name": "PULL_REQUEST_ID", "value": "none"}],
        },
        serviceRole=ROLE,
    )


def test_start_build_keeps_per_build_variables_and_resolves_the_commit(
    codebuild: CodeBuildClient, new_repo: Callable[[str], GitRepo], git_store: GitStore
) -> None:
    # Given a project building a sandbox CodeCommit repository
    repo = new_repo("app")
    tip = repo.commit("main", {"README.md": "hello"})
    _project(codebuild, location=git_store.clone_url("app"))

    # When a PR build is started with the PR's context as variables, as an EventBridge target would
    started = codebuild.start_build(
        projectName="pr-builds",
        sourceVersion="refs/heads/main",
        environmentVariablesOverride=[
            {"name": "PULL_REQUEST_ID", "value": "7", "type": "PLAINTEXT"},
            {"name": "SOURCE_COMMIT", "value": tip},
        ],
    )["build"]
    (build,) = codebuild.batch_get_builds(ids=[started["id"]])["builds"]

    # Then BatchGetBuilds shows the project's variables with the overrides applied, and both versions
    variables = {variable["name"]: variable["value"] for variable in build["environment"]["environmentVariables"]}
    assert variables == {"STAGE": "ci", "PULL_REQUEST_ID": "7", "SOURCE_COMMIT": tip}
    assert build["environment"]["type"] == "ARM_CONTAINER"
    assert build["sourceVersion"] == "refs/heads/main"
    assert build["resolvedSourceVersion"] == tip
    assert build["reportArns"] == []


def test_set_build_status_decides_what_batch_get_builds_reports(codebuild: CodeBuildClient) -> None:
    # Given a started build
    _project(codebuild)
    build_id = codebuild.start_build(projectName="pr-builds")["build"]["id"]

    # When the sandbox says it is still building, Then it is reported in progress
    set_build_status(build_id, "IN_PROGRESS")
    (running,) = codebuild.batch_get_builds(ids=[build_id])["builds"]
    assert (running["buildStatus"], running["buildComplete"], running["currentPhase"]) == (
        "IN_PROGRESS",
        False,
        "BUILD",
    )

    # When the sandbox says it failed
    set_build_status(build_id, "FAILED", resolved_source_version="a" * 40, extra={"initiator": "rule/pr-builds"})

    # Then it is reported failed in its BUILD phase, and stays so however often it is read
    reads = [codebuild.batch_get_builds(ids=[build_id])["builds"][0] for _ in range(2)]
    assert reads[0] == reads[1]
    failed = reads[0]
    assert (failed["buildStatus"], failed["buildComplete"], failed["currentPhase"]) == ("FAILED", True, "COMPLETED")
    assert {phase["phaseType"]: phase.get("phaseStatus") for phase in failed["phases"]}["BUILD"] == "FAILED"
    assert failed["resolvedSourceVersion"] == "a" * 40
    assert failed["initiator"] == "rule/pr-builds"


def test_batch_get_builds_finishes_unpinned_builds_once_and_reports_unknown_ids(codebuild: CodeBuildClient) -> None:
    # Given a build nobody pinned (moto completes such builds when they are read)
    _project(codebuild)
    build_id = codebuild.start_build(projectName="pr-builds")["build"]["id"]

    # When it is read twice along with an unknown id
    first = codebuild.batch_get_builds(ids=[build_id, "pr-builds:unknown"])
    second = codebuild.batch_get_builds(ids=[build_id])

    # Then it succeeded once and for all, and the unknown id is listed as not found
    assert first["builds"][0]["buildStatus"] == "SUCCEEDED"
    assert first["builds"][0]["phases"] == second["builds"][0]["phases"]
    assert first["buildsNotFound"] == ["pr-builds:unknown"]


def test_a_stopped_build_stays_stopped(codebuild: CodeBuildClient) -> None:
    # Given a build that was stopped with moto's StopBuild
    _project(codebuild)
    build_id = codebuild.start_build(projectName="pr-builds")["build"]["id"]
    codebuild.stop_build(id=build_id)

    # When it is read
    (build,) = codebuild.batch_get_builds(ids=[build_id])["builds"]

    # Then it is reported stopped and complete, not turned into a success
    assert (build["buildStatus"], build["buildComplete"]) == ("STOPPED", True)


def test_put_report_is_read_back_with_a_summary_and_linked_to_its_build(codebuild: CodeBuildClient) -> None:
    # Given a build and a test report it produced
    _project(codebuild)
    build = codebuild.start_build(projectName="pr-builds")["build"]
    arn = report_arn("pr-builds-unit")
    put_report(arn, build_arn=build["arn"], status="FAILED", test_cases=TEST_CASES)

    # When the build and its reports are read
    (read_build,) = codebuild.batch_get_builds(ids=[build["id"]])["builds"]
    reports = codebuild.batch_get_reports(reportArns=[*read_build["reportArns"], report_arn("pr-builds-unit")])

    # Then the report summarises its test cases and points back at the build
    (report,) = reports["reports"]
    assert read_build["reportArns"] == [arn]
    assert report["executionId"] == build["arn"]
    assert (report["type"], report["status"]) == ("TEST", "FAILED")
    summary = report["testSummary"]
    assert summary["total"] == len(TEST_CASES)
    for status in ("SUCCEEDED", "FAILED", "ERROR", "SKIPPED", "UNKNOWN"):
        assert summary["statusCounts"][status] == sum(case["status"] == status for case in TEST_CASES)
    assert summary["durationInNanoSeconds"] == sum(case.get("durationInNanoSeconds", 0) for case in TEST_CASES)
    assert report["expired"] > report["created"]
    # And an unknown ARN is listed as not found
    assert len(reports["reportsNotFound"]) == 1


def test_describe_test_cases_filters_by_status_and_keyword(codebuild: CodeBuildClient) -> None:
    # Given a report with passing, failing and skipped tests
    arn = report_arn("pr-builds-unit")
    put_report(arn, test_cases=TEST_CASES)

    # When only failures are asked for, and then tests matching a keyword
    failed = codebuild.describe_test_cases(reportArn=arn, filter={"status": "FAILED"})["testCases"]
    accounts = codebuild.describe_test_cases(reportArn=arn, filter={"keyword": "accounts"})["testCases"]

    # Then each filter keeps exactly the matching cases, with their details
    assert [case["name"] for case in failed] == [c["name"] for c in TEST_CASES if c["status"] == "FAILED"]
    assert failed[0]["message"] == "AssertionError: 1 != 2"
    assert all(case["reportArn"] == arn for case in failed)
    assert [case["name"] for case in accounts] == [c["name"] for c in TEST_CASES if "accounts" in c["prefix"]]


def test_describe_test_cases_pages_and_validates(codebuild: CodeBuildClient) -> None:
    # Given a report with five test cases
    arn = report_arn("pr-builds-unit")
    put_report(arn, test_cases=TEST_CASES)

    # When they are read two per page
    pages = list(
        codebuild.get_paginator("describe_test_cases").paginate(reportArn=arn, PaginationConfig={"PageSize": 2})
    )

    # Then all come back once, in three pages
    assert [case["name"] for page in pages for case in page["testCases"]] == [c["name"] for c in TEST_CASES]
    assert len(pages) == 3
    # And an oversized page or an unknown report is refused
    with pytest.raises(codebuild.exceptions.InvalidInputException):
        codebuild.describe_test_cases(reportArn=arn, maxResults=101)
    with pytest.raises(codebuild.exceptions.ResourceNotFoundException):
        codebuild.describe_test_cases(reportArn=report_arn("pr-builds-unit"))


def test_start_build_reports_the_caller_as_initiator(aws: Aws, codebuild: CodeBuildClient) -> None:
    # Given a project and a caller in an assumed role
    _project(codebuild)
    credentials = aws.assume_role("pipeline", "starter")
    caller = aws.sts(credentials).get_caller_identity()["Arn"]

    # When that caller starts a build
    build = aws.codebuild(credentials).start_build(projectName="pr-builds")["build"]

    # Then the initiator is the role session, as CodeBuild names it
    assert build["initiator"] == caller.split(":assumed-role/", 1)[1]


def test_start_build_honours_the_idempotency_token_and_no_source_projects(codebuild: CodeBuildClient) -> None:
    # Given a project without source (inline buildspec), which moto alone would refuse
    _create_no_source_project(codebuild, "backup")
    variables: list[Any] = [{"name": "BACKUP_REPOSITORY", "value": "big", "type": "PLAINTEXT"}]
    # When the same request is made twice with one token, and once with another token
    first = codebuild.start_build(projectName="backup", environmentVariablesOverride=variables, idempotencyToken="t")
    again = codebuild.start_build(projectName="backup", environmentVariablesOverride=variables, idempotencyToken="t")
    other = codebuild.start_build(projectName="backup", environmentVariablesOverride=variables, idempotencyToken="u")
    # Then the repeat returned the first build, and only the new token started another
    assert again["build"]["id"] == first["build"]["id"] != other["build"]["id"]
    assert len(codebuild.list_builds_for_project(projectName="backup")["ids"]) == 2
    # And reusing a token with other parameters is a parameter mismatch, as CodeBuild documents
    with pytest.raises(codebuild.exceptions.InvalidInputException, match="mismatch"):
        codebuild.start_build(projectName="backup", idempotencyToken="t")


def test_list_builds_for_project_is_newest_first_in_pages_of_100(codebuild: CodeBuildClient) -> None:
    # Given a project with 101 builds
    _create_no_source_project(codebuild, "backup")
    started = [codebuild.start_build(projectName="backup")["build"]["id"] for _ in range(101)]
    # When the builds are listed without a sort order, as CodeBuild defaults
    first = codebuild.list_builds_for_project(projectName="backup")
    rest = codebuild.list_builds_for_project(projectName="backup", nextToken=first["nextToken"])
    # Then the newest come first, 100 to a page, and the last page has no token
    assert first["ids"] == started[::-1][:100]
    assert rest["ids"] == [started[0]]
    assert "nextToken" not in rest
    # And asking for an order on a project this large is refused, as CodeBuild documents
    with pytest.raises(codebuild.exceptions.InvalidInputException, match="more than 100"):
        codebuild.list_builds_for_project(projectName="backup", sortOrder="ASCENDING")


def _create_no_source_project(codebuild: CodeBuildClient, name: str) -> None:
    """A project without source (inline buildspec), like the backup hand-off's; moto alone would refuse it."""
    codebuild.create_project(
        name=name,
        source={"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases: {build: {commands: [true]}}\n"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "ARM_CONTAINER",
            "image": "aws/codebuild/amazonlinux-aarch64-standard:3.0",
            "computeType": "BUILD_GENERAL1_LARGE",
        },
        serviceRole=ROLE,
    )
