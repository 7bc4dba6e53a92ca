"""Fold a CodeBuild state change into the target's living comment, and vote on the pull request revision."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import NamedTuple, Protocol

from codereflex.ci import (
    VAR_DESTINATION_COMMIT,
    VAR_PROJECTS,
    VAR_PULL_REQUEST_ID,
    VAR_REPOSITORY_NAME,
    VAR_REVISION_ID,
    VAR_SOURCE_COMMIT,
    Build,
    Comment,
    PullRequest,
    Report,
    TestCase,
    repository_from_source,
    token,
)
from codereflex.config import split_list
from codereflex.errors import PermanentError
from codereflex.events.codebuild import BuildStateChange, BuildStateChangeEvent

from .render import (
    FAILURES,
    CommentState,
    Details,
    RevisionRecord,
    Run,
    Summary,
    Vote,
    build_link,
    rank,
    render,
    replace_footer,
)

FULL_COMMIT = frozenset("0123456789abcdef")
COMMIT_LENGTH = 40


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


class Records(Protocol):
    """Each PR revision's latest run per project and last vote, kept where the vote reads them whatever is commented."""

    def record(self, key: str, project: str, run: Run) -> RevisionRecord: ...

    def read(self, key: str) -> RevisionRecord: ...

    def record_vote(self, key: str, vote: Vote) -> None: ...


class Policy(Enum):
    ALWAYS = "always"
    FAILURES_AND_CHANGES = "failures-and-changes"
    OFF = "off"


class Outcome(Enum):
    POSTED = "posted"
    UPDATED = "updated"
    DUPLICATE = "duplicate"  # nothing new: a redelivered or older state
    SKIPPED = "skipped"  # the comment policy says no comment
    IGNORED = "ignored"  # not ours: unknown project, repository out of scope, nothing to comment on


class Options(NamedTuple):
    policy: Policy = Policy.ALWAYS
    max_failed_tests: int = 10
    log_lines: int = 30


class Ports(NamedTuple):
    pull_requests: PullRequests
    comments: Comments
    commits: Commits
    builds: Builds
    logs: Logs
    catalog: Catalog
    records: Records | None = None  # needed by every comment policy but `always`


class Result(NamedTuple):
    outcome: Outcome
    reason: str = ""
    target: str | None = None
    vote: str | None = None  # "APPROVE" or "REVOKE" when a vote was cast


class _Target(NamedTuple):
    key: str
    repository: str
    commit: str
    pull_request: PullRequest | None = None
    parent: str | None = None
    # True when the pull request was not fetched: it is the one the build was started for, maybe not the current.
    from_build: bool = False


def _is_full_commit(value: str | None) -> bool:
    return value is not None and len(value) == COMMIT_LENGTH and set(value) <= FULL_COMMIT


def comment_token(target: str, project: str) -> str:
    """One token per (target, project): a second post for the pair can never create a second comment."""
    return token("codereflex-build-results", target, project)


def handle(envelope: BuildStateChangeEvent, ports: Ports, options: Options) -> Result:
    """Update the living comment for this build's (target, project) and vote on the PR revision."""
    detail = envelope.detail
    resolved = _resolve(envelope, ports)
    if isinstance(resolved, Result):
        return resolved
    target, configured, build = resolved

    # `off` writes no comment at all, so it need not read any.
    comments = _our_comments(ports.comments, target) if options.policy is not Policy.OFF else []
    states = {state.project: (comment, state) for comment, state in comments}
    existing_comment, existing_state = states.get(detail.project_name, (None, None))
    base = existing_state or CommentState(target=target.key, project=detail.project_name)
    info = detail.additional_information
    run = Run(
        build_id=detail.build_id.rsplit(":", 1)[-1],
        status=detail.build_status,
        commit=target.commit,
        started=(info.build_start_time or envelope.time).isoformat(),
        number=int(info.build_number) if info.build_number is not None else None,
    )
    merged = base.merge(run)
    if merged is None:
        return Result(Outcome.DUPLICATE, "not newer than what the comment shows", target.key)

    others = {project: state for project, (_, state) in states.items() if project != detail.project_name}
    writes_comment = existing_comment is not None or _policy_allows_new_comment(options.policy, detail.build_status)
    voted = _vote_with_records(
        ports,
        options,
        target,
        run=run,
        merged=merged,
        others=others,
        configured=configured,
        writes_comment=writes_comment,
        first_comment=existing_comment is None,
        at=envelope.time,
    )
    if isinstance(voted, Result):
        return voted
    vote, others = voted
    if vote is not None:
        merged = merged._replace(vote=vote)
    summary = Summary(states=tuple(others.values()), configured=configured)
    current = merged.current
    if existing_comment is not None and current is not None and current.build_id != run.build_id:
        # An older build's late news: only the history line and the table change.
        content = replace_footer(existing_comment.content, merged, summary)
    else:
        if build is None and detail.is_terminal:
            build = ports.builds.get_build(detail.build_id)
        if build is not None and build.number is not None:
            merged = _with_number(merged, run.build_id, build.number)
        content = render(
            merged,
            _details(envelope, build, target, ports, options, newer_commit=_newer_commit(run, others)),
            summary,
            options.max_failed_tests,
            options.log_lines,
        )
    outcome = _write(ports, target, detail.project_name, existing_comment, content)
    return Result(outcome, "", target.key, _vote_name(vote))


