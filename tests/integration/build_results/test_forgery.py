"""Build results as an attacker would try it: forged state, builds nobody trusted started, interleaved events.

Each test sets up real CI on a pull request in the sandbox (the PR builds function starts the
builds, the build results function reports them), then does what an author of the pull request,
or anyone who can start a CodeBuild build, could do. None of it may leave an APPROVE standing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from codereflex.signing import Signer
from sandbox.demo.ci_scenario import BUILDS_ONLY, CiScenario
from sandbox.local import Sandbox
from tests.integration.build_results.conftest import QUIET

FUNCTION = "BuildResultsFunction"
PROJECT = "payments-service-ci"
FAILING = [{"name": "test_partial", "status": "FAILED", "message": "3 != 4"}]


@pytest.fixture
def scenario(sandbox: Sandbox, tmp_path: Path) -> CiScenario:
    world = CiScenario(sandbox, tmp_path)
    world.commit("refs/heads/feature/partial-refunds", "Partial refunds", {"refunds.py": "partial = True\n"})
    world.open_pull_request()
    sandbox.deliver(world.pull_request_event("pullRequestCreated"))
    return world


def _deliver(sandbox: Sandbox, event: dict[str, Any]) -> dict[str, Any]:
    (invocation,) = [i for i in sandbox.deliver(event) if i.logical_id == FUNCTION]
    assert invocation.error is None, invocation.error
    return dict(invocation.result)


def _real_ci_failed(scenario: CiScenario) -> str:
    """The PR builds function's build of the pull request ran and failed, and was reported."""
    (build,) = [b["id"] for b in scenario.builds(PROJECT)]
    scenario.running(build)
    _deliver(scenario.sandbox, scenario.event(build))
    scenario.finish(build, "FAILED", tests=FAILING)
    _deliver(scenario.sandbox, scenario.event(build))
    return str(build)


def _pr_variables(scenario: CiScenario, projects: str = PROJECT) -> dict[str, str]:
    pull_request = scenario.pull_request()
    target = pull_request["pullRequestTargets"][0]
    return {
        "pullRequestId": pull_request["pullRequestId"],
        "repositoryName": scenario.repository,
        "sourceCommit": target["sourceCommit"],
        "destinationCommit": target["destinationCommit"],
        "revisionId": pull_request["revisionId"],
        "codereflexProjects": projects,
    }


def _post_as_author(scenario: CiScenario, content: str) -> None:
    pull_request = scenario.pull_request()
    target = pull_request["pullRequestTargets"][0]
    scenario.developer_codecommit.post_comment_for_pull_request(
        pullRequestId=pull_request["pullRequestId"],
        repositoryName=scenario.repository,
        beforeCommitId=target["destinationCommit"],
        afterCommitId=target["sourceCommit"],
        content=content,
    )


def _bot_comments(scenario: CiScenario) -> list[dict[str, Any]]:
    return [c for c in scenario.comments() if c["authorArn"] != scenario.sandbox.developer_arn]


def _marker(payload: dict[str, Any], signature: str = "AAAA", key_id: str = "00000000") -> str:
    raw = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
    return f"[//]: # (codereflex:{raw}.{key_id}.{signature})"


