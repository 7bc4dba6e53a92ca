"""Build results against the sandbox: PR builds started, one living comment per (target, project), the vote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.demo.ci_scenario import BUILDS_ONLY, CiScenario
from sandbox.local import Sandbox
from tests.integration.build_results.conftest import QUIET

FUNCTION = "BuildResultsFunction"
PROJECT = "payments-service-ci"
FAILING = [
    {"name": "test_partial", "prefix": "tests.refunds", "status": "FAILED", "message": "AssertionError: 3 != 4"},
    {"name": "test_full", "prefix": "tests.refunds", "status": "SUCCEEDED"},
    {"name": "test_slow", "prefix": "tests.refunds", "status": "SKIPPED"},
]
LOG = ["[Container] Running command python -m pytest", "DB_PASSWORD=hunter2hunter2", "1 failed, 1 passed"]


@pytest.fixture
def scenario(sandbox: Sandbox, tmp_path: Path) -> CiScenario:
    world = CiScenario(sandbox, tmp_path)
    world.commit("refs/heads/feature/partial-refunds", "Partial refunds", {"refunds.py": "partial = True\n"})
    return world


def _open(scenario: CiScenario) -> str:
    """Open the pull request and deliver its event; returns the build the PR builds function started."""
    scenario.open_pull_request()
    scenario.sandbox.deliver(scenario.pull_request_event("pullRequestCreated"))
    builds = scenario.builds(PROJECT)
    assert len(builds) == 1
    return str(builds[0]["id"])


def _deliver(sandbox: Sandbox, event: dict[str, Any]) -> dict[str, Any]:
    (invocation,) = [i for i in sandbox.deliver(event) if i.logical_id == FUNCTION]
    assert invocation.error is None, invocation.error
    return dict(invocation.result)


def _bot_comments(scenario: CiScenario) -> list[str]:
    return [c["content"] for c in scenario.comments() if "codereflex:" in c["content"]]


def test_the_pull_request_story_ends_in_one_comment_and_an_approval(sandbox: Sandbox, scenario: CiScenario) -> None:
    # Given a pull request whose first build fails with a failing test
    first = _open(scenario)
    scenario.running(first)
    assert _deliver(sandbox, scenario.event(first))["outcome"] == "posted"
    scenario.finish(first, "FAILED", tests=FAILING, log_lines=LOG)
    assert _deliver(sandbox, scenario.event(first))["outcome"] == "updated"
    failed_comment = _bot_comments(scenario)
    assert len(failed_comment) == 1
    assert "❌" in failed_comment[0]
    assert "tests.refunds.test_partial" in failed_comment[0]
    assert "1 passed, 1 failed, 1 skipped" in failed_comment[0]
    assert "hunter2hunter2" not in failed_comment[0]
    assert "`BUILD`: COMMAND_EXECUTION_ERROR" in failed_comment[0]
    assert scenario.approvals() == []

    # When a fix is pushed, the PR gets a new revision and its build succeeds
    fix = scenario.commit("refs/heads/feature/partial-refunds", "Fix partial refunds", {"refunds.py": "partial = 1\n"})
    scenario.refresh()
    sandbox.deliver(scenario.pull_request_event("pullRequestSourceBranchUpdated"))
    second = next(b["id"] for b in scenario.builds(PROJECT) if b["id"] != first)
    scenario.running(second)
    _deliver(sandbox, scenario.event(second))
    scenario.finish(second, "SUCCEEDED", tests=[{"name": "test_partial", "status": "SUCCEEDED"}])
    result = _deliver(sandbox, scenario.event(second))

    # Then there is still exactly one bot comment, showing the success and the earlier failure
    (comment,) = _bot_comments(scenario)
    assert comment.startswith(f"### ✅ {PROJECT}: build #2 succeeded")
    assert f"`{fix[:7]}`" in comment
    assert "Earlier runs: #1 ❌ FAILED" in comment
    assert "Outdated" not in comment
    assert len(comment) <= 10_240
    # And the bot approved the current revision
    assert result["vote"] == "APPROVE"
    assert [a["approvalState"] for a in scenario.approvals()] == ["APPROVE"]


def test_every_event_twice_and_out_of_order_changes_nothing_extra(sandbox: Sandbox, scenario: CiScenario) -> None:
    # Given a build that ran and failed
    build = _open(scenario)
    scenario.running(build)
    in_progress = scenario.event(build)
    scenario.finish(build, "FAILED", tests=FAILING, log_lines=LOG)
    failed = scenario.event(build)

    # When the FAILED event arrives first, then IN_PROGRESS, and each twice
    outcomes = [_deliver(sandbox, event)["outcome"] for event in (failed, failed, in_progress, in_progress)]

    # Then one comment was posted and it still shows the failure
    assert outcomes == ["posted", "duplicate", "duplicate", "duplicate"]
    (comment,) = _bot_comments(scenario)
    assert "❌" in comment
    assert "in progress" not in comment
    # And a redelivered PR event starts no second build
    sandbox.deliver(scenario.pull_request_event("pullRequestCreated"))
    assert len(scenario.builds(PROJECT)) == 1


def test_an_older_build_reporting_late_is_history_and_never_approves(sandbox: Sandbox, scenario: CiScenario) -> None:
    # Given a first build still running when a fix is pushed and its build succeeds
    first = _open(scenario)
    scenario.running(first)
    _deliver(sandbox, scenario.event(first))
    scenario.commit("refs/heads/feature/partial-refunds", "Fix", {"refunds.py": "partial = 1\n"})
    scenario.refresh()
    sandbox.deliver(scenario.pull_request_event("pullRequestSourceBranchUpdated"))
    second = next(b["id"] for b in scenario.builds(PROJECT) if b["id"] != first)
    scenario.running(second)
    scenario.finish(second, "SUCCEEDED")
    assert _deliver(sandbox, scenario.event(second))["vote"] == "APPROVE"

    # When the first (outdated) build's failure arrives late
    scenario.finish(first, "FAILED", tests=FAILING)
    late = _deliver(sandbox, scenario.event(first))

    # Then the comment still leads with the newer success, the failure is history, the approval stays
    assert late["outcome"] == "updated"
    assert late["vote"] is None
    (comment,) = _bot_comments(scenario)
    assert comment.startswith(f"### ✅ {PROJECT}: build #2 succeeded")
    assert "#1 ❌ FAILED" in comment
    assert [a["approvalState"] for a in scenario.approvals()] == ["APPROVE"]


def test_a_result_for_a_commit_no_longer_the_tip_is_marked_outdated(sandbox: Sandbox, scenario: CiScenario) -> None:
    # Given a build of the PR's first commit, and a push that moved the source branch on
    build = _open(scenario)
    scenario.running(build)
    scenario.commit("refs/heads/feature/partial-refunds", "More work", {"refunds.py": "partial = 2\n"})
    scenario.refresh()
    # When that build succeeds
    scenario.finish(build, "SUCCEEDED")
    result = _deliver(sandbox, scenario.event(build))
    # Then its comment says it is outdated and the bot does not approve
    (comment,) = _bot_comments(scenario)
    assert "**Outdated:**" in comment
    assert result["vote"] is None
    assert scenario.approvals() == []


def test_several_projects_keep_their_own_comments_and_approve_only_together(tmp_path: Path) -> None:
    # Given a repository built by two projects (the mapping comes from SSM)
    projects = ("payments-unit", "payments-lint")
    parameters = {
        **BUILDS_ONLY,
        "BuildProjectsParameter": "/codereflex/build-projects",
        "BuildProjectsStartable": "payments-*",
    }
    with Sandbox(function_env=QUIET, parameters=parameters) as sb:
        sb.client("ssm").put_parameter(
            Name="/codereflex/build-projects", Type="String", Value=json.dumps({"payments-service": list(projects)})
        )
        world = CiScenario(sb, tmp_path / "multi", projects=projects)
        world.commit("refs/heads/feature/x", "Feature", {"x.py": "x = 1\n"})
        world.open_pull_request("feature/x")
        sb.deliver(world.pull_request_event("pullRequestCreated"))
        unit, lint = (world.builds(project)[0]["id"] for project in projects)
        # When the first project succeeds, no approval yet (a "no" is always voted)
        world.running(unit)
        world.finish(unit, "SUCCEEDED")
        assert _deliver(sb, world.event(unit))["vote"] == "REVOKE"
        # And when the second succeeds too, the bot approves
        world.running(lint)
        world.finish(lint, "SUCCEEDED")
        assert _deliver(sb, world.event(lint))["vote"] == "APPROVE"
        # Then each project has one comment, and the latest one's table lists both
        comments = _bot_comments(world)
        assert len(comments) == 2
        assert all(f"| `{project}` | ✅ SUCCEEDED" in comments[1] for project in projects)
        assert [a["approvalState"] for a in world.approvals()] == ["APPROVE"]


def test_a_build_without_pull_request_variables_comments_on_its_commit(sandbox: Sandbox, scenario: CiScenario) -> None:
    # Given a build of main started directly (a pipeline), with no PR variables
    build = scenario.start(PROJECT, scenario.main)
    scenario.running(build)
    scenario.finish(build, "FAILED", log_lines=LOG)
    # When its result arrives
    result = _deliver(sandbox, scenario.event(build))
    # Then the comment is on the commit itself (the initial commit: no before commit)
    assert result["outcome"] == "posted"
    assert result["target"] == f"commit:payments-service:{scenario.main}"
    (comment,) = scenario.commit_comments(scenario.main, None)
    assert "❌" in comment["content"]
    assert "[REDACTED]" in comment["content"]


def test_unknown_projects_and_repositories_out_of_scope_are_ignored(
    sandbox: Sandbox, scenario: CiScenario, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a build of a project that does not follow the convention for the repository
    scenario.codebuild.create_project(
        name="someone-elses-project",
        source={"type": "CODECOMMIT", "location": scenario.url},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "ARM_CONTAINER", "image": "x", "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole="arn:aws:iam::123456789012:role/codebuild-service",
    )
    build = scenario.start("someone-elses-project", scenario.main)
    scenario.running(build)
    # When its result arrives, Then it is ignored and nothing is posted
    result = _deliver(sandbox, scenario.event(build))
    assert (result["outcome"], result["reason"]) == ("ignored", "project not configured for the repository")
    assert scenario.commit_comments(scenario.main, None) == []


def test_a_repository_outside_the_scope_is_ignored(tmp_path: Path) -> None:
    with Sandbox(function_env=QUIET, parameters={**BUILDS_ONLY, "BuildRepositories": "team-*"}) as sb:
        world = CiScenario(sb, tmp_path)
        build = world.start(PROJECT, world.main)
        world.running(build)
        result = _deliver(sb, world.event(build))
        assert (result["outcome"], result["reason"]) == ("ignored", "repository out of scope")
        assert world.commit_comments(world.main, None) == []


def test_hundreds_of_failing_tests_stay_under_the_size_limit(sandbox: Sandbox, scenario: CiScenario) -> None:
    # Given a build with 600 failing tests with long messages and a long log
    build = _open(scenario)
    scenario.running(build)
    tests = [
        {"name": f"test_case_{i}", "prefix": "tests.big", "status": "FAILED", "message": "x|y`z " * 200}
        for i in range(600)
    ]
    scenario.finish(build, "FAILED", tests=tests, log_lines=[f"line {i} " + "-" * 300 for i in range(200)])
    # When its result arrives
    assert _deliver(sandbox, scenario.event(build))["outcome"] == "posted"
    # Then the comment fits, says how many failed, and lists the first of them
    (comment,) = _bot_comments(scenario)
    assert len(comment) <= 10_240
    assert "600 failed" in comment
    assert "tests.big.test_case_0" in comment
    assert "more failing tests" in comment


def test_comment_policy_off_posts_nothing_but_still_votes(tmp_path: Path) -> None:
    with Sandbox(function_env=QUIET, parameters={**BUILDS_ONLY, "CommentPolicy": "off"}) as sb:
        world = CiScenario(sb, tmp_path)
        world.commit("refs/heads/feature/partial-refunds", "Partial", {"refunds.py": "p = 1\n"})
        build = _open(world)
        world.running(build)
        world.finish(build, "SUCCEEDED")
        result = _deliver(sb, world.event(build))
        assert (result["outcome"], result["vote"]) == ("skipped", "APPROVE")
        assert _bot_comments(world) == []


def test_failures_and_changes_policy_is_quiet_until_something_fails(tmp_path: Path) -> None:
    with Sandbox(function_env=QUIET, parameters={**BUILDS_ONLY, "CommentPolicy": "failures-and-changes"}) as sb:
        world = CiScenario(sb, tmp_path)
        world.commit("refs/heads/feature/partial-refunds", "Partial", {"refunds.py": "p = 1\n"})
        build = _open(world)
        world.running(build)
        assert _deliver(sb, world.event(build))["outcome"] == "skipped"
        world.finish(build, "FAILED", tests=FAILING)
        assert _deliver(sb, world.event(build))["outcome"] == "posted"
        assert len(_bot_comments(world)) == 1


def test_a_malformed_event_is_rejected_naming_the_field_not_its_value(sandbox: Sandbox, scenario: CiScenario) -> None:
    # Given a build event whose project name is missing and whose build id is not a string
    build = _open(scenario)
    scenario.running(build)
    event = scenario.event(build)
    del event["detail"]["project-name"]
    event["detail"]["build-id"] = {"secret": "hunter2hunter2"}
    # When it reaches the function
    result = sandbox.invoke(FUNCTION, event)
    # Then it is rejected once, as a bad event, naming the field and never echoing the value
    assert (result["outcome"], result["reason"]) == ("rejected", "bad-event")
    assert "detail.project-name" in result["error"]
    assert "hunter2" not in result["error"]
    assert _bot_comments(scenario) == []
