"""Fold a CodeBuild state change into the target's living comment, and vote on the pull request revision.

Trust: comment state is read only from comments this function wrote (author and signature), a
pull request build only counts when the PR builds function started it for that revision (the
revision record says so), and the vote is re-derived from that record on every event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from enum import Enum
from typing import NamedTuple, Protocol

from codereflex.ci import (
    VAR_PULL_REQUEST_ID,
    VAR_REPOSITORY_NAME,
    VAR_REVISION_ID,
    Build,
    Comment,
    PullRequest,
    Report,
    TestCase,
    repository_from_source,
    token,
)
from codereflex.errors import PermanentError, TransientError
from codereflex.events.codebuild import BuildStateChange, BuildStateChangeEvent
from codereflex.identity import same_principal
from codereflex.revisions import RevisionRecord, Run, StartedFor, rank, revision_key
from codereflex.signing import Signer

from .render import FAILURES, CommentState, Details, Summary, build_link, render, replace_footer

FULL_COMMIT = frozenset("0123456789abcdef")
COMMIT_LENGTH = 40
# How often a writer that lost the claim on a comment reads it again before Lambda's retry takes over.
CLAIM_ATTEMPTS = 6
# How often a vote is cast again when the record read back no longer supports it.
VOTE_ROUNDS = 3


class PullRequests(Protocol):
    def get_pull_request(self, pull_request_id: str) -> PullRequest: ...

    def vote(self, pull_request_id: str, revision_id: str, approve: bool) -> bool: ...


class Comments(Protocol):
    def pull_request_comments(self, pull_request_id: str) -> list[Comment]: ...

    def commit_comments(self, repository: str, before: str | None, after: str) -> list[Comment]: ...

    def post_on_pull_request(self, pull_request: PullRequest, content: str, client_request_token: str) -> Comment: ...

    def post_on_commit(
        self, repository: str, before: str | None, after: str, content: str, client_request_token: str
    ) -> Comment: ...

    def update(self, comment_id: str, content: str) -> Comment: ...


class Commits(Protocol):
    def first_parent(self, repository: str, commit_id: str) -> str | None: ...


class Builds(Protocol):
    def get_build(self, build_id: str) -> Build: ...

    def get_builds(self, build_ids: Sequence[str]) -> list[Build]: ...

    def get_reports(self, report_arns: Sequence[str]) -> list[Report]: ...

    def failing_tests(self, report: Report, limit: int) -> list[TestCase]: ...


class Logs(Protocol):
    def last_lines(self, group: str, stream: str, limit: int) -> list[str]: ...


class Catalog(Protocol):
    def in_scope(self, repository: str) -> bool: ...

    def projects_for(self, repository: str) -> tuple[str, ...]: ...


class Revisions(Protocol):
    """Each PR revision's record: the builds the PR builds function started, each project's latest run."""

    def record_run(self, key: str, project: str, run: Run) -> RevisionRecord | None: ...

    def read(self, key: str) -> RevisionRecord: ...


class Claims(Protocol):
    """Serialises writers of one comment: claim the next version before writing it."""

    def claim(self, target: str, project: str, seen: int) -> bool: ...


class Policy(Enum):
    ALWAYS = "always"
    FAILURES_AND_CHANGES = "failures-and-changes"
    OFF = "off"


class Outcome(Enum):
    POSTED = "posted"
    UPDATED = "updated"
    DUPLICATE = "duplicate"  # nothing new: a redelivered or older state
    SKIPPED = "skipped"  # the comment policy says no comment
    IGNORED = "ignored"  # not ours: unknown project, repository out of scope, not started by codereflex


class Options(NamedTuple):
    policy: Policy = Policy.ALWAYS
    max_failed_tests: int = 10
    log_lines: int = 30


class Trust(NamedTuple):
    """What tells codereflex's own comments from anybody else's."""

    identity: str  # this function's own ARN: only its comments carry state
    signer: Signer  # and only state it signed


class Ports(NamedTuple):
    pull_requests: PullRequests
    comments: Comments
    commits: Commits
    builds: Builds
    logs: Logs
    catalog: Catalog
    revisions: Revisions
    claims: Claims
    trust: Callable[[], Trust]  # asked only when comments are read (once per execution environment)
    pause: Callable[[float], None] = time.sleep


class Result(NamedTuple):
    outcome: Outcome
    reason: str = ""
    target: str | None = None
    vote: str | None = None  # "APPROVE" or "REVOKE" when a vote was cast


class _Exit(Exception):
    """An early, final answer for the event (not an error)."""

    def __init__(self, result: Result) -> None:
        super().__init__(result.reason)
        self.result = result


class _Target(NamedTuple):
    key: str
    repository: str
    commit: str
    configured: tuple[str, ...]
    pull_request: PullRequest | None = None
    parent: str | None = None
    # True when the pull request was not fetched: it is the one the build was started for, maybe not the current.
    from_build: bool = False
    record: RevisionRecord | None = None  # pull request targets: the revision's record, with this run in it


def _is_full_commit(value: str | None) -> bool:
    return value is not None and len(value) == COMMIT_LENGTH and set(value) <= FULL_COMMIT


def comment_token(target: str, project: str) -> str:
    """One token per (target, project): a second post for the pair can never create a second comment."""
    return token("codereflex-build-results", target, project)


def handle(envelope: BuildStateChangeEvent, ports: Ports, options: Options) -> Result:
    """Update the living comment for this build's (target, project) and vote on the PR revision."""
    try:
        return _handle(envelope, ports, options)
    except _Exit as done:
        return done.result


