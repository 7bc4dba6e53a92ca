"""PR builds against the sandbox: a new revision starts each project once, with the PR's context as variables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.aws.codecommit_events import pull_request_comment_event
from sandbox.demo.ci_scenario import BUILDS_ONLY, CiScenario
from sandbox.local import Sandbox

FUNCTION = "PrBuildsFunction"
PROJECT = "payments-service-ci"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(
        function_env={"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}, parameters=BUILDS_ONLY
    ) as running:
        yield running


@pytest.fixture
def scenario(sandbox: Sandbox, tmp_path: Path) -> CiScenario:
    world = CiScenario(sandbox, tmp_path)
    world.commit("refs/heads/feature/partial-refunds", "Partial refunds", {"refunds.py": "partial = True\n"})
    world.open_pull_request()
    return world


def test_a_new_pull_request_starts_its_project_at_the_source_commit(sandbox: Sandbox, scenario: CiScenario) -> None:
    # When the pull request's creation event is delivered
    (invocation,) = [
        i for i in sandbox.deliver(scenario.pull_request_event("pullRequestCreated")) if i.logical_id == FUNCTION
    ]
    # Then one build runs at the PR's source commit and knows the PR, its commits and the projects
    pull_request = scenario.pull_request()
    target = pull_request["pullRequestTargets"][0]
    (build,) = scenario.builds(PROJECT)
    assert invocation.result["outcome"] == "started"
    assert build["sourceVersion"] == target["sourceCommit"]
    variables = {v["name"]: v["value"] for v in build["environment"]["environmentVariables"]}
    assert variables == {
        "pullRequestId": pull_request["pullRequestId"],
        "repositoryName": "payments-service",
        "sourceCommit": target["sourceCommit"],
        "destinationCommit": target["destinationCommit"],
        "revisionId": pull_request["revisionId"],
        "codereflexProjects": PROJECT,
    }


def test_a_redelivered_event_starts_nothing_more(sandbox: Sandbox, scenario: CiScenario) -> None:
    event = scenario.pull_request_event("pullRequestCreated")
    first = sandbox.invoke(FUNCTION, event)
    second = sandbox.invoke(FUNCTION, event)
    assert (first["outcome"], second["outcome"]) == ("started", "duplicate")
    assert second["builds"] == first["builds"]
    assert len(scenario.builds(PROJECT)) == 1


def test_a_new_revision_starts_a_new_build_and_revokes_the_bot_approval(sandbox: Sandbox, scenario: CiScenario) -> None:
    # Given a first build, and the bot's approval of the first revision
    sandbox.invoke(FUNCTION, scenario.pull_request_event("pullRequestCreated"))
    # When the source branch moves on
    scenario.commit("refs/heads/feature/partial-refunds", "More", {"refunds.py": "partial = 2\n"})
    scenario.refresh()
    result = sandbox.invoke(FUNCTION, scenario.pull_request_event("pullRequestSourceBranchUpdated"))
    # Then a second build runs at the new tip, and the bot's vote on the new revision is revoked
    assert result["outcome"] == "started"
    assert result["revoked"] is True
    builds = scenario.builds(PROJECT)
    assert len(builds) == 2
    assert builds[-1]["sourceVersion"] == scenario.pull_request()["pullRequestTargets"][0]["sourceCommit"]


@pytest.mark.parametrize("event", ["pullRequestStatusChanged", "pullRequestMergeStatusUpdated"])
def test_a_closed_or_merged_pull_request_starts_nothing(sandbox: Sandbox, scenario: CiScenario, event: str) -> None:
    # Given the pull request is closed
    scenario.codecommit.update_pull_request_status(pullRequestId=scenario.pull_request_id, pullRequestStatus="CLOSED")
    closed = scenario.pull_request_event(event)
    # Then its rule does not even match, and invoked anyway the function starts nothing
    assert FUNCTION not in {i.logical_id for i in sandbox.deliver(closed)}
    assert sandbox.invoke(FUNCTION, closed)["outcome"] == "ignored"
    assert scenario.builds(PROJECT) == []


def test_a_rebuild_comment_starts_the_projects_again_once(sandbox: Sandbox, scenario: CiScenario) -> None:
    # Given a pull request whose build ran
    sandbox.invoke(FUNCTION, scenario.pull_request_event("pullRequestCreated"))
    pull_request = scenario.pull_request()
    target = pull_request["pullRequestTargets"][0]
    # When the developer comments "/rebuild" and the event arrives twice
    comment = scenario.developer_codecommit.post_comment_for_pull_request(
        pullRequestId=pull_request["pullRequestId"],
        repositoryName="payments-service",
        beforeCommitId=target["destinationCommit"],
        afterCommitId=target["sourceCommit"],
        content="/rebuild please",
    )["comment"]
    event = pull_request_comment_event(pull_request, dict(comment), caller_arn=sandbox.developer_arn)
    first, second = (sandbox.invoke(FUNCTION, event) for _ in range(2))
    # Then one more build runs at the same commit
    assert (first["outcome"], second["outcome"]) == ("started", "duplicate")
    builds = scenario.builds(PROJECT)
    assert len(builds) == 2
    assert builds[-1]["sourceVersion"] == target["sourceCommit"]


def test_the_bot_s_own_comments_are_no_commands(sandbox: Sandbox, scenario: CiScenario) -> None:
    # Given a build result comment posted by the build results function
    build = _start(sandbox, scenario)
    scenario.running(build)
    sandbox.deliver(scenario.event(build))
    (bot_comment,) = scenario.comments()
    # When its comment event is delivered (EventBridge sends one for every comment)
    event = pull_request_comment_event(scenario.pull_request(), bot_comment, caller_arn=bot_comment["authorArn"])
    (result,) = [i.result for i in sandbox.deliver(event) if i.logical_id == FUNCTION]
    # Then it is ignored and starts nothing
    assert result["outcome"] == "ignored"
    assert len(scenario.builds(PROJECT)) == 1


def _start(sandbox: Sandbox, scenario: CiScenario) -> str:
    sandbox.invoke(FUNCTION, scenario.pull_request_event("pullRequestCreated"))
    return str(scenario.builds(PROJECT)[0]["id"])