def _vote_with_records(
    ports: Ports,
    options: Options,
    target: _Target,
    *,
    run: Run,
    merged: CommentState,
    others: dict[str, CommentState],
    configured: Sequence[str],
    writes_comment: bool,
    first_comment: bool,
    at: datetime,
) -> tuple[Vote | None, dict[str, CommentState]] | Result:
    """The vote cast (if any) and the other projects' states, or the result of an event that writes no comment."""
    record = _consult_records(
        ports,
        options,
        target,
        merged.project,
        run,
        writes_comment=writes_comment,
        first_comment=first_comment,
        projects=len(configured),
    )
    remembered: Vote | None = None
    if record is not None:
        if not writes_comment and not record.changed:
            return Result(Outcome.DUPLICATE, "not newer than what is recorded", target.key)
        own = record.runs.get(merged.project)
        if first_comment and own is not None and _is_news_after(own, run):
            # A newer run of this project left no comment (a success): this one is history.
            return Result(Outcome.DUPLICATE, "older than what is recorded", target.key)
        others = _with_recorded(others, record, target.key, merged.project)
        remembered = record.vote
    memory_known = options.policy is Policy.ALWAYS or record is not None
    vote = _vote(ports, target, merged, others, configured, remembered=remembered, memory_known=memory_known, at=at)
    if not writes_comment:
        # No comment carries this vote: the records remember it for the next event.
        if vote is not None and ports.records is not None and target.pull_request is not None:
            ports.records.record_vote(_record_key(target), vote)
        return Result(Outcome.SKIPPED, f"comment policy {options.policy.value}", target.key, _vote_name(vote))
    return vote, others


def _resolve(envelope: BuildStateChangeEvent, ports: Ports) -> tuple[_Target, tuple[str, ...], Build | None] | Result:
    """What the build is about (pull request or commit) and which projects count, or why it is ignored."""
    detail = envelope.detail
    info = detail.additional_information
    variables = info.variables()
    repository = variables.get(VAR_REPOSITORY_NAME) or repository_from_source(info.source.location)
    if not repository:
        return Result(Outcome.IGNORED, "the build names no CodeCommit repository")
    if not ports.catalog.in_scope(repository):
        return Result(Outcome.IGNORED, "repository out of scope")
    configured = split_list(variables.get(VAR_PROJECTS, "")) or ports.catalog.projects_for(repository)
    if detail.project_name not in configured:
        return Result(Outcome.IGNORED, "project not configured for the repository")
    pull_request_id = variables.get(VAR_PULL_REQUEST_ID, "").strip()
    if pull_request_id:
        return _pull_request_target(detail, ports, repository, pull_request_id), configured, None
    build = None
    commit = info.resolved_source_version or info.source_version or ""
    if not _is_full_commit(commit):
        # A branch name (or nothing): only BatchGetBuilds knows the commit it resolved to.
        build = ports.builds.get_build(detail.build_id)
        commit = build.resolved_source_version or ""
    if not _is_full_commit(commit):
        return Result(Outcome.IGNORED, "no commit to comment on yet")
    parent = ports.commits.first_parent(repository, commit)
    return _Target(f"commit:{repository}:{commit}", repository, commit, parent=parent), configured, build


def _pull_request_target(detail: BuildStateChange, ports: Ports, repository: str, pull_request_id: str) -> _Target:
    info = detail.additional_information
    variables = info.variables()
    commit = variables.get(VAR_SOURCE_COMMIT) or info.resolved_source_version or info.source_version or ""
    key = f"pr:{repository}:{pull_request_id}"
    started_for = _pull_request_of_build(pull_request_id, repository, variables)
    if started_for is not None and detail.build_status in FAILURES:
        # A failure needs no more of the pull request than the build was started with: it is
        # commented on that revision, and can only revoke that revision's approval.
        return _Target(key, repository, commit, started_for, from_build=True)
    return _Target(key, repository, commit, ports.pull_requests.get_pull_request(pull_request_id))