def _handle(envelope: BuildStateChangeEvent, ports: Ports, options: Options) -> Result:
    detail = envelope.detail
    project = detail.project_name
    target, run, build = _resolve(envelope, ports)
    record = target.record
    record_news = record is not None and record.changed

    comments: dict[str, tuple[Comment, CommentState]] = {}
    if options.policy is not Policy.OFF:
        comments = _our_comments(ports, target, project)
    existing_comment, existing_state = comments.get(project, (None, None))
    if record is not None and not record.changed and existing_comment is None:
        newest = record.runs.get(project)
        if newest is not None and _is_news_after(newest, run):
            # A newer run of this project is recorded and nothing shows this one: it is history.
            raise _Exit(Result(Outcome.DUPLICATE, "older than what is recorded", target.key))
    merged = (existing_state or CommentState(target=target.key, project=project)).merge(run)
    writes_comment = merged is not None and (
        existing_comment is not None or _policy_allows_new_comment(options.policy, detail.build_status)
    )
    if not writes_comment and not record_news:
        if record is None and merged is not None:  # a commit's build, under a policy that shows none
            raise _Exit(Result(Outcome.SKIPPED, f"comment policy {options.policy.value}", target.key))
        raise _Exit(Result(Outcome.DUPLICATE, "not newer than what is known", target.key))

    if target.from_build and detail.build_status == "SUCCEEDED":
        target = _current(ports, target)
    if writes_comment:
        outcome = _write_comment(envelope, ports, options, target, run=run, build=build, comments=comments)
    else:
        outcome = Outcome.SKIPPED if merged is not None else Outcome.DUPLICATE
    vote = _vote(ports, target, project)
    reason = f"comment policy {options.policy.value}" if outcome is Outcome.SKIPPED else ""
    return Result(outcome, reason, target.key, vote)


def _run(envelope: BuildStateChangeEvent, commit: str) -> Run:
    detail = envelope.detail
    info = detail.additional_information
    return Run(
        build_id=detail.build_id.rsplit(":", 1)[-1],  # the build's uuid, as the revision record keeps it
        status=detail.build_status,
        commit=commit,
        started=(info.build_start_time or envelope.time).isoformat(),
        number=int(info.build_number) if info.build_number is not None else None,
    )


