"""Bad input gets a final answer from every function: a non-object event, a non-finite number, a refused request."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from sandbox.demo.ci_scenario import CiScenario
from sandbox.local import Sandbox

FUNCTIONS = (
    "RepoActivityFunction",
    "RepoBackupFunction",
    "PrBuildsFunction",
    "BuildResultsFunction",
    "ApprovalRequestsFunction",
    "ApprovalPageFunction",
)
QUIET = {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}
# What json.loads makes of the number 1e400, as Lambda's runtime reads the payload.
OVERFLOW = json.loads("1e400")


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(function_env={**QUIET, "BACKUP_WORK_DIR": str(tmp_path / "lambda-tmp")}) as running:
        yield running


def _rejected(result: Any, reason: str) -> str:
    """The rejection's error text, once the result is a rejection for `reason` (a return: no Lambda retry)."""
    assert isinstance(result, dict)
    assert (result["outcome"], result["reason"]) == ("rejected", reason)
    return str(result["error"])


@pytest.mark.parametrize("event", [[], ["version"], "x", "", 3, 0.5, True, None], ids=repr)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_an_event_that_is_not_an_object_is_a_bad_event(sandbox: Sandbox, function: str, event: Any) -> None:
    error = _rejected(sandbox.invoke(function, event), "bad-event")
    assert "must be a JSON object" in error
    assert sandbox.notices() == []


@pytest.mark.parametrize(
    "event",
    [{"detail-type": "Scheduled Event", "detail": {}}, {"version": "2.0", "rawPath": "/a/x"}, {"requestContext": {}}],
    ids=["an EventBridge event", "no requestContext", "no rawPath"],
)
def test_the_approval_page_takes_only_function_url_requests(sandbox: Sandbox, event: dict[str, Any]) -> None:
    error = _rejected(sandbox.invoke("ApprovalPageFunction", event), "bad-event")
    assert "not a Lambda function URL request" in error


