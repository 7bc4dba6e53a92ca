"""Decide which builds a pull request event starts, with the pull request's context as build variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from fnmatch import fnmatchcase
from typing import Any, NamedTuple, Protocol

from codereflex.ci.pullrequests import (
    VAR_DESTINATION_COMMIT,
    VAR_PROJECTS,
    VAR_PULL_REQUEST_ID,
    VAR_REPOSITORY_NAME,
    VAR_REVISION_ID,
    VAR_SOURCE_COMMIT,
    Comment,
    PullRequest,
    token,
)
from codereflex.errors import TargetGone
from codereflex.events.pull_requests import COMMENT_ON_PULL_REQUEST, CommentEvent, PullRequestStateChangeEvent
from codereflex.events.reading import Fields
from codereflex.ports import Once, ProjectCatalog
from codereflex.report import Count, Line, Report
from codereflex.revisions import StartedFor

REBUILD_COMMAND = "/rebuild"

# A new revision of an open pull request: these start builds (a reopened PR arrives as a status change).
NEW_REVISION_EVENTS = frozenset({"pullRequestCreated", "pullRequestSourceBranchUpdated", "pullRequestStatusChanged"})


class Starter(Protocol):
    def start_build(
        self, project: str, source_version: str, variables: Mapping[str, str], idempotency_token: str
    ) -> str: ...


class Voter(Protocol):
    def vote(self, pull_request_id: str, revision_id: str, approve: bool) -> bool: ...


class Ledger(Protocol):
    """Where the build results function learns which builds codereflex started, for which revision."""

    def started(self, started_for: StartedFor, project: str, build_id: str) -> None: ...


class PullRequests(Protocol):
    def get_pull_request(self, pull_request_id: str) -> PullRequest: ...


class CommentReader(Protocol):
    def get(self, comment_id: str) -> Comment: ...


class Ports(NamedTuple):
    catalog: ProjectCatalog
    starter: Starter
    voter: Voter
    once: Once
    ledger: Ledger
    comments: CommentReader
    pull_requests: PullRequests


class Options(NamedTuple):
    """What the settings tell the logic (codereflex.ci.projects.ProjectScope is read by the catalog)."""

    bot_roles: tuple[str, ...] = ()  # codereflex's commenting roles: their comments are never commands
    startable: tuple[str, ...] = ("*",)  # project names this function may start (its IAM policy's)


class Outcome(Enum):
    STARTED = "started"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    reason: str = ""
    builds: dict[str, str] = field(default_factory=dict)  # project → build id
    revoked: bool = False
    missing: tuple[str, ...] = ()  # configured projects CodeBuild does not know
    refused: tuple[str, ...] = ()  # configured projects outside what this function may start
    about: tuple[str | None, str, str] = (None, "", "")  # pull request id, repository, event

    def report(self) -> Report:
        pull_request_id, repository, what = self.about
        fields = {
            "outcome": self.outcome.value,
            "reason": self.reason,
            "pull_request_id": pull_request_id,
            "repository": repository,
            "pull_request_event": what,
            "builds": self.builds,
            "revoked": self.revoked,
            "missing_projects": self.missing,
            "refused_projects": self.refused,
        }
        counts = [Count(f"PullRequests.{self.outcome.value}")]
        if self.builds and self.outcome is Outcome.STARTED:
            counts.append(Count("BuildsStarted", len(self.builds)))
        if self.revoked:
            counts.append(Count("Revocations"))
        response = {
            "outcome": self.outcome.value,
            "reason": self.reason,
            "builds": self.builds,
            "revoked": self.revoked,
        }
        return Report(response, (Line("Pull request event handled", fields),), tuple(counts))


def read(event: Any) -> PullRequestStateChangeEvent | CommentEvent:
    """The function's two triggers: a pull request's new revision, or a comment on it (`/rebuild`)."""
    if Fields(event, "").value("detail-type") == COMMENT_ON_PULL_REQUEST:
        return CommentEvent.read(event)
    return PullRequestStateChangeEvent.read(event)


def handle(event: PullRequestStateChangeEvent | CommentEvent, ports: Ports, options: Options) -> Result:
    """Start the pull request's builds for a new revision, or again for a `/rebuild` comment."""
    if isinstance(event, CommentEvent):
        result = on_comment(event, ports, options)
    else:
        result = on_revision(event, ports, options)
    change = event.detail
    return replace(result, about=(change.pull_request_id, change.repository_name, change.event))