def _resolve(envelope: BuildStateChangeEvent, ports: Ports) -> tuple[_Target, Run, Build | None]:
    """What the build is about (pull request or commit), its run, and which projects count; or why it is ignored."""
    detail = envelope.detail
    info = detail.additional_information
    variables = info.variables()
    source_repository = repository_from_source(info.source.location)
    pull_request_id = variables.get(VAR_PULL_REQUEST_ID, "").strip()
    if pull_request_id:
        # The variables are only a hint of where to look: anybody can start a build with them.
        target = _pull_request_target(envelope, ports, source_repository, pull_request_id)
        return target, _run(envelope, target.commit), None
    repository = source_repository
    if not repository:
        raise _Exit(Result(Outcome.IGNORED, "the build names no CodeCommit repository"))
    if not ports.catalog.in_scope(repository):
        raise _Exit(Result(Outcome.IGNORED, "repository out of scope"))
    configured = ports.catalog.projects_for(repository)
    if detail.project_name not in configured:
        raise _Exit(Result(Outcome.IGNORED, "project not configured for the repository"))
    build = None
    commit = info.resolved_source_version or info.source_version or ""
    if not _is_full_commit(commit):
        # A branch name (or nothing): only BatchGetBuilds knows the commit it resolved to.
        build = ports.builds.get_build(detail.build_id)
        commit = build.resolved_source_version or ""
    if not _is_full_commit(commit):
        raise _Exit(Result(Outcome.IGNORED, "no commit to comment on yet"))
    parent = ports.commits.first_parent(repository, commit)
    target = _Target(f"commit:{repository}:{commit}", repository, commit, configured, parent=parent)
    return target, _run(envelope, commit), build


def _pull_request_target(
    envelope: BuildStateChangeEvent, ports: Ports, source_repository: str | None, pull_request_id: str
) -> _Target:
    """The pull request a build was started for, believed only when the revision record names this build."""
    detail = envelope.detail
    info = detail.additional_information
    variables = info.variables()
    repository = variables.get(VAR_REPOSITORY_NAME, "").strip()
    revision = variables.get(VAR_REVISION_ID, "").strip()
    if not repository or not revision:
        raise _Exit(Result(Outcome.IGNORED, "the build names a pull request but not its repository and revision"))
    if source_repository is not None and source_repository != repository:
        raise _Exit(Result(Outcome.IGNORED, "the build's source is not the pull request's repository"))
    if not ports.catalog.in_scope(repository):
        raise _Exit(Result(Outcome.IGNORED, "repository out of scope"))
    commit = info.resolved_source_version or info.source_version or ""
    if not _is_full_commit(commit):
        raise _Exit(Result(Outcome.IGNORED, "the build is of no commit"))
    key = f"pr:{repository}:{pull_request_id}"
    # One conditional write: records the run only if the PR builds function started this build of
    # this project for this revision, at its source commit; returns every project's latest run.
    record = ports.revisions.record_run(
        revision_key(repository, pull_request_id, revision), detail.project_name, _run(envelope, commit)
    )
    started = record.started_for if record is not None else None
    if record is None or started is None:
        raise _Exit(Result(Outcome.IGNORED, "build not started by codereflex for this pull request revision", key))
    if (started.repository, started.pull_request_id) != (repository, pull_request_id):
        raise _Exit(Result(Outcome.IGNORED, "build not started by codereflex for this pull request revision", key))
    # The pull request as the build was started for it: enough for anything but a success (see _current).
    return _Target(key, repository, commit, started.projects, _as_started(started), from_build=True, record=record)


def _current(ports: Ports, target: _Target) -> _Target:
    """A success's target with the pull request as it is now: whether it moved on, and is still open."""
    assert target.pull_request is not None  # noqa: S101 - only pull request targets come here
    pull_request = ports.pull_requests.get_pull_request(target.pull_request.pull_request_id)
    if pull_request.repository_name != target.repository:
        raise _Exit(Result(Outcome.IGNORED, "the pull request belongs to another repository", target.key))
    return target._replace(pull_request=pull_request, from_build=False)


