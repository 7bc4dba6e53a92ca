"""Ports more than one function's logic talks through, declared once (the adapters are in codereflex.aws)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Once(Protocol):
    """Runs a side effect the first time a key is seen; replays its result after (codereflex.idempotency)."""

    def run_once(self, key: str, action: Callable[[], str]) -> tuple[str, bool]: ...


class ProjectCatalog(Protocol):
    """Which repositories are in scope and which CodeBuild projects build each.

    Implemented by codereflex.ci.projects.ConfiguredProjects.
    """

    def in_scope(self, repository: str) -> bool: ...

    def projects_for(self, repository: str) -> tuple[str, ...]: ...