def build_variables(envelope: PullRequestStateChangeEvent, projects: tuple[str, ...]) -> dict[str, str]:
    """What a build needs to know to report back: the pull request, its revision and the sibling projects."""
    change = envelope.detail
    return {
        VAR_PULL_REQUEST_ID: change.pull_request_id,
        VAR_REPOSITORY_NAME: change.repository_name,
        VAR_SOURCE_COMMIT: change.source_commit,
        VAR_DESTINATION_COMMIT: change.destination_commit,
        VAR_REVISION_ID: change.revision_id or change.source_commit,
        VAR_PROJECTS: ",".join(projects),
    }


def startable(project: str, patterns: tuple[str, ...]) -> bool:
    """Whether this function may start `project`: the names its IAM policy allows (`*-ci`; `*` matches any)."""
    return any(fnmatchcase(project, pattern) for pattern in patterns)


def on_revision(envelope: PullRequestStateChangeEvent, ports: Ports, options: Options) -> Result:
    """Start each configured project once per pull request revision; revoke the bot's vote on a new revision."""
    change = envelope.detail
    catalog = ports.catalog
    if change.event not in NEW_REVISION_EVENTS:
        return Result(Outcome.IGNORED, f"event {change.event} brings no new revision")
    if not change.is_open:
        return Result(Outcome.IGNORED, "pull request is closed or merged")
    if not catalog.in_scope(change.repository_name):
        return Result(Outcome.IGNORED, "repository out of scope")
    projects = catalog.projects_for(change.repository_name)
    if not projects:
        return Result(Outcome.IGNORED, "no build project configured for the repository")
    variables = build_variables(envelope, projects)
    revision = change.revision_id or change.source_commit
    target = PullRequest(
        change.pull_request_id,
        change.repository_name,
        "OPEN",
        change.source_commit,
        change.destination_commit,
        revision,
    )
    started_for = StartedFor(
        change.repository_name,
        change.pull_request_id,
        change.revision_id or "",
        change.source_commit,
        change.destination_commit,
        projects,
    )
    refused = tuple(p for p in projects if not startable(p, options.startable))
    builds, started_any = _start_all(target, started_for, projects, variables, ports, refused=refused)
    missing = tuple(project for project in projects if project not in builds and project not in refused)
    if not builds:
        return Result(Outcome.IGNORED, "no configured project exists", missing=missing, refused=refused)
    revoked = False
    if started_any and change.event != "pullRequestCreated" and change.revision_id:
        # A new revision starts without approvals in CodeCommit; revoking states the bot's intent anyway.
        revoked = ports.voter.vote(change.pull_request_id, change.revision_id, approve=False)
    return Result(Outcome.STARTED if started_any else Outcome.DUPLICATE, "", builds, revoked, missing, refused)


