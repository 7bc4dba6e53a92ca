"""The approval vote on a pull request built by several projects, under every comment policy, against the sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sandbox.demo.ci_scenario import BUILDS_ONLY, CiScenario
from sandbox.local import Sandbox

FUNCTION = "BuildResultsFunction"
PROJECTS = ("payments-unit", "payments-lint")
MAPPING = "/codereflex/build-projects"
QUIET = {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}
POLICIES = ["always", "failures-and-changes", "off"]
FAILING = [{"name": "test_partial", "status": "FAILED", "message": "3 != 4"}]


@contextmanager
def _world(tmp_path: Path, policy: str) -> Iterator[tuple[Sandbox, CiScenario]]:
    parameters = {
        **BUILDS_ONLY,
        "CommentPolicy": policy,
        "BuildProjectsParameter": MAPPING,
        "BuildProjectsStartable": "payments-*",
    }
    with Sandbox(function_env=QUIET, parameters=parameters) as sandbox:
        sandbox.client("ssm").put_parameter(
            Name=MAPPING, Type="String", Value=json.dumps({"payments-service": list(PROJECTS)})
        )
        world = CiScenario(sandbox, tmp_path, projects=PROJECTS)
        world.commit("refs/heads/feature/x", "Feature", {"x.py": "x = 1\n"})
        world.open_pull_request("feature/x")
        sandbox.deliver(world.pull_request_event("pullRequestCreated"))
        yield sandbox, world


def _deliver(sandbox: Sandbox, event: dict[str, Any]) -> dict[str, Any]:
    (invocation,) = [i for i in sandbox.deliver(event) if i.logical_id == FUNCTION]
    assert invocation.error is None, invocation.error
    return dict(invocation.result)


def _approved(world: CiScenario) -> bool:
    return [a["approvalState"] for a in world.approvals()] == ["APPROVE"]


def _bot_comments(world: CiScenario) -> list[str]:
    return [c["content"] for c in world.comments() if "codereflex:" in c["content"]]


def _rebuild(world: CiScenario, build_id: str) -> str:
    """The same project and revision built again: a `/rebuild` comment, through the PR builds function."""
    return world.rebuild(world.build(build_id)["projectName"])


@pytest.mark.parametrize("policy", POLICIES)
def test_approval_needs_every_project_and_follows_a_later_failure(tmp_path: Path, policy: str) -> None:
    with _world(tmp_path, policy) as (sandbox, world):
        unit, lint = (world.builds(project)[0]["id"] for project in PROJECTS)
        # Given both projects running
        for build in (unit, lint):
            world.running(build)
            _deliver(sandbox, world.event(build))
        # When the first succeeds: no approval yet
        world.finish(unit, "SUCCEEDED")
        assert _deliver(sandbox, world.event(unit))["vote"] in (None, "REVOKE")
        assert not _approved(world)
        # And when the second succeeds: approved
        world.finish(lint, "SUCCEEDED")
        assert _deliver(sandbox, world.event(lint))["vote"] == "APPROVE"
        assert _approved(world)
        # And when a rebuild of the first fails on the same revision: the approval is revoked
        again = _rebuild(world, unit)
        world.running(again)
        world.finish(again, "FAILED", tests=FAILING)
        assert _deliver(sandbox, world.event(again))["vote"] == "REVOKE"
        assert not _approved(world)
        # And a success of the other project now does not approve over the failure
        lint_again = _rebuild(world, lint)
        world.running(lint_again)
        world.finish(lint_again, "SUCCEEDED")
        _deliver(sandbox, world.event(lint_again))
        assert not _approved(world)
        comments = _bot_comments(world)

    if policy == "off":
        assert comments == []
    elif policy == "failures-and-changes":
        # Only the failure was commented: successes left no comment behind
        assert len(comments) == 1
        assert comments[0].startswith("### ❌ payments-unit")
    else:
        assert len(comments) == len(PROJECTS)


@pytest.mark.parametrize("policy", POLICIES)
def test_every_event_twice_and_out_of_order_still_ends_approved_once(tmp_path: Path, policy: str) -> None:
    with _world(tmp_path, policy) as (sandbox, world):
        unit, lint = (world.builds(project)[0]["id"] for project in PROJECTS)
        events = []
        for build in (unit, lint):
            world.running(build)
            events.append(world.event(build))
        for build in (unit, lint):
            world.finish(build, "SUCCEEDED")
            events.append(world.event(build))
        # When the final states arrive first, then the IN_PROGRESS ones, each twice
        results = [_deliver(sandbox, event) for event in (*events[2:], *events[:2]) for _ in range(2)]

        # Then the bot approved exactly once and nothing was undone by the late, older states (a vote
        # of "no" is always cast, so the first project's success alone revokes: nothing was approved)
        votes = [r["vote"] for r in results]
        assert votes.count("APPROVE") == 1
        assert "REVOKE" not in votes[votes.index("APPROVE") :]
        assert _approved(world)
        comments = _bot_comments(world)
    assert len(comments) == {"always": 2, "failures-and-changes": 0, "off": 0}[policy]


@pytest.mark.parametrize("policy", ["failures-and-changes", "off"])
def test_a_late_failure_of_an_earlier_build_neither_comments_nor_revokes(tmp_path: Path, policy: str) -> None:
    with _world(tmp_path, policy) as (sandbox, world):
        unit, lint = (world.builds(project)[0]["id"] for project in PROJECTS)
        # Given the first unit build still running when a rebuild of it and lint both succeed
        world.running(unit)
        _deliver(sandbox, world.event(unit))
        again = _rebuild(world, unit)
        for build in (again, lint):
            world.running(build)
            world.finish(build, "SUCCEEDED")
        assert [_deliver(sandbox, world.event(b))["vote"] for b in (again, lint)] == ["REVOKE", "APPROVE"]
        # When the first unit build's failure arrives late
        world.finish(unit, "FAILED", tests=FAILING)
        late = _deliver(sandbox, world.event(unit))
        # Then it is history: no comment, and the approval stands
        assert (late["outcome"], late["vote"]) == ("duplicate", None)
        assert _bot_comments(world) == []
        assert _approved(world)