def test_forged_copied_and_edited_markers_never_approve(sandbox: Sandbox, scenario: CiScenario) -> None:
    # Given real CI that failed on the pull request, and the bot's comment saying so
    failed = _real_ci_failed(scenario)
    (bot,) = _bot_comments(scenario)
    tip = scenario.pull_request()["pullRequestTargets"][0]["sourceCommit"]
    target = f"pr:{scenario.repository}:{scenario.pull_request_id}"
    success = {"t": target, "p": PROJECT, "r": [["x", "SUCCEEDED", tip, "2099-01-01T00:00:00+00:00", 99]], "n": 9}
    # When the pull request's author posts state of their own: hand-made (old and new format),
    # signed with a key of their own, a copy of the bot's comment, and the bot's marker edited
    old_format = base64.urlsafe_b64encode(json.dumps(success).encode()).decode()
    _post_as_author(scenario, f"looks good\n\n[//]: # (codereflex:{old_format})")
    _post_as_author(scenario, _marker(success))
    own_key = Signer(b"attacker" * 8)
    raw = base64.urlsafe_b64encode(json.dumps(success, separators=(",", ":")).encode()).decode()
    _post_as_author(
        scenario, f"[//]: # (codereflex:{raw}.{own_key.key_id}.{own_key.sign('codereflex-comment-state', raw)})"
    )
    _post_as_author(scenario, bot["content"].replace("FAILED", "SUCCEEDED"))
    real_marker = bot["content"].rsplit("\n", 1)[-1]
    _, key_id, signature = real_marker.removesuffix(")").split(".")
    _post_as_author(scenario, _marker(success, signature, key_id))
    # And a rebuild of the real CI runs (its events are what the bot acts on)
    again = scenario.rebuild(PROJECT)
    scenario.running(again)
    in_progress = _deliver(sandbox, scenario.event(again))
    # Then the bot kept to its own comment, updated it (nothing refused it), and never approved
    assert in_progress["outcome"] == "updated"
    assert in_progress["vote"] == "REVOKE"
    (bot_now,) = _bot_comments(scenario)
    assert bot_now["commentId"] == bot["commentId"]
    assert "in progress" in bot_now["content"]
    assert scenario.approvals() == []
    # And when the real rebuild fails too, still one comment of the bot's and no approval
    scenario.finish(again, "FAILED", tests=FAILING)
    assert _deliver(sandbox, scenario.event(again))["vote"] == "REVOKE"
    assert len(_bot_comments(scenario)) == 1
    assert scenario.approvals() == []
    assert failed != again


