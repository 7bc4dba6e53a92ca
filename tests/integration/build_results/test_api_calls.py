"""How many AWS calls one build event costs, counted in botocore as the handler's own clients send them.

The first budget was 6 per event in the common cases. Trust costs three more, each on purpose:
the revision record's conditional write (the only proof that codereflex started a PR build; it
also returns every project's latest run, so the vote needs no other read), the comment claim
(no interleaving of two events loses an update), and a vote on every event that tells something
new, read back from the record (a REVOKE is sent whatever the bot believes; a vote the record no
longer supports after an event handled at the same moment is cast again). So: at most 10 per
event on a warm function (a failure with failing tests and a log tail); a new execution
environment adds STS GetCallerIdentity and Secrets Manager GetSecretValue once, the first time
it reads comments. DynamoDB calls count like any.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from sandbox.demo.ci_scenario import BUILDS_ONLY, CiScenario
from sandbox.local import Sandbox

FUNCTION = "BuildResultsFunction"
PROJECT = "payments-service-ci"
BUDGET = 10
TRUST = {"GetCallerIdentity": 1, "GetSecretValue": 1}  # once per execution environment
QUIET = {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}
FAILING = [
    {"name": "test_partial", "status": "FAILED", "message": "3 != 4"},
    {"name": "test_ok", "status": "SUCCEEDED"},
]


class CallCounter:
    """Every operation sent by clients of boto3's default session (the handler's), via botocore's before-call event."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def during(self, action: Callable[[], Any]) -> tuple[Any, Counter[str]]:
        self.calls = Counter()
        result = action()
        taken, self.calls = self.calls, Counter()
        return result, taken


@contextmanager
def _sandbox(counter: CallCounter, policy: str = "always") -> Iterator[Sandbox]:
    with Sandbox(function_env=QUIET, parameters={**BUILDS_ONLY, "CommentPolicy": policy}) as sandbox:
        # The handler makes its clients on first use from boto3's default session (which starting
        # moto renews), and a client copies the session's hooks when made: hook it, then start cold.
        session = boto3._get_default_session()
        session.events.register("before-call", counter)
        sandbox.router.cold_start(FUNCTION)
        try:
            yield sandbox
        finally:
            session.events.unregister("before-call", counter)


def _deliver(sandbox: Sandbox, event: dict[str, Any]) -> dict[str, Any]:
    (invocation,) = [i for i in sandbox.deliver(event) if i.logical_id == FUNCTION]
    assert invocation.error is None, invocation.error
    return dict(invocation.result)


def _pull_request_build(scenario: CiScenario) -> str:
    scenario.commit("refs/heads/feature/partial-refunds", "Partial refunds", {"refunds.py": "p = 1\n"})
    scenario.open_pull_request()
    scenario.sandbox.deliver(scenario.pull_request_event("pullRequestCreated"))
    (build,) = scenario.builds(PROJECT)
    return str(build["id"])


def test_a_pull_request_success_costs_at_most_six_calls_per_event(tmp_path: Path) -> None:  # now ten
    counter = CallCounter()
    with _sandbox(counter) as sandbox:
        # Given a pull request with a build started by the PR builds function
        scenario = CiScenario(sandbox, tmp_path)
        build = _pull_request_build(scenario)
        # When IN_PROGRESS arrives, then SUCCEEDED with a passing test report, then SUCCEEDED again
        scenario.running(build)
        posted, in_progress = counter.during(lambda: _deliver(sandbox, scenario.event(build)))
        scenario.finish(build, "SUCCEEDED", tests=[{"name": "test_ok", "status": "SUCCEEDED"}])
        event = scenario.event(build)
        result, succeeded = counter.during(lambda: _deliver(sandbox, event))
        again, duplicate = counter.during(lambda: _deliver(sandbox, event))

    # Then each stays within the budget: no test cases are fetched when the report says none failed
    assert (posted["outcome"], result["outcome"], again["outcome"]) == ("posted", "updated", "duplicate")
    assert result["vote"] == "APPROVE"
    # (IN_PROGRESS: record, comments, claim, post, REVOKE read back; the pull request is not fetched)
    assert in_progress - Counter(TRUST) == Counter(
        {
            "UpdateItem": 2,
            "GetCommentsForPullRequest": 1,
            "PostCommentForPullRequest": 1,
            "UpdatePullRequestApprovalState": 1,
            "GetItem": 1,
        }
    )
    assert succeeded == Counter(
        {
            "UpdateItem": 2,  # the run recorded, the comment claimed
            "GetPullRequest": 1,
            "GetCommentsForPullRequest": 1,
            "BatchGetBuilds": 1,
            "BatchGetReports": 1,
            "UpdateComment": 1,
            "UpdatePullRequestApprovalState": 1,
            "GetItem": 1,  # the vote read back against the record
        }
    )
    assert duplicate == Counter({"UpdateItem": 1, "GetCommentsForPullRequest": 1})
    assert max(sum(c.values()) for c in (in_progress - Counter(TRUST), succeeded, duplicate)) <= BUDGET