def _as_started(started: StartedFor) -> PullRequest:
    return PullRequest(
        started.pull_request_id,
        started.repository,
        "OPEN",
        started.source_commit,
        started.destination_commit,
        started.revision_id,
    )


def _our_comments(ports: Ports, target: _Target, project: str) -> dict[str, tuple[Comment, CommentState]]:
    """Each project's comment by this function on the target, with the state it signed.

    A comment of ours for this project whose state is not readable (an earlier release's, or a
    rotated key's) is still the one to edit: it is found by its post token and rewritten from nothing.
    """
    if target.pull_request is not None:
        found = ports.comments.pull_request_comments(target.pull_request.pull_request_id)
    else:
        found = ports.comments.commit_comments(target.repository, target.parent, target.commit)
    ours: dict[str, tuple[Comment, CommentState]] = {}
    request_token = comment_token(target.key, project)
    trust = ports.trust()
    for comment in found:
        if comment.deleted or not same_principal(comment.author_arn, trust.identity):
            continue
        state = CommentState.decode(comment.content, trust.signer)
        if state is not None and state.target == target.key:
            ours[state.project] = (comment, state)
        elif comment.client_request_token == request_token and project not in ours:
            ours[project] = (comment, CommentState(target=target.key, project=project))
    return ours


def _write_comment(
    envelope: BuildStateChangeEvent,
    ports: Ports,
    options: Options,
    target: _Target,
    *,
    run: Run,
    build: Build | None,
    comments: dict[str, tuple[Comment, CommentState]],
) -> Outcome:
    """Render and write the project's comment; a writer that loses the claim to another reads it again."""
    detail = envelope.detail
    project = detail.project_name
    details: Details | None = None
    for attempt in range(CLAIM_ATTEMPTS):
        existing_comment, existing_state = comments.get(project, (None, None))
        merged = (existing_state or CommentState(target=target.key, project=project)).merge(run)
        if merged is None:
            return Outcome.DUPLICATE  # the writer that won the claim wrote this run already
        seen = merged.version
        merged = merged._replace(version=seen + 1)
        others = {name: state for name, (_, state) in comments.items() if name != project}
        if target.record is not None:
            others = _with_recorded(others, target.record, target.key, project)
        summary = Summary(states=tuple(others.values()), configured=target.configured)
        current = merged.current
        if existing_comment is not None and current is not None and current.build_id != run.build_id:
            # An older build's late news: only the history line and the table change.
            content = replace_footer(existing_comment.content, merged, summary, ports.trust().signer)
        else:
            if details is None:
                if build is None and detail.is_terminal:
                    build = ports.builds.get_build(detail.build_id)
                details = _details(envelope, build, target, ports, options, newer_commit=_newer_commit(run, others))
            if build is not None and build.number is not None:
                merged = _with_number(merged, run.build_id, build.number)
            content = render(
                merged, details, summary, options.max_failed_tests, options.log_lines, signer=ports.trust().signer
            )
        if ports.claims.claim(target.key, project, seen):
            return _write(ports, target, project, existing_comment, content)
        ports.pause(0.2 * (attempt + 1))
        comments = _our_comments(ports, target, project)
    raise TransientError(f"another event kept the comment of {project} on {target.key} busy")


def _vote(ports: Ports, target: _Target, project: str) -> str | None:
    """APPROVE when every project the revision was started with succeeded on it, else REVOKE; None when moot.

    Derived from the revision record alone (what codereflex itself started and recorded), on
    every event that told something new, and read back after every vote: an event handled at the
    same moment may have recorded a run since (a failure, or the success this one was missing),
    so a vote the record no longer supports is cast again, the other way. A REVOKE is sent
    whatever the bot believes it holds (one idempotent call); if the record will not settle, the
    last word is a REVOKE.
    """
    pull_request, record = target.pull_request, target.record
    if pull_request is None or record is None or record.started_for is None:
        return None
    started = record.started_for
    if not started.revision_id or not pull_request.is_open or pull_request.revision_id != started.revision_id:
        return None  # closed, merged, or a newer revision: this revision's vote is moot
    confirmed: dict[str, str] = {}
    approve = False
    for _ in range(VOTE_ROUNDS):
        approve = _approvable(ports, record, project, confirmed)
        if not ports.pull_requests.vote(started.pull_request_id, started.revision_id, approve):
            return None
        record = ports.revisions.read(started.key)
        if _approvable(ports, record, project, confirmed) == approve:
            return "APPROVE" if approve else "REVOKE"
    if approve:
        ports.pull_requests.vote(started.pull_request_id, started.revision_id, False)
    return "REVOKE"


