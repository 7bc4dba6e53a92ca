"""PR builds logic with fakes: which events start builds, once per revision and project, with which variables."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from codereflex.ci.projects import ConfiguredProjects, ProjectScope
from codereflex.ci.pullrequests import Comment, PullRequest
from codereflex.errors import TargetGone
from codereflex.events.pull_requests import CommentEvent, PullRequestStateChangeEvent
from codereflex.revisions import StartedFor
from pr_builds.logic import Options, Outcome, Ports, handle
from tests.conftest import AWS_SAMPLES, EVENTS
from tests.fakes import FakeOnce


@dataclass
class FakeCodeBuild:
    started: list[tuple[str, str, dict[str, str], str]] = field(default_factory=list)

    def start_build(
        self, project: str, source_version: str, variables: Mapping[str, str], idempotency_token: str
    ) -> str:
        self.started.append((project, source_version, dict(variables), idempotency_token))
        return f"{project}:build-{len(self.started)}"


@dataclass
class FakeVoter:
    votes: list[tuple[str, str, bool]] = field(default_factory=list)

    def vote(self, pull_request_id: str, revision_id: str, approve: bool) -> bool:
        self.votes.append((pull_request_id, revision_id, approve))
        return True


@dataclass
class FakeLedger:
    builds: list[tuple[StartedFor, str, str]] = field(default_factory=list)

    def started(self, started_for: StartedFor, project: str, build_id: str) -> None:
        self.builds.append((started_for, project, build_id))


def _ports(**given: Any) -> Ports:
    """The ports a test names, the rest fakes that fail the test if a path uses them unexpectedly."""
    defaults: dict[str, Any] = {
        "catalog": CATALOG,
        "starter": FakeCodeBuild(),
        "voter": FakeVoter(),
        "once": FakeOnce(),
        "ledger": FakeLedger(),
        "comments": None,
        "pull_requests": None,
    }
    return Ports(**{**defaults, **given})


CATALOG = ConfiguredProjects(ProjectScope(conventions=("{repository}-ci", "{repository}-lint")))


def _event(path: str) -> PullRequestStateChangeEvent:
    return PullRequestStateChangeEvent.read(json.loads((EVENTS / "pr_builds" / path).read_text()))


def test_a_created_pull_request_starts_every_project_with_its_context() -> None:
    codebuild, voter = FakeCodeBuild(), FakeVoter()
    result = handle(
        _event("created.json"),
        _ports(catalog=CATALOG, starter=codebuild, voter=voter, once=FakeOnce(), ledger=FakeLedger()),
        Options(),
    )
    assert result.outcome is Outcome.STARTED
    assert [start[0] for start in codebuild.started] == ["payments-service-ci", "payments-service-lint"]
    _, version, variables, token = codebuild.started[0]
    assert version == "4f1c2a9b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b"
    assert variables["pullRequestId"] == "42"
    assert variables["codereflexProjects"] == "payments-service-ci,payments-service-lint"
    assert len(token) == 64
    # A brand-new pull request has no approval to revoke
    assert voter.votes == []


def test_the_same_event_twice_starts_each_project_once() -> None:
    codebuild, once = FakeCodeBuild(), FakeOnce()
    first = handle(
        _event("source_branch_updated.json"),
        _ports(catalog=CATALOG, starter=codebuild, voter=FakeVoter(), once=once, ledger=FakeLedger()),
        Options(),
    )
    second = handle(
        _event("source_branch_updated.json"),
        _ports(catalog=CATALOG, starter=codebuild, voter=FakeVoter(), once=once, ledger=FakeLedger()),
        Options(),
    )
    assert (first.outcome, second.outcome) == (Outcome.STARTED, Outcome.DUPLICATE)
    assert len(codebuild.started) == 2
    assert second.builds == first.builds


@pytest.mark.parametrize("path", ["source_branch_updated.json", "reopened.json"])
def test_a_new_revision_revokes_the_bot_vote(path: str) -> None:
    voter = FakeVoter()
    result = handle(
        _event(path),
        _ports(catalog=CATALOG, starter=FakeCodeBuild(), voter=voter, once=FakeOnce(), ledger=FakeLedger()),
        Options(),
    )
    assert result.revoked is True
    assert voter.votes == [("42", _event(path).detail.revision_id, False)]


@pytest.mark.parametrize(
    "sample",
    [
        "codecommit-pull-request-merged.json",
        "codecommit-pull-request-status-changed-closed.json",
        "codecommit-pull-request-approval-state-changed.json",
    ],
)
def test_closed_merged_or_approval_events_start_nothing(sample: str) -> None:
    codebuild = FakeCodeBuild()
    raw = json.loads((AWS_SAMPLES / sample).read_text())
    result = handle(PullRequestStateChangeEvent.read(raw), _ports(starter=codebuild), Options())
    assert result.outcome is Outcome.IGNORED
    assert codebuild.started == []


def test_a_repository_outside_the_scope_starts_nothing() -> None:
    codebuild = FakeCodeBuild()
    catalog = ConfiguredProjects(ProjectScope(repositories=("team-*",)))
    result = handle(
        _event("created.json"),
        _ports(catalog=catalog, starter=codebuild, voter=FakeVoter(), once=FakeOnce(), ledger=FakeLedger()),
        Options(),
    )
    assert (result.outcome, result.reason) == (Outcome.IGNORED, "repository out of scope")
    assert codebuild.started == []


@dataclass
class FakeComments:
    content: str

    def get(self, comment_id: str) -> Comment:
        return Comment(comment_id, self.content, "arn:aws:iam::123456789012:user/alice", None)


@dataclass
class FakePullRequests:
    status: str = "OPEN"

    def get_pull_request(self, pull_request_id: str) -> PullRequest:
        return PullRequest(pull_request_id, "payments-service", self.status, "a" * 40, "b" * 40, "rev-9")


def _comment(caller: str = "arn:aws:iam::123456789012:user/alice") -> CommentEvent:
    raw = json.loads((EVENTS / "pr_builds" / "rebuild_comment.json").read_text())
    raw["detail"]["callerUserArn"] = caller
    return CommentEvent.read(raw)


def _rebuild(
    event: CommentEvent, content: str, status: str = "OPEN", once: FakeOnce | None = None
) -> tuple[Any, FakeCodeBuild]:
    codebuild = FakeCodeBuild()
    ports = _ports(
        catalog=CATALOG,
        starter=codebuild,
        once=once or FakeOnce(),
        comments=FakeComments(content),
        pull_requests=FakePullRequests(status),
    )
    result = handle(event, ports, Options(bot_roles=("codereflex-BuildResultsFunctionRole-ABC",)))
    return result, codebuild


def test_rebuild_starts_every_project_at_the_current_revision() -> None:
    result, codebuild = _rebuild(_comment(), "/rebuild")
    assert result.outcome is Outcome.STARTED
    assert [(p, v, variables["revisionId"]) for p, v, variables, _ in codebuild.started] == [
        ("payments-service-ci", "a" * 40, "rev-9"),
        ("payments-service-lint", "a" * 40, "rev-9"),
    ]


@pytest.mark.parametrize(
    ("event", "content", "status", "reason"),
    [
        (
            _comment("arn:aws:sts::123456789012:assumed-role/codereflex-BuildResultsFunctionRole-ABC/fn"),
            "/rebuild",
            "OPEN",
            "comment made by codereflex itself",
        ),
        (_comment(), "Looks good, but /rebuild later", "OPEN", "not a command"),
        (_comment(), "/rebuild", "CLOSED", "pull request is closed or merged"),
    ],
    ids=["bot", "prose", "closed"],
)
def test_rebuild_is_ignored_from_the_bot_in_prose_or_on_a_closed_pull_request(
    event: CommentEvent, content: str, status: str, reason: str
) -> None:
    result, codebuild = _rebuild(event, content, status)
    assert (result.outcome, result.reason) == (Outcome.IGNORED, reason)
    assert codebuild.started == []


@dataclass
class PartlyMissingCodeBuild(FakeCodeBuild):
    missing: tuple[str, ...] = ()

    def start_build(
        self, project: str, source_version: str, variables: Mapping[str, str], idempotency_token: str
    ) -> str:
        if project in self.missing:
            raise TargetGone(f"StartBuild of {project}: ResourceNotFoundException")
        return super().start_build(project, source_version, variables, idempotency_token)


def test_a_missing_project_is_named_and_the_others_still_start() -> None:
    codebuild = PartlyMissingCodeBuild(missing=("payments-service-lint",))
    result = handle(
        _event("created.json"),
        _ports(catalog=CATALOG, starter=codebuild, voter=FakeVoter(), once=FakeOnce(), ledger=FakeLedger()),
        Options(),
    )
    assert result.outcome is Outcome.STARTED
    assert list(result.builds) == ["payments-service-ci"]
    assert result.missing == ("payments-service-lint",)


def test_a_repository_without_any_project_is_ignored_quietly() -> None:
    codebuild = PartlyMissingCodeBuild(missing=("payments-service-ci", "payments-service-lint"))
    result = handle(
        _event("created.json"),
        _ports(catalog=CATALOG, starter=codebuild, voter=FakeVoter(), once=FakeOnce(), ledger=FakeLedger()),
        Options(),
    )
    assert (result.outcome, result.reason) == (Outcome.IGNORED, "no configured project exists")
    assert result.missing == ("payments-service-ci", "payments-service-lint")


def test_every_started_build_is_recorded_for_its_revision_and_only_allowed_projects_start() -> None:
    # Given a repository whose convention names a CI project and a deploy project
    catalog = ConfiguredProjects(ProjectScope(conventions=("{repository}-ci", "{repository}-deploy")))
    codebuild, ledger = FakeCodeBuild(), FakeLedger()
    # When a pull request is created, and this function may start only *-ci projects
    result = handle(
        _event("created.json"),
        _ports(catalog=catalog, starter=codebuild, voter=FakeVoter(), once=FakeOnce(), ledger=ledger),
        Options(startable=("*-ci",)),
    )
    # Then the deploy project is refused (never started with the PR's code), and the CI build is
    # recorded with the revision it was started for: the build results function believes only that
    assert [start[0] for start in codebuild.started] == ["payments-service-ci"]
    assert result.refused == ("payments-service-deploy",)
    assert result.missing == ()
    ((started_for, project, build_id),) = ledger.builds
    assert (project, build_id) == ("payments-service-ci", "payments-service-ci:build-1")
    assert started_for.repository == "payments-service"
    assert started_for.pull_request_id == "42"
    assert started_for.source_commit == "4f1c2a9b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b"
    assert started_for.projects == ("payments-service-ci", "payments-service-deploy")
