"""The approval vote: derived from the revision record on every event, read back after it is cast."""

from __future__ import annotations

from collections.abc import Sequence

from codereflex.ci.pullrequests import PullRequest
from codereflex.revisions import RevisionRecord, Run

from .ports import Ports

# How often a vote is cast again when the record read back no longer supports it.
VOTE_ROUNDS = 3


def vote(ports: Ports, pull_request: PullRequest | None, record: RevisionRecord | None, project: str) -> str | None:
    """APPROVE when every project the revision was started with succeeded on it, else REVOKE; None when moot.

    Derived from the revision record alone (what codereflex itself started and recorded), on
    every event that told something new, and read back after every vote: an event handled at the
    same moment may have recorded a run since (a failure, or the success this one was missing),
    so a vote the record no longer supports is cast again, the other way. A REVOKE is sent
    whatever the bot believes it holds (one idempotent call); if the record will not settle, the
    last word is a REVOKE.
    """
    if pull_request is None or record is None or record.started_for is None:
        return None
    started = record.started_for
    if not started.revision_id or not pull_request.is_open or pull_request.revision_id != started.revision_id:
        return None  # closed, merged, or a newer revision: this revision's vote is moot
    confirmed: dict[str, str] = {}
    supported = _approvable(ports, record, project, confirmed)
    for _ in range(VOTE_ROUNDS):
        approve = supported
        if not ports.pull_requests.vote(started.pull_request_id, started.revision_id, approve):
            return None
        supported = _approvable(ports, ports.revisions.read(started.key), project, confirmed)
        if supported == approve:
            return "APPROVE" if approve else "REVOKE"
    if approve:  # the last vote cast, which the record no longer supports
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