def _start_all(
    pull_request: PullRequest,
    started_for: StartedFor,
    projects: tuple[str, ...],
    variables: Mapping[str, str],
    ports: Ports,
    *,
    refused: tuple[str, ...] = (),
    occasion: str = "",
) -> tuple[dict[str, str], bool]:
    builds: dict[str, str] = {}
    started_any = False
    for project in projects:
        if project in refused:
            # Not a project this function may start (its IAM policy would refuse it too): a deploy
            # project named by a convention or the mapping must never run a pull request's code.
            continue
        # One build per (pull request, revision, project[, rebuild comment]), however often the event
        # is delivered: the idempotency record covers redeliveries hours apart, CodeBuild's token 5 minutes.
        key = "|".join([pull_request.repository_name, pull_request.pull_request_id, pull_request.revision_id, project])
        key += occasion
        request_token = token("codereflex-pr-builds", key)

        def start(project: str = project, request_token: str = request_token) -> str:
            build_id = ports.starter.start_build(project, pull_request.source_commit, variables, request_token)
            # Recorded before the start counts as done: a failure here retries, and CodeBuild's token
            # returns the same build. Only builds recorded here ever count for the pull request.
            ports.ledger.started(started_for, project, build_id)
            return build_id

        try:
            build_id, ran = ports.once.run_once(key, start)
        except TargetGone:
            # A project the convention names but nobody created: the others still run, and the
            # result names it (its absence keeps the approval vote from ever passing, on purpose).
            continue
        builds[project] = build_id
        started_any = started_any or ran
    return builds, started_any


def is_bot(caller_arn: str | None, bot_roles: tuple[str, ...]) -> bool:
    """Whether a caller is one of codereflex's own roles (an assumed-role session of it)."""
    if not caller_arn:
        return False
    resource = caller_arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    return kind in ("assumed-role", "role") and rest.split("/", 1)[0] in bot_roles


def _not_a_command(
    envelope: CommentEvent, bot_roles: tuple[str, ...], catalog: ProjectCatalog, comments: CommentReader
) -> str | None:
    """Why a comment event is no `/rebuild` command, or None when it is one (costs one GetComment)."""
    change = envelope.detail
    if change.event != "commentOnPullRequestCreated" or not change.pull_request_id:
        return f"event {change.event} is no new pull request comment"
    if is_bot(change.caller_user_arn, bot_roles):
        return "comment made by codereflex itself"
    if not catalog.in_scope(change.repository_name):
        return "repository out of scope"
    comment = comments.get(change.comment_id)
    words = comment.content.strip().split()
    if comment.deleted or not words or words[0] != REBUILD_COMMAND:
        return "not a command"
    return None


def on_comment(envelope: CommentEvent, ports: Ports, options: Options) -> Result:
    """`/rebuild` on a pull request starts its projects again at the current revision."""
    change = envelope.detail
    catalog = ports.catalog
    refusal = _not_a_command(envelope, options.bot_roles, catalog, ports.comments)
    if refusal is not None or not change.pull_request_id:
        return Result(Outcome.IGNORED, refusal or "no pull request")
    pull_request = ports.pull_requests.get_pull_request(change.pull_request_id)
    if pull_request.repository_name != change.repository_name:
        return Result(Outcome.IGNORED, "the pull request belongs to another repository")
    if not pull_request.is_open:
        return Result(Outcome.IGNORED, "pull request is closed or merged")
    projects = catalog.projects_for(pull_request.repository_name)
    variables = {
        VAR_PULL_REQUEST_ID: pull_request.pull_request_id,
        VAR_REPOSITORY_NAME: pull_request.repository_name,
        VAR_SOURCE_COMMIT: pull_request.source_commit,
        VAR_DESTINATION_COMMIT: pull_request.destination_commit,
        VAR_REVISION_ID: pull_request.revision_id,
        VAR_PROJECTS: ",".join(projects),
    }
    started_for = StartedFor(
        pull_request.repository_name,
        pull_request.pull_request_id,
        pull_request.revision_id,
        pull_request.source_commit,
        pull_request.destination_commit,
        projects,
    )
    refused = tuple(p for p in projects if not startable(p, options.startable))
    builds, started_any = _start_all(
        pull_request, started_for, projects, variables, ports, refused=refused, occasion=f"|rebuild:{change.comment_id}"
    )
    missing = tuple(project for project in projects if project not in builds and project not in refused)
    if not builds:
        return Result(Outcome.IGNORED, "no configured project exists", missing=missing, refused=refused)
    outcome = Outcome.STARTED if started_any else Outcome.DUPLICATE
    return Result(outcome, "rebuild", builds, missing=missing, refused=refused)