def test_a_build_codereflex_did_not_start_never_counts(sandbox: Sandbox, scenario: CiScenario) -> None:
    # Given real CI that failed on the pull request
    _real_ci_failed(scenario)
    # When someone starts builds with the pull request's variables: a NO_SOURCE scratch project
    # that names itself as the PR's only project, and the real CI project started by hand
    scenario.codebuild.create_project(
        name="scratch",
        source={"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases:\n  build:\n    commands: [true]\n"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "ARM_CONTAINER", "image": "x", "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole="arn:aws:iam::123456789012:role/codebuild-service",
    )
    variables = _pr_variables(scenario, projects="scratch")
    overrides = [{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in variables.items()]
    scratch = scenario.codebuild.start_build(projectName="scratch", environmentVariablesOverride=overrides)
    by_hand = scenario.start(PROJECT, variables["sourceCommit"], _pr_variables(scenario))
    results = []
    for build in (scratch["build"]["id"], by_hand):
        scenario.running(build)
        scenario.finish(build, "SUCCEEDED")
        results.append(_deliver(sandbox, scenario.event(build)))
    # Then neither is taken as the pull request's CI: nothing is commented or approved
    assert [(r["outcome"], r["reason"], r["vote"]) for r in results] == [
        ("ignored", "the build is of no commit", None),
        ("ignored", "build not started by codereflex for this pull request revision", None),
    ]
    assert len(_bot_comments(scenario)) == 1
    assert scenario.approvals() == []


def test_a_build_of_another_repository_naming_the_pull_request_is_ignored(
    sandbox: Sandbox, scenario: CiScenario, tmp_path: Path
) -> None:
    # Given another repository whose project follows the convention
    other = CiScenario(sandbox, tmp_path / "other", repository="attacker-tools", projects=("attacker-tools-ci",))
    # When a build of it names the pull request of payments-service
    build = other.start("attacker-tools-ci", other.main, _pr_variables(scenario))
    other.running(build)
    other.finish(build, "SUCCEEDED")
    result = _deliver(sandbox, other.event(build))
    # Then it is ignored: its source is not the pull request's repository
    assert (result["outcome"], result["reason"]) == (
        "ignored",
        "the build's source is not the pull request's repository",
    )
    assert _bot_comments(scenario) == []
    assert scenario.approvals() == []


def _during_call(operation: str, matches: Callable[[dict[str, Any]], bool], action: Callable[[], None]) -> Any:
    """A botocore hook that runs `action` once, just before the handler's first matching call is sent."""
    fired = {"done": False}

    def hook(model: Any, params: dict[str, Any], **_: Any) -> None:  # the call's own parameters
        if model.name == operation and not fired["done"] and matches(params):
            fired["done"] = True
            action()

    return hook


@contextmanager
def _hooked(sandbox: Sandbox, hook: Any) -> Iterator[None]:
    """The hook on the handler's clients: they copy the default session's hooks when made, so start cold."""
    session = boto3._get_default_session()
    session.events.register("before-parameter-build", hook)
    sandbox.router.cold_start(FUNCTION)
    try:
        yield
    finally:
        session.events.unregister("before-parameter-build", hook)


def _claims(params: dict[str, Any]) -> bool:
    return str(params.get("Key", {}).get("id", {}).get("S", "")).startswith("codereflex-comment#")


@pytest.mark.parametrize("first", ["IN_PROGRESS", "SUCCEEDED"])
def test_interleaved_writers_of_one_comment_lose_no_update(sandbox: Sandbox, scenario: CiScenario, first: str) -> None:
    # Given the build's IN_PROGRESS and SUCCEEDED events, handled at the same moment: the second
    # runs whole while the first is between reading the comment and writing it
    (build,) = [b["id"] for b in scenario.builds(PROJECT)]
    scenario.running(build)
    in_progress = scenario.event(build)
    scenario.finish(build, "SUCCEEDED")
    succeeded = scenario.event(build)
    outer, inner = (in_progress, succeeded) if first == "IN_PROGRESS" else (succeeded, in_progress)
    nested: list[dict[str, Any]] = []
    hook = _during_call("UpdateItem", _claims, lambda: nested.append(_deliver(sandbox, inner)))
    # When both are handled
    with _hooked(sandbox, hook):
        result = _deliver(sandbox, outer)
    # Then the comment shows the success, whichever wrote first, and the pull request is approved
    (comment,) = _bot_comments(scenario)
    assert "succeeded" in comment["content"].split("\n", 1)[0]
    assert [a["approvalState"] for a in scenario.approvals()] == ["APPROVE"]
    assert len(nested) == 1
    assert {result["outcome"], nested[0]["outcome"]} <= {"posted", "updated", "duplicate"}


def test_a_failure_recorded_while_an_approval_is_sent_is_not_left_approved(tmp_path: Path) -> None:
    # Given a pull request built by two projects, the second already succeeded
    parameters = {
        **BUILDS_ONLY,
        "BuildProjectsParameter": "/codereflex/build-projects",
        "BuildProjectsStartable": "payments-*",
    }
    projects = ("payments-unit", "payments-lint")
    with Sandbox(function_env=QUIET, parameters=parameters) as sb:
        sb.client("ssm").put_parameter(
            Name="/codereflex/build-projects", Type="String", Value=json.dumps({"payments-service": list(projects)})
        )
        world = CiScenario(sb, tmp_path, projects=projects)
        world.commit("refs/heads/feature/x", "Feature", {"x.py": "x = 1\n"})
        world.open_pull_request("feature/x")
        sb.deliver(world.pull_request_event("pullRequestCreated"))
        unit, lint = (world.builds(project)[0]["id"] for project in projects)
        for build in (lint, unit):
            world.running(build)
            world.finish(build, "SUCCEEDED")
        _deliver(sb, world.event(lint))
        # And a rebuild of lint that fails, whose event is handled while unit's success is
        # sending its APPROVE (after unit read the record, before the approval lands)
        again = world.rebuild("payments-lint")
        world.running(again)
        world.finish(again, "FAILED", tests=FAILING)
        nested: list[dict[str, Any]] = []
        hook = _during_call(
            "UpdatePullRequestApprovalState",
            lambda params: params.get("approvalState") == "APPROVE",
            lambda: nested.append(_deliver(sb, world.event(again))),
        )
        with _hooked(sb, hook):
            result = _deliver(sb, world.event(unit))
        # Then the approval sent in between is taken back: the pull request is not approved
        assert nested[0]["vote"] == "REVOKE"
        assert result["vote"] == "REVOKE"
        assert world.approvals() == []