def _pull_request_of_build(pull_request_id: str, repository: str, variables: dict[str, str]) -> PullRequest | None:
    """The pull request as the PR builds function started the build for it, when the build says all of it."""
    source, destination = variables.get(VAR_SOURCE_COMMIT, ""), variables.get(VAR_DESTINATION_COMMIT, "")
    revision = variables.get(VAR_REVISION_ID, "").strip()
    if not (_is_full_commit(source) and _is_full_commit(destination) and revision):
        return None
    return PullRequest(pull_request_id, repository, "OPEN", source, destination, revision)


def _record_key(target: _Target) -> str:
    assert target.pull_request is not None  # noqa: S101 - only pull request targets have records
    return f"{target.key}:{target.pull_request.revision_id}"


def _consult_records(
    ports: Ports,
    options: Options,
    target: _Target,
    project: str,
    run: Run,
    *,
    writes_comment: bool,
    first_comment: bool,
    projects: int,
) -> RevisionRecord | None:
    """The revision's record, when the comments may not hold every project's latest run (every policy but `always`).

    An event that writes no comment records its run (one call that also reads the rest). One that
    writes a comment reads the record when it is the project's first comment (earlier runs, and a
    vote, may be recorded only there) or when a success must know its sibling projects' runs.
    """
    if options.policy is Policy.ALWAYS or ports.records is None or target.pull_request is None:
        return None
    if not target.pull_request.revision_id:
        return None
    if not writes_comment:
        return ports.records.record(_record_key(target), project, run)
    if first_comment or (run.status == "SUCCEEDED" and projects > 1):
        return ports.records.read(_record_key(target))
    return None


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


def _our_comments(comments: Comments, target: _Target) -> list[tuple[Comment, CommentState]]:
    if target.pull_request is not None:
        found = comments.pull_request_comments(target.pull_request.pull_request_id)
    else:
        found = comments.commit_comments(target.repository, target.parent, target.commit)
    ours = []
    for comment in found:
        if comment.deleted:
            continue
        state = CommentState.decode(comment.content)
        if state is not None and state.target == target.key:
            ours.append((comment, state))
    return ours


def _with_number(state: CommentState, build_id: str, number: int) -> CommentState:
    runs = tuple(r._replace(number=number) if r.build_id == build_id else r for r in state.runs)
    return state._replace(runs=runs)


def _vote_name(vote: Vote | None) -> str | None:
    if vote is None:
        return None
    return "APPROVE" if vote.approve else "REVOKE"


def _vote(
    ports: Ports,
    target: _Target,
    state: CommentState,
    others: dict[str, CommentState],
    configured: Sequence[str],
    *,
    remembered: Vote | None,
    memory_known: bool,
    at: datetime,
) -> Vote | None:
    """APPROVE when every configured project succeeded on the PR's current revision; REVOKE a stale APPROVE.

    Only votes that change something are cast: the states (and the records) remember the last vote
    per revision. Where they may not (`memory_known` False), the vote is cast anyway: voting what
    already stands changes nothing.
    """
    pull_request = target.pull_request
    if pull_request is None or not pull_request.is_open or not pull_request.revision_id:
        return None
    tip = pull_request.source_commit
    everyone = {**others, state.project: state}
    statuses: dict[str, str | None] = {}
    for project in configured:
        current = everyone[project].current if project in everyone else None
        statuses[project] = current.status if current is not None and current.commit == tip else None
    running = [
        f"{p}:{everyone[p].runs[0].build_id}"
        for p, status in statuses.items()
        if status == "IN_PROGRESS" and p != state.project
    ]
    own = statuses.get(state.project)
    if own == "SUCCEEDED" and running and all(status in ("SUCCEEDED", "IN_PROGRESS") for status in statuses.values()):
        # Sibling projects finishing at the same moment each see the other still running: ask
        # CodeBuild, whose answer is ahead of the events still in flight (one call, only then).
        for sibling in ports.builds.get_builds(running):
            statuses[sibling.project] = sibling.status
    approve = all(status == "SUCCEEDED" for status in statuses.values())
    known = [s.vote for s in everyone.values()] + [remembered]
    votes = [v for v in known if v is not None and v.revision == pull_request.revision_id]
    last = max(votes, key=lambda vote: vote.at) if votes else None
    already = last.approve if last is not None else False
    if approve == already and (memory_known or last is not None):
        return None
    if not ports.pull_requests.vote(pull_request.pull_request_id, pull_request.revision_id, approve):
        return None
    return Vote(pull_request.revision_id, approve, at.isoformat())


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