def _approvable(ports: Ports, record: RevisionRecord, project: str, confirmed: dict[str, str]) -> bool:
    """Whether every project's latest recorded run succeeded (or CodeBuild says that very build did).

    Sibling projects finishing at the same moment each see the other still running: then CodeBuild,
    whose answer is ahead of the events still in flight, is asked (one call, only then; remembered).
    """
    assert record.started_for is not None  # noqa: S101 - only records of started builds are voted on
    projects = record.started_for.projects
    seen = _statuses(record, projects)
    running = [
        f"{p}:{r.build_id}"
        for p, r in _runs(record, projects).items()
        if seen[p] == "IN_PROGRESS" and r.build_id not in confirmed
    ]
    siblings_pending = all(status in ("SUCCEEDED", "IN_PROGRESS") for status in seen.values())
    if seen.get(project) == "SUCCEEDED" and running and siblings_pending:
        confirmed.update({b.build_id.rsplit(":", 1)[-1]: b.status for b in ports.builds.get_builds(running)})
    return _all_succeeded(record, projects, confirmed)


def _runs(record: RevisionRecord, projects: Sequence[str]) -> dict[str, Run]:
    return {p: record.runs[p] for p in projects if p in record.runs}


def _statuses(record: RevisionRecord, projects: Sequence[str]) -> dict[str, str | None]:
    return {p: (record.runs[p].status if p in record.runs else None) for p in projects}


def _all_succeeded(record: RevisionRecord, projects: Sequence[str], confirmed: dict[str, str]) -> bool:
    """Every project's latest recorded run succeeded (or CodeBuild confirmed that very build did)."""
    if not projects:
        return False
    for project in projects:
        run = record.runs.get(project)
        if run is None:
            return False
        if run.status != "SUCCEEDED" and confirmed.get(run.build_id) != "SUCCEEDED":
            return False
    return True


def _is_news_after(later: Run, run: Run) -> bool:
    """Whether `later` is newer than `run`: a later build, or the same build further on."""
    if later.build_id == run.build_id:
        return rank(later.status) > rank(run.status)
    return later.order > run.order


def _with_recorded(
    others: dict[str, CommentState], record: RevisionRecord, target_key: str, project: str
) -> dict[str, CommentState]:
    """The comments' states, with each project's recorded run where it is newer than what its comment shows."""
    merged = dict(others)
    for name, recorded in record.runs.items():
        if name == project:
            continue
        known = merged.get(name) or CommentState(target=target_key, project=name)
        newer = known.merge(recorded)
        if newer is not None:
            merged[name] = newer
    return merged


def _newer_commit(run: Run, others: dict[str, CommentState]) -> str | None:
    """A commit some project built after this run started, when this run's commit is not it (the PR moved on)."""
    later = [s.current for s in others.values() if s.current is not None and s.current.order > run.order]
    later = [r for r in later if r is not None and r.commit != run.commit]
    return max(later, key=lambda r: r.order).commit if later else None


