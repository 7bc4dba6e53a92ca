"""Fold a CodeBuild state change into the target's living comment, and vote on the pull request revision.

Trust: comment state is read only from comments this function wrote (author and signature), a
pull request build only counts when the PR builds function started it for that revision (the
revision record says so), and the vote is re-derived from that record on every event.
"""

from __future__ import annotations

from typing import NamedTuple

from codereflex.ci.builds import Build, repository_from_source
from codereflex.ci.pullrequests import (
    VAR_PULL_REQUEST_ID,
    VAR_REPOSITORY_NAME,
    VAR_REVISION_ID,
    Comment,
    PullRequest,
    token,
)
from codereflex.errors import PermanentError, TransientError
from codereflex.events.codebuild import BuildStateChangeEvent
from codereflex.identity import same_principal
from codereflex.revisions import RevisionRecord, Run, StartedFor, rank, revision_key

from .details import details
from .ports import CommentPolicy, Options, Outcome, Ports, Result
from .render import FAILURES, Details, Summary, render, replace_footer
from .state import CommentState
from .vote import vote

FULL_COMMIT = frozenset("0123456789abcdef")
COMMIT_LENGTH = 40
# How often a writer that lost the claim on a comment reads it again before Lambda's retry takes over.
CLAIM_ATTEMPTS = 6


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
    detail = envelope.detail
    try:
        result = _handle(envelope, ports, options)
    except _Exit as done:
        result = done.result
    return result._replace(about=(detail.project_name, detail.build_id, detail.build_status))


def _handle(envelope: BuildStateChangeEvent, ports: Ports, options: Options) -> Result:
    detail = envelope.detail
    project = detail.project_name
    target, run, build = _resolve(envelope, ports)
    record = target.record
    record_news = record is not None and record.changed

    comments: dict[str, tuple[Comment, CommentState]] = {}
    if options.policy is not CommentPolicy.OFF:
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
    cast = vote(ports, target.pull_request, target.record, project)
    reason = f"comment policy {options.policy.value}" if outcome is Outcome.SKIPPED else ""
    return Result(outcome, reason, target.key, cast)


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
        target, run = _pull_request_target(envelope, ports, source_repository, pull_request_id)
        return target, run, None
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
) -> tuple[_Target, Run]:
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
    key, run = f"pr:{repository}:{pull_request_id}", _run(envelope, commit)
    # One conditional write: records the run only if the PR builds function started this build of
    # this project for this revision, at its source commit; returns every project's latest run.
    record = ports.revisions.record_run(revision_key(repository, pull_request_id, revision), detail.project_name, run)
    started = record.started_for if record is not None else None
    if started is None or (started.repository, started.pull_request_id) != (repository, pull_request_id):
        raise _Exit(Result(Outcome.IGNORED, "build not started by codereflex for this pull request revision", key))
    # The pull request as the build was started for it: enough for anything but a success (see _current).
    target = _Target(key, repository, commit, started.projects, _as_started(started), from_build=True, record=record)
    return target, run


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
    shown: Details | None = None
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
            if shown is None:
                if build is None and detail.is_terminal:
                    build = ports.builds.get_build(detail.build_id)
                shown = details(
                    envelope,
                    build,
                    ports,
                    options,
                    pull_request=target.pull_request,
                    commit=target.commit,
                    from_build=target.from_build,
                    newer_commit=_newer_commit(run, others),
                )
            if build is not None and build.number is not None:
                merged = _with_number(merged, run.build_id, build.number)
            content = render(
                merged, shown, summary, options.max_failed_tests, options.log_lines, signer=ports.trust().signer
            )
        if ports.claims.claim(target.key, project, seen):
            return _write(ports, target, project, existing_comment, content)
        ports.pause(0.2 * (attempt + 1))
        comments = _our_comments(ports, target, project)
    raise TransientError(f"another event kept the comment of {project} on {target.key} busy")


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


def _policy_allows_new_comment(policy: CommentPolicy, status: str) -> bool:
    if policy is CommentPolicy.OFF:
        return False
    if policy is CommentPolicy.FAILURES_AND_CHANGES:
        return status in FAILURES
    return True


def _with_number(state: CommentState, build_id: str, number: int) -> CommentState:
    runs = tuple(r._replace(number=number) if r.build_id == build_id else r for r in state.runs)
    return state._replace(runs=runs)
