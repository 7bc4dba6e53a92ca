"""Decide which repositories an event or the daily sweep backs up, and back each one up in turn."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Protocol

from codereflex.backup.engine import BackupRequest, BackupResult, Collaborators, Policy, back_up, prune
from codereflex.errors import CodeReflexError, PermanentError


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


def is_permanent(error: CodeReflexError) -> bool:
    return isinstance(error, PermanentError)
