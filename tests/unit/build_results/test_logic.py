"""Build results logic with fakes: state order, policy, the vote, the size cap, and what is ignored."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from build_results.logic import handle
from build_results.ports import CommentPolicy, Options, Outcome, Ports, Trust
from build_results.render import BUDGET, STATUS_ICONS, Details, Summary, render
from build_results.state import CommentState
from codereflex.ci.builds import Build, Phase, Report, TestCase
from codereflex.ci.pullrequests import Comment, PullRequest
from codereflex.errors import PermanentError
from codereflex.events.codebuild import BuildStateChangeEvent
from codereflex.revisions import Run, StartedFor
from codereflex.signing import Signer
from tests.conftest import EVENTS

from .fakes import BOT, FakeCatalog, FakeClaims, FakeCodeBuild, FakeCodeCommit, FakeLogs, FakeRevisions

SOURCE = "4f1c2a9b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b"
REVISION = "0b7a3c5e9d1f2a4b6c8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c"  # the events' revisionId variable
BUILD_ARN = "arn:aws:codebuild:us-east-1:123456789012:build/payments-service-ci:3f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"
BUILD_UUID = "3f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"
SIGNER = Signer(b"k" * 64)
STARTED = StartedFor("payments-service", "42", REVISION, SOURCE, "9" * 40, ("payments-service-ci",))


def _event(name: str, **detail: Any) -> BuildStateChangeEvent:
    raw = json.loads((EVENTS / "build_results" / name).read_text())
    raw = copy.deepcopy(raw)
    raw["detail"].update(detail)
    return BuildStateChangeEvent.read(raw)


def _world(
    source: str = SOURCE, started: StartedFor = STARTED
) -> tuple[Ports, FakeCodeCommit, FakeCodeBuild, FakeRevisions]:
    # The pull request as it is now: a new commit on it is a new revision.
    revision = REVISION if source == SOURCE else "f" * 64
    codecommit = FakeCodeCommit(PullRequest("42", "payments-service", "OPEN", source, "9" * 40, revision))
    revisions = FakeRevisions()
    for project in started.projects:
        # The PR builds function started the events' build for the revision
        revisions.start(started, project, BUILD_UUID)
    report = Report("arn:report/1", "payments-unit", "TEST", 3, {"SUCCEEDED": 1, "FAILED": 2})
    codebuild = FakeCodeBuild(
        builds={
            BUILD_ARN: Build(
                BUILD_ARN,
                "payments-service-ci",
                "FAILED",
                number=7,
                report_arns=(report.arn,),
                phases=(Phase("BUILD", "FAILED", 66, ("COMMAND_EXECUTION_ERROR: exit status 1",)),),
                log_group="/aws/codebuild/payments-service-ci",
                log_stream="s",
            )
        },
        reports={report.arn: report},
        cases={report.arn: [TestCase("test_partial", "tests.refunds", "FAILED", "AssertionError: 3 != 4")]},
    )
    ports = Ports(
        codecommit,
        codecommit,
        codecommit,
        codebuild,
        FakeLogs(["building", "token=abcdefgh12345678"]),
        FakeCatalog(("payments-service-ci",), ("payments-service",)),
        revisions,
        FakeClaims(),
        lambda: Trust(BOT, SIGNER),
        pause=lambda _: None,
    )
    return ports, codecommit, codebuild, revisions


def test_a_failure_posts_one_comment_with_phase_tests_and_a_redacted_log() -> None:
    ports, codecommit, _, _ = _world()
    result = handle(_event("pr_failed.json"), ports, Options())
    (comment,) = codecommit.comments.values()
    assert result.outcome is Outcome.POSTED
    assert "build #7 failed" in comment.content
    assert "`BUILD`: COMMAND_EXECUTION_ERROR" in comment.content
    assert "1 passed, 2 failed, 0 skipped of 3" in comment.content
    assert "tests.refunds.test_partial" in comment.content
    assert "abcdefgh12345678" not in comment.content
    assert codecommit.votes == [(REVISION, False)]  # a "no" is always voted


def test_an_older_state_never_overwrites_a_newer_one() -> None:
    # Given the FAILED state already shown
    ports, codecommit, _, _ = _world()
    handle(_event("pr_failed.json"), ports, Options())
    # When the IN_PROGRESS event of the same build arrives late, twice
    results = [handle(_event("pr_in_progress.json"), ports, Options()) for _ in range(2)]
    # Then nothing is written
    assert [r.outcome for r in results] == [Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert (codecommit.posts, codecommit.updates) == (1, 0)
    assert "failed" in next(iter(codecommit.comments.values())).content


def test_success_on_the_tip_approves_once() -> None:
    ports, codecommit, _, _ = _world()
    succeeded = _event("pr_failed.json", **{"build-status": "SUCCEEDED"})
    assert handle(succeeded, ports, Options()).vote == "APPROVE"
    assert handle(succeeded, ports, Options()).outcome is Outcome.DUPLICATE
    assert codecommit.votes == [(REVISION, True)]


def test_success_of_an_older_commit_is_outdated_and_does_not_approve() -> None:
    ports, codecommit, _, _ = _world(source="a" * 40)
    result = handle(_event("pr_failed.json", **{"build-status": "SUCCEEDED"}), ports, Options())
    assert result.vote is None
    assert "**Outdated:**" in next(iter(codecommit.comments.values())).content


def test_a_rebuild_failing_after_an_approval_revokes_it() -> None:
    # Given an approved revision
    ports, codecommit, codebuild, revisions = _world()
    handle(_event("pr_failed.json", **{"build-status": "SUCCEEDED"}), ports, Options())
    # When a newer build of the same project on the same revision fails
    rebuild = BUILD_ARN.replace("3f9e8d7c", "4a0b1c2d")
    codebuild.builds[rebuild] = codebuild.builds[BUILD_ARN]
    revisions.start(STARTED, "payments-service-ci", rebuild.rsplit(":", 1)[-1])  # a /rebuild
    raw = json.loads((EVENTS / "build_results" / "pr_failed.json").read_text())
    raw["detail"]["build-id"] = rebuild
    raw["detail"]["additional-information"]["build-start-time"] = "Nov 23, 2026 8:30:00 PM"
    result = handle(BuildStateChangeEvent.read(raw), ports, Options())
    # Then the approval is revoked
    assert result.vote == "REVOKE"
    assert codecommit.votes == [(REVISION, True), (REVISION, False)]


@pytest.mark.parametrize(
    ("policy", "status", "expected"),
    [
        (CommentPolicy.OFF, "FAILED", Outcome.SKIPPED),
        (CommentPolicy.FAILURES_AND_CHANGES, "SUCCEEDED", Outcome.SKIPPED),
        (CommentPolicy.FAILURES_AND_CHANGES, "FAILED", Outcome.POSTED),
        (CommentPolicy.ALWAYS, "SUCCEEDED", Outcome.POSTED),
    ],
)
def test_the_comment_policy(policy: CommentPolicy, status: str, expected: Outcome) -> None:
    ports, _, _, _ = _world()
    assert (
        handle(_event("pr_failed.json", **{"build-status": status}), ports, Options(policy=policy)).outcome is expected
    )


def test_unknown_projects_and_repositories_are_ignored() -> None:
    ports, codecommit, _, _ = _world()
    unknown = handle(_event("pr_failed.json", **{"project-name": "other"}), ports, Options())
    out_of_scope = handle(_event("pr_failed.json"), ports._replace(catalog=FakeCatalog(scope=())), Options())
    # (a pull request's projects are those the PR builds function started for the revision)
    assert (unknown.outcome, unknown.reason) == (
        Outcome.IGNORED,
        "build not started by codereflex for this pull request revision",
    )
    assert (out_of_scope.outcome, out_of_scope.reason) == (Outcome.IGNORED, "repository out of scope")
    assert codecommit.comments == {}


def test_the_comment_fits_however_many_tests_fail() -> None:
    state = CommentState("pr:x:1", "p", (Run("b", "FAILED", "c" * 40, "2026-01-01T00:00:00", 1),))
    cases = [TestCase(f"test_{i}", "tests.big", "FAILED", "boom | `x` " * 300) for i in range(100)]
    details = Details(
        region="us-east-1",
        reports=[Report("r", "unit", "TEST", 900, {"FAILED": 900})],
        failing_tests=cases,
        log_lines=["x" * 500] * 100,
        failed_phase="BUILD",
        failed_message="m" * 5000,
    )
    content = render(state, details, Summary(configured=[f"project-{i}" for i in range(50)]), 100, 100, signer=SIGNER)
    assert len(content) <= BUDGET
    assert CommentState.decode(content, SIGNER) == state


def test_a_tampered_state_is_not_ours() -> None:
    state = CommentState("pr:x:1", "p", (Run("b", "SUCCEEDED", "c" * 40, "2026-01-01T00:00:00", 1),))
    marker = state.encode(SIGNER)
    raw, key_id, signature = marker.removeprefix("[//]: # (codereflex:").removesuffix(")").split(".")
    edited = CommentState("pr:x:2", "p", state.runs).encode(SIGNER).split(".")[0]
    assert CommentState.decode(marker, SIGNER) == state
    assert CommentState.decode(f"{edited}.{key_id}.{signature})", SIGNER) is None  # payload changed
    assert CommentState.decode(state.encode(Signer(b"x" * 64)), SIGNER) is None  # another key
    assert CommentState.decode(f"[//]: # (codereflex:{raw})", SIGNER) is None  # unsigned (an old release's)
    assert CommentState.decode("[//]: # (codereflex:bm90IGpzb24=)", SIGNER) is None
    assert CommentState.decode("just a human comment", SIGNER) is None


def test_siblings_finishing_together_still_approve() -> None:
    # Given two projects whose comments both still say IN_PROGRESS (their events crossed)
    ports, codecommit, codebuild, _ = _world(
        started=STARTED._replace(projects=("payments-service-ci", "payments-service-lint"))
    )
    lint_arn = BUILD_ARN.replace("payments-service-ci", "payments-service-lint")
    both = ports._replace(catalog=FakeCatalog(("payments-service-ci", "payments-service-lint"), ("payments-service",)))
    raw = json.loads((EVENTS / "build_results" / "pr_in_progress.json").read_text())
    lint = copy.deepcopy(raw)
    lint["detail"].update({"project-name": "payments-service-lint", "build-id": lint_arn})
    handle(BuildStateChangeEvent.read(lint), both, Options())
    # And CodeBuild already knows the lint build succeeded
    codebuild.builds["payments-service-lint:3f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"] = Build(
        lint_arn, "payments-service-lint", "SUCCEEDED"
    )
    # When the first project's success arrives
    raw["detail"]["build-status"] = "SUCCEEDED"
    result = handle(BuildStateChangeEvent.read(raw), both, Options())
    # Then the bot asks CodeBuild about the sibling and approves
    assert result.vote == "APPROVE"
    assert codecommit.votes == [(REVISION, False), (REVISION, True)]


@pytest.mark.parametrize("status", ["FAILED", "FAULT", "STOPPED", "TIMED_OUT"])
def test_every_unsuccessful_end_is_a_failure_that_follows_in_progress(status: str) -> None:
    # Given a build shown as running
    ports, codecommit, _, _ = _world()
    handle(_event("pr_in_progress.json"), ports, Options())
    # When it ends without success
    result = handle(_event("pr_failed.json", **{"build-status": status}), ports, Options())
    # Then the same comment says so, with the failing phase, and the bot does not approve
    (comment,) = codecommit.comments.values()
    assert result.outcome is Outcome.UPDATED
    assert f"| **Status** | {STATUS_ICONS[status]} {status} |" in comment.content
    assert "**Failed phase:**" in comment.content
    assert codecommit.votes == [(REVISION, False), (REVISION, False)]


def test_a_failure_refused_on_the_commits_it_was_built_for_is_posted_on_the_current_ones() -> None:
    # Given a failure of a build started for an earlier revision, and CodeCommit refusing a comment
    # whose after commit is not the pull request's current tip
    ports, codecommit, _, _ = _world(source="5" * 40)
    posted_on: list[str] = []
    post = codecommit.post_on_pull_request

    def strict_post(pull_request: PullRequest, content: str, client_request_token: str) -> Comment:
        if pull_request.source_commit != codecommit.pull_request.source_commit:
            raise PermanentError("PostCommentForPullRequest 42: InvalidCommitIdException")
        posted_on.append(pull_request.source_commit)
        return post(pull_request, content, client_request_token)

    codecommit.post_on_pull_request = strict_post  # type: ignore[method-assign]
    # When the failure arrives
    result = handle(_event("pr_failed.json"), ports, Options())
    # Then the comment is posted once, against the pull request's current commits
    assert result.outcome is Outcome.POSTED
    assert posted_on == ["5" * 40]
    assert codecommit.posts == 1