def _write(ports: Ports, target: _Target, project: str, existing: Comment | None, content: str) -> Outcome:
    comments = ports.comments
    if existing is not None:
        comments.update(existing.comment_id, content)
        return Outcome.UPDATED
    request_token = comment_token(target.key, project)
    if target.pull_request is not None:
        try:
            comments.post_on_pull_request(target.pull_request, content, request_token)
        except PermanentError:
            if not target.from_build:
                raise
            # CodeCommit documents afterCommitId as the PR's tip "when you post the comment": if it
            # refuses the commits the build was started for, post against the current ones.
            current = ports.pull_requests.get_pull_request(target.pull_request.pull_request_id)
            if (current.source_commit, current.destination_commit) == (
                target.pull_request.source_commit,
                target.pull_request.destination_commit,
            ):
                raise
            comments.post_on_pull_request(current, content, request_token)
    else:
        comments.post_on_commit(target.repository, target.parent, target.commit, content, request_token)
    return Outcome.POSTED


def _policy_allows_new_comment(policy: Policy, status: str) -> bool:
    if policy is Policy.OFF:
        return False
    if policy is Policy.FAILURES_AND_CHANGES:
        return status in FAILURES
    return True


def _with_number(state: CommentState, build_id: str, number: int) -> CommentState:
    runs = tuple(r._replace(number=number) if r.build_id == build_id else r for r in state.runs)
    return state._replace(runs=runs)


def _details(
    envelope: BuildStateChangeEvent,
    build: Build | None,
    target: _Target,
    ports: Ports,
    options: Options,
    *,
    newer_commit: str | None = None,
) -> Details:
    detail = envelope.detail
    info = detail.additional_information
    failed_phase, failed_message = _failed_phase(detail, build)
    reports: list[Report] = []
    failing: list[TestCase] = []
    lines: list[str] = []
    if build is not None and detail.is_terminal:
        reports = ports.builds.get_reports(build.report_arns)
        for report in reports:
            if len(failing) >= options.max_failed_tests:
                break
            if report.report_type == "TEST" and report.tally("FAILED"):
                failing += ports.builds.failing_tests(report, options.max_failed_tests - len(failing))
        group = build.log_group or info.logs.group_name
        stream = build.log_stream or info.logs.stream_name
        if detail.build_status in FAILURES and group and stream and options.log_lines:
            lines = ports.logs.last_lines(group, stream, options.log_lines)
    pull_request = target.pull_request
    outdated = None
    if target.from_build:
        # The pull request was not fetched: what the other projects' runs say is all that is known.
        outdated = newer_commit
    elif pull_request is not None and pull_request.source_commit and pull_request.source_commit != target.commit:
        outdated = pull_request.source_commit
    return Details(
        region=envelope.region,
        build=build,
        build_link=build_link(envelope.region, detail.build_id),
        log_link=(build.log_link if build is not None else None) or _real_link(info.logs.deep_link),
        reports=reports,
        failing_tests=failing,
        log_lines=lines,
        failed_phase=failed_phase,
        failed_message=failed_message,
        duration_seconds=_duration(detail, build),
        outdated_by=outdated,
        label="pull request" if pull_request is not None else "branch",
    )


def _real_link(link: str | None) -> str | None:
    # Before PROVISIONING the event's deep link only points at the list of log groups.
    return link if link and "logEvent:" in link else None


def _failed_phase(detail: BuildStateChange, build: Build | None) -> tuple[str | None, str | None]:
    if build is not None:
        for phase in build.phases:
            if phase.status not in (None, "SUCCEEDED"):
                return phase.phase_type, "; ".join(c for c in phase.contexts if c.strip(" :")) or None
    for event_phase in detail.additional_information.phases:
        if event_phase.phase_status not in (None, "SUCCEEDED"):
            contexts = [c for c in event_phase.phase_context if c.strip(" :")]
            return event_phase.phase_type, "; ".join(contexts) or None
    return None, None


def _duration(detail: BuildStateChange, build: Build | None) -> float | None:
    if build is not None and build.start_time is not None and build.end_time is not None:
        return (build.end_time - build.start_time).total_seconds()
    phases = detail.additional_information.phases
    if phases and any(p.duration_in_seconds is not None for p in phases):
        return float(sum(p.duration_in_seconds or 0 for p in phases))
    return None
