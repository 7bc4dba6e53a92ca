"""Demo act: a pull request is built, fails a test, gets a fix, goes green; one living comment and the vote."""

from __future__ import annotations

from pathlib import Path

from sandbox.demo.ci_scenario import CiScenario
from sandbox.demo.demo_kit import DemoFailure, expect, say, title
from sandbox.local import Sandbox

REPOSITORY = "refunds-service"
PROJECT = f"{REPOSITORY}-ci"
FAILING_TESTS = [
    {
        "name": "test_partial_refund",
        "prefix": "tests.test_refunds",
        "status": "FAILED",
        "message": "AssertionError: 30 != 25",
    },
    {"name": "test_full_refund", "prefix": "tests.test_refunds", "status": "SUCCEEDED"},
    {"name": "test_refund_currency", "prefix": "tests.test_refunds", "status": "SKIPPED"},
]
FAILED_LOG = [
    "[Container] Running command python -m pytest -q",
    "export REFUNDS_API_TOKEN=tok_live_4f9a8b7c6d5e4f3a2b1c",
    "F.s                                                      [100%]",
    "FAILED tests/test_refunds.py::test_partial_refund - AssertionError: 30 != 25",
    "1 failed, 1 passed, 1 skipped in 0.42s",
]


def _bot_comments(scenario: CiScenario) -> list[str]:
    return [comment["content"] for comment in scenario.comments() if "codereflex:" in comment["content"]]


def _show(scenario: CiScenario) -> str:
    comments = _bot_comments(scenario)
    if len(comments) != 1:
        raise DemoFailure(f"expected exactly one bot comment on the pull request, found {len(comments)}")
    say("   +--- pull request comment (Markdown) -------------------------------------------")
    for line in comments[0].splitlines():
        hidden = line.startswith("[//]: # (codereflex:")
        shown = "[//]: # (codereflex:…)   ← hidden state, renders as nothing" if hidden else line
        say(f"   | {shown}".rstrip())
    say("   +-------------------------------------------------------------------------------")
    approvals = scenario.approvals()
    say(f"   approval state of the current revision: {[a['approvalState'] for a in approvals] or 'none'}")
    return comments[0]


def _deliver_build(sandbox: Sandbox, scenario: CiScenario, build_id: str) -> dict[str, object]:
    event = scenario.event(build_id)
    results = [i.result for i in sandbox.deliver(event) if i.logical_id == "BuildResultsFunction"]
    if len(results) != 1 or not isinstance(results[0], dict):
        raise DemoFailure(f"the build results function did not handle the {event['detail']['build-status']} event")
    say(f"   event CodeBuild {event['detail']['build-status']} → BuildResultsFunction: {results[0]}")
    return results[0]


def act(sandbox: Sandbox, scratch: Path) -> None:
    """Open a PR, watch its build fail then pass after a push; print the comment and approvals after each step."""
    scenario = CiScenario(sandbox, scratch, repository=REPOSITORY, projects=(PROJECT,))
    branch = "refs/heads/feature/partial-refunds"
    scenario.commit(branch, "Partial refunds", {"refunds.py": "def refund(amount, part):\n    return part\n"})

    title("Builds 1: Alice opens a pull request; its build starts")
    scenario.open_pull_request()
    invocations = sandbox.deliver(scenario.pull_request_event("pullRequestCreated"))
    for invocation in invocations:
        say(f"   event pullRequestCreated → {invocation.logical_id}: {invocation.result}")
    builds = scenario.builds(PROJECT)
    expect(len(builds) == 1, f"one {PROJECT} build was started for the pull request")
    first = str(builds[0]["id"])
    variables = {v["name"]: v["value"] for v in builds[0]["environment"]["environmentVariables"]}
    say(f"   build {first} at {builds[0]['sourceVersion'][:7]} with variables {variables}")
    expect(variables.get("pullRequestId") == scenario.pull_request_id, "the build knows its pull request")

    title("Builds 2: CodeBuild reports IN_PROGRESS")
    scenario.running(first)
    _deliver_build(sandbox, scenario, first)
    content = _show(scenario)
    expect("in progress" in content, "the comment says the build is running")

    title("Builds 3: the build FAILS with a failing test (and the event is delivered twice)")
    scenario.finish(first, "FAILED", tests=FAILING_TESTS, log_lines=FAILED_LOG)
    _deliver_build(sandbox, scenario, first)
    duplicate = _deliver_build(sandbox, scenario, first)
    content = _show(scenario)
    expect(duplicate.get("outcome") == "duplicate", "the second delivery changed nothing")
    expect("tests.test_refunds.test_partial_refund" in content, "the failing test is named with its message")
    expect("tok_live_" not in content, "the token in the log tail was redacted")
    expect(scenario.approvals() == [], "the bot does not approve a failing revision")

    title("Builds 4: Alice pushes a fix; a new revision, a new build")
    scenario.commit(
        branch, "Fix partial refunds", {"refunds.py": "def refund(amount, part):\n    return min(part, amount)\n"}
    )
    scenario.refresh()
    for invocation in sandbox.deliver(scenario.pull_request_event("pullRequestSourceBranchUpdated")):
        say(f"   event pullRequestSourceBranchUpdated → {invocation.logical_id}: {invocation.result}")
    second = next(str(b["id"]) for b in scenario.builds(PROJECT) if b["id"] != first)
    scenario.running(second)
    _deliver_build(sandbox, scenario, second)
    _show(scenario)

    title("Builds 5: the new build SUCCEEDS; the same comment is edited and the bot approves")
    scenario.finish(second, "SUCCEEDED", tests=[{**case, "status": "SUCCEEDED"} for case in FAILING_TESTS])
    result = _deliver_build(sandbox, scenario, second)
    content = _show(scenario)
    expect(content.startswith(f"### ✅ {PROJECT}: build #2 succeeded"), "the one comment now shows the success")
    expect("#1 ❌ FAILED" in content, "the history line keeps the earlier failure visible")
    expect(result.get("vote") == "APPROVE", "the bot voted APPROVE")
    expect([a["approvalState"] for a in scenario.approvals()] == ["APPROVE"], "the revision is approved by the bot")