def _set(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    target: Any = event
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[last] = value
    return event


NON_FINITE = [OVERFLOW, -OVERFLOW, float("nan"), "NaN", "nan", "inf", "-Infinity", "1e400"]
SAMPLES = [
    # The pydantic and the light readers: the envelope's time accepts a number in the pydantic model.
    ("RepoActivityFunction", "repo_activity/branch_deleted.json", "time"),
    ("RepoBackupFunction", "repo_backup/push_main.json", "time"),
    ("RepoBackupFunction", "repo_backup/sweep.json", "time"),
    ("PrBuildsFunction", "pr_builds/created.json", "time"),
    ("PrBuildsFunction", "pr_builds/rebuild_comment.json", "time"),
    ("ApprovalRequestsFunction", "approval_requests/action_started.json", "time"),
    ("ApprovalRequestsFunction", "approval_requests/sweep.json", "time"),
    # The numbers of a CodeBuild event.
    ("BuildResultsFunction", "build_results/pr_failed.json", "detail.additional-information.build-number"),
    ("BuildResultsFunction", "build_results/pr_failed.json", "detail.additional-information.timeout-in-minutes"),
    (
        "BuildResultsFunction",
        "build_results/pr_failed.json",
        "detail.additional-information.phases.1.duration-in-seconds",
    ),
]


@pytest.mark.parametrize("value", NON_FINITE, ids=repr)
@pytest.mark.parametrize(("function", "sample", "path"), SAMPLES)
def test_a_number_that_is_not_finite_is_a_bad_event(
    sandbox: Sandbox,
    load_event: Callable[[str], dict[str, Any]],
    *,
    function: str,
    sample: str,
    path: str,
    value: Any,
) -> None:
    # Given a real sample whose one number (or number-like field) is infinite or not a number
    event = _set(load_event(sample), path, value)
    # Then the function rejects it once, naming the field
    error = _rejected(sandbox.invoke(function, event), "bad-event")
    assert path.rsplit(".", 1)[-1] in error
    assert sandbox.notices() == []


def test_finite_numbers_still_read(sandbox: Sandbox, load_event: Callable[[str], dict[str, Any]]) -> None:
    # A large but finite build number is a number like any other: the event is read, not rejected
    # (it names a repository the sandbox does not have, so it goes no further than the first call)
    event = _set(load_event("build_results/pr_failed.json"), "detail.additional-information.build-number", 1e300)
    result = sandbox.invoke("BuildResultsFunction", event)
    assert result.get("reason") != "bad-event"


def test_a_rejection_is_logged_and_counted_for_the_alarm(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given metrics on, as deployed
    with Sandbox(function_env={"POWERTOOLS_LOG_LEVEL": "INFO"}) as sandbox:
        service = sandbox.router.function("PrBuildsFunction").environment["POWERTOOLS_SERVICE_NAME"]
        # Powertools' metric store is shared by the process and is not flushed while metrics are
        # disabled, as in the other tests: start from an empty one.
        Metrics().clear_metrics()
        # When a bad event arrives
        sandbox.invoke("PrBuildsFunction", ["not", "an", "event"])
    # Then one "Event rejected" line says why
    (log,) = [record for record in caplog.records if record.getMessage() == "Event rejected"]
    assert log.__dict__["reason"] == "bad-event"
    # And Rejected is counted under the function's own service, the dimension its alarm watches
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    (emf,) = [line for line in lines if "Rejected" in line]
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    assert {"Rejected", "Rejected.bad-event"} <= {metric["Name"] for metric in directive["Metrics"]}
    assert directive["Dimensions"] == [["service"]]
    assert emf["service"] == service
    assert (emf["Rejected"], emf["Rejected.bad-event"]) == ([1.0], [1.0])


# --- a request the service refuses as invalid: final, not retried --------------------------------


def test_repository_activity_with_an_invalid_repository_name_is_final(
    sandbox: Sandbox, load_event: Callable[[str], dict[str, Any]]
) -> None:
    event = _set(load_event("repo_activity/force_push_main.json"), "detail.repositoryName", "no spaces allowed")
    assert "InvalidRepositoryNameException" in _rejected(sandbox.invoke("RepoActivityFunction", event), "invalid-input")
    assert sandbox.notices() == []


def test_repository_backup_with_an_invalid_repository_name_is_final(
    sandbox: Sandbox, load_event: Callable[[str], dict[str, Any]]
) -> None:
    event = _set(load_event("repo_backup/push_main.json"), "detail.repositoryName", "no spaces allowed")
    assert "InvalidRepositoryNameException" in _rejected(sandbox.invoke("RepoBackupFunction", event), "invalid-input")


@pytest.fixture
def scenario(sandbox: Sandbox, tmp_path: Path) -> CiScenario:
    world = CiScenario(sandbox, tmp_path)
    world.commit("refs/heads/feature/partial-refunds", "Partial refunds", {"refunds.py": "partial = True\n"})
    world.open_pull_request()
    return world


def test_pr_builds_with_a_revision_the_pull_request_never_had_is_final(sandbox: Sandbox, scenario: CiScenario) -> None:
    # Given a source-branch update whose revision is not one of the pull request's
    event = _set(scenario.pull_request_event("pullRequestSourceBranchUpdated"), "detail.revisionId", "f" * 64)
    # Then revoking the bot's vote on it is refused for good, and a redelivery starts nothing more
    error = _rejected(sandbox.invoke("PrBuildsFunction", event), "invalid-input")
    assert "InvalidRevisionIdException" in error
    assert sandbox.invoke("PrBuildsFunction", event)["outcome"] == "duplicate"
    assert len(scenario.builds("payments-service-ci")) == 1


def test_build_results_with_a_malformed_build_id_is_final(sandbox: Sandbox, scenario: CiScenario) -> None:
    # Given a finished build whose event carries a build id CodeBuild cannot parse
    build = scenario.start("payments-service-ci", scenario.main)
    scenario.finish(build, "FAILED")
    event = _set(scenario.event(build), "detail.build-id", "payments-service-ci")
    # Then reading the build is refused for good, and no comment is written
    assert "InvalidInputException" in _rejected(sandbox.invoke("BuildResultsFunction", event), "invalid-input")
    assert scenario.commit_comments(scenario.main, None) == []


# --- a misconfigured function: every event is rejected as configuration, which its alarm sees -------


@pytest.mark.parametrize(
    ("function", "sample", "setting", "value"),
    [
        ("RepoActivityFunction", "repo_activity/branch_deleted.json", "NOTIFICATION_TOPIC_ARN", ""),
        ("PrBuildsFunction", "pr_builds/created.json", "IDEMPOTENCY_TABLE", " "),
        ("BuildResultsFunction", "build_results/pr_failed.json", "COMMENT_POLICY", "sometimes"),
        ("RepoBackupFunction", "repo_backup/push_main.json", "FULL_BACKUP_EVERY", "many"),
        ("RepoBackupFunction", "repo_backup/push_main.json", "BACKUP_HANDOFF_THRESHOLD_MIB", "inf"),
        ("RepoBackupFunction", "repo_backup/sweep.json", "BACKUP_HANDOFF_THRESHOLD_MIB", "nan"),
    ],
)
def test_a_missing_or_invalid_setting_rejects_the_event_as_configuration(
    sandbox: Sandbox,
    load_event: Callable[[str], dict[str, Any]],
    *,
    function: str,
    sample: str,
    setting: str,
    value: str,
) -> None:
    overrides = {**sandbox.function_env(), setting: value}
    result = sandbox.router.invoke(function, load_event(sample), env_overrides=overrides)
    assert setting in _rejected(result, "configuration")