def test_a_pull_request_failure_with_failing_tests_and_a_log_tail_costs_six(tmp_path: Path) -> None:  # now ten
    counter = CallCounter()
    with _sandbox(counter) as sandbox:
        # Given a pull request build that fails with a failing test and a log
        scenario = CiScenario(sandbox, tmp_path)
        build = _pull_request_build(scenario)
        scenario.running(build)
        scenario.finish(build, "FAILED", tests=FAILING, log_lines=["pytest", "1 failed, 1 passed"])
        # When its only event arrives
        result, calls = counter.during(lambda: _deliver(sandbox, scenario.event(build)))
        (comment,) = [c["content"] for c in scenario.comments()]

    # Then the comment has the test and the log tail, and the pull request was not fetched:
    # the build carries the revision it was started for, which is all a failure needs
    assert result["outcome"] == "posted"
    assert "test_partial" in comment
    assert "1 failed, 1 passed" in comment
    assert calls - Counter(TRUST) == Counter(
        {
            "UpdateItem": 2,
            "GetCommentsForPullRequest": 1,
            "BatchGetBuilds": 1,
            "BatchGetReports": 1,
            "DescribeTestCases": 1,
            "GetLogEvents": 1,
            "PostCommentForPullRequest": 1,
            "UpdatePullRequestApprovalState": 1,
            "GetItem": 1,
        }
    )
    assert sum((calls - Counter(TRUST)).values()) <= BUDGET


def test_a_commit_build_costs_at_most_six_calls_per_event_once_its_parent_is_known(tmp_path: Path) -> None:
    counter = CallCounter()
    with _sandbox(counter) as sandbox:
        # Given a build of a commit on main (a pipeline's), with no pull request variables
        scenario = CiScenario(sandbox, tmp_path)
        commit = scenario.commit("refs/heads/main", "Refunds", {"refunds.py": "r = 1\n"})
        build = scenario.start(PROJECT, commit)
        scenario.running(build)
        # When IN_PROGRESS arrives on a fresh function, then FAILED with a failing test and a log
        posted, in_progress = counter.during(lambda: _deliver(sandbox, scenario.event(build)))
        scenario.finish(build, "FAILED", tests=FAILING, log_lines=["pytest", "1 failed, 1 passed"])
        result, failed = counter.during(lambda: _deliver(sandbox, scenario.event(build)))
        (comment,) = [c["content"] for c in scenario.commit_comments(commit, scenario.main)]

    # Then the commit's parent is asked once (it never changes), and each event stays within budget
    assert (posted["outcome"], result["outcome"]) == ("posted", "updated")
    assert "test_partial" in comment
    assert in_progress == Counter(
        {
            **TRUST,
            "GetCommit": 1,
            "GetCommentsForComparedCommit": 1,
            "UpdateItem": 1,
            "PostCommentForComparedCommit": 1,
        }
    )
    assert failed == Counter(
        {
            "GetCommentsForComparedCommit": 1,
            "BatchGetBuilds": 1,
            "BatchGetReports": 1,
            "DescribeTestCases": 1,
            "GetLogEvents": 1,
            "UpdateItem": 1,
            "UpdateComment": 1,
        }
    )
    assert max(sum(c.values()) for c in (in_progress - Counter(TRUST), failed)) <= BUDGET


@pytest.mark.parametrize("policy", ["failures-and-changes", "off"])
def test_quiet_policies_keep_a_success_cheap(tmp_path: Path, policy: str) -> None:
    counter = CallCounter()
    with _sandbox(counter, policy) as sandbox:
        # Given a pull request build that succeeds, under a policy that does not comment successes
        scenario = CiScenario(sandbox, tmp_path)
        build = _pull_request_build(scenario)
        scenario.running(build)
        _, in_progress = counter.during(lambda: _deliver(sandbox, scenario.event(build)))
        scenario.finish(build, "SUCCEEDED")
        event = scenario.event(build)
        # When its result arrives, twice
        result, succeeded = counter.during(lambda: _deliver(sandbox, event))
        again, duplicate = counter.during(lambda: _deliver(sandbox, event))

    # Then the run is kept in the revision record instead of a comment, and the vote read from it
    assert (result["outcome"], result["vote"], again["outcome"]) == ("skipped", "APPROVE", "duplicate")
    reads = {"GetCommentsForPullRequest": 1} if policy != "off" else {}
    assert succeeded == Counter(
        {"UpdateItem": 1, **reads, "GetPullRequest": 1, "UpdatePullRequestApprovalState": 1, "GetItem": 1}
    )
    assert duplicate == Counter({"UpdateItem": 1, **reads})
    assert max(sum(c.values()) for c in (in_progress - Counter(TRUST), succeeded, duplicate)) <= BUDGET


def test_a_first_failure_under_failures_and_changes_reads_the_revision_record(tmp_path: Path) -> None:
    counter = CallCounter()
    with _sandbox(counter, "failures-and-changes") as sandbox:
        # Given a pull request build that fails with a failing test, under failures-and-changes
        scenario = CiScenario(sandbox, tmp_path)
        build = _pull_request_build(scenario)
        scenario.running(build)
        scenario.finish(build, "FAILED", tests=FAILING, log_lines=["pytest", "1 failed, 1 passed"])
        # When its only event arrives
        result, calls = counter.during(lambda: _deliver(sandbox, scenario.event(build)))

    # Then the revision's record (an earlier, uncommented success of the project would be there)
    # comes back from the write that records the run: no read of its own
    assert (result["outcome"], result["vote"]) == ("posted", "REVOKE")
    assert calls - Counter(TRUST) == Counter(
        {
            "UpdateItem": 2,
            "UpdatePullRequestApprovalState": 1,
            "GetItem": 1,
            "GetCommentsForPullRequest": 1,
            "BatchGetBuilds": 1,
            "BatchGetReports": 1,
            "DescribeTestCases": 1,
            "GetLogEvents": 1,
            "PostCommentForPullRequest": 1,
        }
    )
