"""Decide which repositories an event or the daily sweep backs up, and back each one up in turn."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, NamedTuple, Protocol

from codereflex.backup.backup import back_up
from codereflex.backup.job import BackupRequest, BackupResult, Collaborators, Outcome, Policy
from codereflex.backup.retention import prune
from codereflex.errors import CodeReflexError, PermanentError
from codereflex.events.codecommit import RepositoryStateChangeEvent
from codereflex.events.reading import Fields
from codereflex.events.scheduled import SCHEDULED_EVENT, ScheduledEvent
from codereflex.report import Count, Line, Report


class Repositories(Protocol):
    def names(self) -> list[str]: ...

    def clone_url(self, repository: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Scope:
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()

    def covers(self, repository: str) -> bool:
        """Shell globs on the repository name; an exclusion wins over an inclusion."""
        return any(fnmatchcase(repository, p) for p in self.include) and not any(
            fnmatchcase(repository, p) for p in self.exclude
        )


@dataclass(frozen=True, slots=True)
class SweepResult:
    results: tuple[BackupResult, ...]
    failures: tuple[tuple[str, CodeReflexError], ...]
    skipped_for_time: tuple[str, ...]
    pruned: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (repository, backup ids removed by retention)


def back_up_repository(
    repository: str,
    event_id: str | None,
    repositories: Repositories,
    policy: Policy,
    parts: Collaborators,
    *,
    trigger_id: str | None = None,
    look_for_orphans: bool = False,
) -> BackupResult:
    """One repository's backup for one event; the clone URL comes from CodeCommit (the event lacks it).

    `trigger_id` (the delivered event's id, defaulting to `event_id`) makes a hand-off to CodeBuild
    idempotent: a redelivered event derives the same StartBuild token.
    """
    url = repositories.clone_url(repository)
    request = BackupRequest(repository, url, event_id, trigger_id or event_id, look_for_orphans=look_for_orphans)
    return back_up(request, policy, parts)


def sweep(
    scope: Scope,
    repositories: Repositories,
    policy: Policy,
    parts: Collaborators,
    *,
    time_left: Callable[[], float],
    reserve_seconds: float = 120.0,
    names: Iterable[str] | None = None,
    trigger_id: str | None = None,
) -> SweepResult:
    """Back up every repository in scope; unchanged ones cost one ls-remote. Stops before time runs out.

    A failure of one repository does not stop the sweep: it is reported and the next one runs.
    """
    results: list[BackupResult] = []
    failures: list[tuple[str, CodeReflexError]] = []
    pruned: list[tuple[str, tuple[str, ...]]] = []
    pending = [name for name in (names if names is not None else repositories.names()) if scope.covers(name)]
    while pending and time_left() > reserve_seconds:
        name = pending.pop(0)
        try:
            # The sweep is the daily safety net: it also finds manifests a failed run left uncatalogued.
            results.append(
                back_up_repository(
                    name, None, repositories, policy, parts, trigger_id=trigger_id, look_for_orphans=True
                )
            )
            if removed := prune(name, policy, parts):
                pruned.append((name, removed))
        except CodeReflexError as error:
            failures.append((name, error))
        finally:
            # One mirror at a time: /tmp holds the largest repository, not the sum of all of them.
            parts.git.discard(name)
    return SweepResult(tuple(results), tuple(failures), tuple(pending), tuple(pruned))


class Ports(NamedTuple):
    repositories: Repositories
    parts: Collaborators


def read(event: Any) -> RepositoryStateChangeEvent | ScheduledEvent:
    """The function's two triggers: a reference change, or the daily sweep's schedule."""
    if Fields(event, "").value("detail-type") == SCHEDULED_EVENT:
        return ScheduledEvent.read(event)
    return RepositoryStateChangeEvent.read(event)


class Result(NamedTuple):
    """One event's backups, or the sweep's, with what the operator is told about them."""

    response: dict[str, Any]
    lines: tuple[Line, ...] = ()
    counts: tuple[Count, ...] = ()
    error: CodeReflexError | None = None  # raised once reported: Lambda retries a transient one

    def report(self) -> Report:
        return Report(self.response, self.lines, self.counts, self.error)


def handle(
    event: RepositoryStateChangeEvent | ScheduledEvent,
    ports: Ports,
    policy: Policy,
    scope: Scope,
    *,
    time_left: Callable[[], float],
    clock: Callable[[], float] = time.monotonic,
) -> Result:
    """Back up the repository a reference change names, or every repository in scope for the sweep."""
    started = clock()
    if isinstance(event, ScheduledEvent):
        swept = sweep(scope, ports.repositories, policy, ports.parts, time_left=time_left, trigger_id=event.id)
        return _swept(swept, round(clock() - started, 1))
    change = event.detail
    if not scope.covers(change.repository_name):
        line = Line("Repository out of backup scope", {"repository": change.repository_name})
        return Result({"outcome": "out-of-scope"}, (line,))
    try:
        result = back_up_repository(change.repository_name, event.id, ports.repositories, policy, ports.parts)
    except CodeReflexError as error:
        return Result({"outcome": "failed"}, (_failure(change.repository_name, error),), error=error)
    lines, counts = _told(result, clock() - started, policy)
    if result.outcome is Outcome.HANDED_OFF:
        response = {"outcome": result.outcome.value, "buildId": result.build_id, "sizeBytes": result.size_bytes}
    else:
        response = {"outcome": result.outcome.value, "backupId": result.backup_id, "bytes": result.bytes_uploaded}
    return Result(response, tuple(lines), tuple(counts))


def _swept(swept: SweepResult, seconds: float) -> Result:
    lines: list[Line] = []
    counts: list[Count] = []
    for result in swept.results:
        told, counted = _told(result, None, None)
        lines += told
        counts += counted
    lines += [_failure(name, error) for name, error in swept.failures]
    for name, removed in swept.pruned:
        fields = {"repository": name, "backups": len(removed), "oldest": removed[0], "newest": removed[-1]}
        lines.append(Line("Backups pruned", fields))
        counts.append(Count("BackupsPruned", len(removed)))
    if swept.skipped_for_time:
        lines.append(Line("Sweep ran out of time", {"remaining": len(swept.skipped_for_time)}, "warning"))
    outcomes = [result.outcome for result in swept.results]
    summary = {
        "backed_up": outcomes.count(Outcome.BACKED_UP),
        "unchanged": outcomes.count(Outcome.UNCHANGED),
        "handed_off": outcomes.count(Outcome.HANDED_OFF),
        "failed": len(swept.failures),
        "seconds": seconds,
    }
    lines.append(Line("Sweep finished", summary))
    response = {
        "outcome": "swept",
        "backedUp": [r.repository for r in swept.results if r.outcome is Outcome.BACKED_UP],
        "unchanged": [r.repository for r in swept.results if r.outcome is Outcome.UNCHANGED],
        "handedOff": {r.repository: r.build_id for r in swept.results if r.outcome is Outcome.HANDED_OFF},
        "failed": [name for name, _ in swept.failures],
        "notReached": list(swept.skipped_for_time),
        "pruned": {name: list(removed) for name, removed in swept.pruned},
    }
    return Result(response, tuple(lines), tuple(counts))


def _told(result: BackupResult, seconds: float | None, policy: Policy | None) -> tuple[list[Line], list[Count]]:
    """The log lines and metrics of one repository's backup."""
    lines: list[Line] = []
    counts: list[Count] = []
    fields: dict[str, Any]
    if result.ended_hand_off is not None:
        # The build it was handed to failed, stopped, timed out or never started: no backup ran meanwhile.
        fields = {
            "repository": result.repository,
            "build_id": result.ended_hand_off.build_id,
            "build_status": result.ended_hand_off.status,
            "outcome": result.outcome.value,
        }
        lines.append(Line("Backup lease taken back from a hand-off that ended", fields, "warning"))
        counts.append(Count("HandOffsRecovered"))
    if result.outcome is Outcome.HANDED_OFF:
        if result.already_handed_off:
            # A redelivered event, or a push while the build runs: the build holds the lease, no second one.
            fields = {"repository": result.repository, "build_id": result.build_id}
            lines.append(Line("Backup already handed off to CodeBuild", fields))
            return lines, counts
        fields = {
            "repository": result.repository,
            "size_bytes": result.size_bytes,
            "threshold_bytes": policy.offload_bytes if policy is not None else None,
            "build_id": result.build_id,
        }
        lines.append(Line("Backup handed off to CodeBuild", fields))
        counts.append(Count("BackupsHandedOff"))
        return lines, counts
    if result.outcome is Outcome.UNCHANGED:
        fields = {"repository": result.repository, "latest": result.backup_id, "adopted": result.adopted}
        lines.append(Line("Backup unchanged", fields))
        counts.append(Count("BackupsUnchanged"))
        return lines, counts
    fields = {
        "repository": result.repository,
        "backup_id": result.backup_id,
        "full": result.full,
        "objects": result.objects,
        "refs": result.refs,
        "bytes": result.bytes_uploaded,
    }
    lines.append(Line("Backup written", fields))
    counts += [Count("BackupsDone"), Count("BytesUploaded", result.bytes_uploaded, "Bytes")]
    if seconds is not None:
        counts.append(Count("BackupDuration", round(seconds * 1000), "Milliseconds"))
    return lines, counts


def _failure(repository: str, error: CodeReflexError) -> Line:
    kind = "permanent" if isinstance(error, PermanentError) else "transient"
    return Line("Backup failed", {"repository": repository, "kind": kind, "error": str(error)}, "error")
