"""How many AWS calls one build event costs: at most 6 in the common case (IN_PROGRESS, SUCCEEDED)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from build_results.app import lambda_handler
from build_results.logic import Ports
from codereflex.aws.codebuild import CodeBuildResults
from codereflex.aws.codecommit import CodeCommitComments, CodeCommitCommits, CodeCommitPullRequests
from codereflex.aws.logs import LogTail
from codereflex.ci import ProjectCatalog, ProjectScope
from sandbox.ci_scenario import BUILDS_ONLY, CiScenario
from sandbox.local import Sandbox

PROJECT = "payments-service-ci"
COMMON_CASE_BUDGET = 6


class CallCounter:
    """Counts every AWS operation the adapters send, via botocore's before-call hook."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def watch(self, client: Any) -> Any:
        client.meta.events.register("before-call", self)
        return client

    def during(self, action: Any) -> tuple[Any, Counter[str]]:
        """Run `action` and count only its calls (the sandbox's own clients share botocore's hooks)."""
        self.calls = Counter()
        result = action()
        return result, self.take()

    def take(self) -> Counter[str]:
        taken, self.calls = self.calls, Counter()
        return taken


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(function_env={"POWERTOOLS_METRICS_DISABLED": "true"}, parameters=BUILDS_ONLY) as running:
        yield running


def _ports(sandbox: Sandbox, counter: CallCounter) -> Ports:
    codecommit = counter.watch(sandbox.client("codecommit"))
    return Ports(
        pull_requests=CodeCommitPullRequests(codecommit),
        comments=CodeCommitComments(codecommit),
        commits=CodeCommitCommits(codecommit),
        builds=CodeBuildResults(counter.watch(sandbox.client("codebuild"))),
        logs=LogTail(counter.watch(sandbox.client("logs"))),
        catalog=ProjectCatalog(ProjectScope()),
    )


def test_a_pull_request_build_costs_at_most_six_calls_per_event(
    sandbox: Sandbox, tmp_path: Path, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a pull request with a build started by the PR builds function, and counted adapters
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    scenario = CiScenario(sandbox, tmp_path)
    scenario.commit("refs/heads/feature/partial-refunds", "Partial refunds", {"refunds.py": "p = 1\n"})
    scenario.open_pull_request()
    sandbox.deliver(scenario.pull_request_event("pullRequestCreated"))
    (build,) = scenario.builds(PROJECT)
    counter = CallCounter()
    ports = _ports(sandbox, counter)

    # When IN_PROGRESS arrives
    scenario.running(build["id"])
    event = scenario.event(build["id"])
    posted, in_progress = counter.during(lambda: lambda_handler(event, lambda_context, ports=ports))
    # And SUCCEEDED arrives, with a test report, and the bot approves
    scenario.finish(build["id"], "SUCCEEDED", tests=[{"name": "test_ok", "status": "SUCCEEDED"}])
    event = scenario.event(build["id"])
    result, succeeded = counter.during(lambda: lambda_handler(event, lambda_context, ports=ports))
    # And the same event is delivered again
    again, duplicate = counter.during(lambda: lambda_handler(event, lambda_context, ports=ports))

    # Then each event stays within the budget
    assert (posted["outcome"], result["outcome"], again["outcome"]) == ("posted", "updated", "duplicate")
    assert result["vote"] == "APPROVE"
    assert in_progress == Counter({"GetPullRequest": 1, "GetCommentsForPullRequest": 1, "PostCommentForPullRequest": 1})
    assert succeeded == Counter(
        {
            "GetPullRequest": 1,
            "GetCommentsForPullRequest": 1,
            "BatchGetBuilds": 1,
            "BatchGetReports": 1,
            "UpdatePullRequestApprovalState": 1,
            "UpdateComment": 1,
        }
    )
    assert sum(succeeded.values()) <= COMMON_CASE_BUDGET
    assert duplicate == Counter({"GetPullRequest": 1, "GetCommentsForPullRequest": 1})


def test_a_failure_with_failing_tests_and_a_log_tail_costs_seven(
    sandbox: Sandbox, tmp_path: Path, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a pull request build that fails with failing tests (the one case above the common budget)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    scenario = CiScenario(sandbox, tmp_path)
    scenario.commit("refs/heads/feature/partial-refunds", "Partial refunds", {"refunds.py": "p = 1\n"})
    scenario.open_pull_request()
    sandbox.deliver(scenario.pull_request_event("pullRequestCreated"))
    (build,) = scenario.builds(PROJECT)
    counter = CallCounter()
    scenario.running(build["id"])
    scenario.finish(build["id"], "FAILED", tests=[{"name": "t", "status": "FAILED"}], log_lines=["boom"])
    event, ports = scenario.event(build["id"]), _ports(sandbox, counter)
    # When its only event arrives
    result, calls = counter.during(lambda: lambda_handler(event, lambda_context, ports=ports))
    # Then the test details and the log tail add one call each, and nothing else is spent
    assert result["outcome"] == "posted"
    assert calls == Counter(
        {
            "GetPullRequest": 1,
            "GetCommentsForPullRequest": 1,
            "BatchGetBuilds": 1,
            "BatchGetReports": 1,
            "DescribeTestCases": 1,
            "GetLogEvents": 1,
            "PostCommentForPullRequest": 1,
        }
    )
