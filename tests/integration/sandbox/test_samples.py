"""`python -m sandbox invoke` with every events/ sample does what the sample says, in a sandbox seeded for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox import cli
from tests.conftest import EVENTS

FUNCTIONS = {
    "approval_page": "ApprovalPageFunction",
    "approval_requests": "ApprovalRequestsFunction",
    "build_results": "BuildResultsFunction",
    "ecs_hooks": "EcsHooksFunction",
    "pr_builds": "PrBuildsFunction",
    "repo_activity": "RepoActivityFunction",
    "repo_backup": "RepoBackupFunction",
}
# A CodeDeploy hook's payload does not name its hook: each hook function is told its own, so a sample
# is for the function its name says (ecs_after_allow_test_traffic.json: DeployHookAfterAllowTestTraffic).
HOOK_SAMPLES = {
    "deploy_hooks/ecs_after_allow_test_traffic.json": "DeployHookAfterAllowTestTrafficFunction",
    "deploy_hooks/lambda_before_allow_traffic.json": "DeployHookBeforeAllowTrafficFunction",
}
# What each sample is for, as its function answers it (a subset of the answer's fields).
INTENDED: dict[str, dict[str, Any]] = {
    "approval_page/get_link.json": {"statusCode": 200},
    "approval_page/get_unknown_path.json": {"statusCode": 404},
    "approval_page/post_approve.json": {"statusCode": 303},
    "approval_requests/action_started.json": {"outcome": "opened", "sent": 2},
    "approval_requests/action_succeeded.json": {"outcome": "closed-out", "reason": "approved-here", "sent": 2},
    "approval_requests/approval_notification.json": {"outcome": "opened", "sent": 2},
    "approval_requests/sweep.json": {"outcome": "swept", "sent": 2},
    "build_results/commit_succeeded.json": {"outcome": "posted"},
    "deploy_hooks/ecs_after_allow_test_traffic.json": {"outcome": "reported", "verdict": "Succeeded"},
    "deploy_hooks/lambda_before_allow_traffic.json": {"outcome": "reported", "verdict": "Succeeded"},
    "build_results/pr_failed.json": {"outcome": "posted", "target": "pr:payments-service:42"},
    "build_results/pr_in_progress.json": {"outcome": "posted", "target": "pr:payments-service:42"},
    "ecs_hooks/post_production_traffic_shift.json": {"hookStatus": "SUCCEEDED"},
    "ecs_hooks/post_test_traffic_shift.json": {"hookStatus": "SUCCEEDED"},
    "ecs_hooks/post_test_traffic_shift_with_service_details.json": {"hookStatus": "SUCCEEDED"},
    "ecs_hooks/pre_production_traffic_shift.json": {"hookStatus": "SUCCEEDED"},
    # On rollback ECS re-invokes PRODUCTION_TRAFFIC_SHIFT, a stage no spec hook stands for.
    "ecs_hooks/production_traffic_shift_rollback.json": {"hookStatus": "FAILED"},
    "pr_builds/created.json": {"outcome": "started", "reason": ""},
    "pr_builds/rebuild_comment.json": {"outcome": "started", "reason": "rebuild"},
    "pr_builds/reopened.json": {"outcome": "started", "reason": ""},
    "pr_builds/source_branch_updated.json": {"outcome": "started", "reason": ""},
    "repo_activity/branch_deleted.json": {"outcome": "published", "activity": "branch-deleted"},
    "repo_activity/feature_push_ignored.json": {"outcome": "ignored", "activity": None},
    "repo_activity/force_push_main.json": {"outcome": "published", "activity": "force-push"},
    "repo_activity/main_created.json": {"outcome": "published", "activity": "branch-created"},
    "repo_activity/push_main.json": {"outcome": "published", "activity": "push"},
    "repo_activity/tag_deleted.json": {"outcome": "published", "activity": "tag-deleted"},
    "repo_backup/branch_deleted.json": {"outcome": "backed-up"},
    "repo_backup/push_main.json": {"outcome": "backed-up"},
    "repo_backup/sweep.json": {"outcome": "swept", "backedUp": ["payments-service"], "failed": []},
    "repo_backup/tag_created.json": {"outcome": "backed-up"},
}
# Samples that name no state (a request to no page), so nothing is seeded for them.
NAMES_NOTHING = {"approval_page/get_unknown_path.json"}
SAMPLES = sorted(path.relative_to(EVENTS).as_posix() for path in EVENTS.glob("**/*.json"))


def _invoke(sample: str, capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, Any, str]:
    """`python -m sandbox invoke <Function> -e events/<sample>` in this process; (exit code, answer, stderr)."""
    function = HOOK_SAMPLES.get(sample) or FUNCTIONS[sample.split("/", maxsplit=1)[0]]
    code = cli.main(["invoke", function, "-e", str(EVENTS / sample), *options])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    return code, json.loads(lines[-1]) if code == 0 else None, err


def test_every_sample_says_what_it_is_for() -> None:
    assert sorted(INTENDED) == SAMPLES


@pytest.mark.parametrize("sample", SAMPLES)
def test_invoking_a_sample_does_what_it_says(sample: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, answer, err = _invoke(sample, capsys)
    assert code == 0, err
    assert {key: answer.get(key) for key in INTENDED[sample]} == INTENDED[sample], err
    # The user is told what was seeded and which of the sample's ids now name seeded ones
    if sample in HOOK_SAMPLES:  # a deployment waiting at the sample's hook, with its group's spec
        assert "--- seeded: " in err and " waiting at " in err and "spec s3://" in err, err
    elif sample not in NAMES_NOTHING:
        seeded = (
            "ECS service my-cluster/my-service" if sample.startswith("ecs_hooks/") else "repository payments-service"
        )
        assert f"--- seeded: {seeded}" in err
    assert "--- missing state" not in err


def test_a_pull_request_build_is_trusted_because_the_pr_builds_function_started_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, answer, err = _invoke("build_results/pr_failed.json", capsys)
    assert "started by PrBuildsFunction for the pull request" in err
    assert answer["outcome"] == "posted"


def test_an_unseeded_sample_says_which_state_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    code, answer, err = _invoke("repo_activity/force_push_main.json", capsys, "--no-seed")
    assert code == 0
    assert answer["outcome"] == "rejected"
    (missing,) = [line for line in err.splitlines() if line.startswith("--- missing state:")]
    assert "payments-service" in missing
    assert "python -m sandbox up" in missing


def test_an_event_naming_no_repository_is_refused_in_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = json.loads((EVENTS / "repo_activity" / "push_main.json").read_text())
    del event["detail"]["repositoryName"]
    path = tmp_path / "nameless.json"
    path.write_text(json.dumps(event))
    code = cli.main(["invoke", "RepoActivityFunction", "-e", str(path)])
    _, err = capsys.readouterr()
    assert code == 1
    assert err.strip().startswith("The event names no repository")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("sample", "kind"),
    [
        ("approval_requests/action_started.json", "Approval needed"),
        ("approval_requests/approval_notification.json", "Approval needed"),
        ("approval_requests/action_succeeded.json", "Approved"),
    ],
)
def test_an_approval_sample_shows_the_mail_each_approver_got(
    sample: str, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _invoke(sample, capsys)
    assert code == 0, err
    for approver in ("alice@example.com", "bob@example.com"):
        assert f"--- mail to {approver}: {kind}" in err
    # The sample's token was replaced by the seeded approval's, which is printed nowhere
    assert "EXAMPLETOKEN" not in err
