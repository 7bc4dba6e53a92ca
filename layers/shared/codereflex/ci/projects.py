"""Which repositories are in scope and which CodeBuild projects build each: the convention and the mapping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import NamedTuple, Protocol

from codereflex.config import split_list


def in_scope(repository: str, patterns: Sequence[str]) -> bool:
    """Repositories in scope are exact names or shell globs (`team-*`); `*` means all."""
    return any(fnmatchcase(repository, pattern) for pattern in patterns)


def projects_for(repository: str, conventions: Sequence[str], mapping: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The CodeBuild projects that build a repository: its mapping entry, else the naming convention.

    A convention is a project name with `{repository}` in it (`{repository}-ci`); several are allowed.
    """
    if repository in mapping:
        return tuple(dict.fromkeys(mapping[repository]))
    return tuple(dict.fromkeys(convention.replace("{repository}", repository) for convention in conventions))


class MappingSource(Protocol):
    def mapping(self) -> Mapping[str, Sequence[str]]: ...


class ProjectScope(NamedTuple):
    """Which repositories are in scope and which CodeBuild projects build each (template parameters)."""

    repositories: tuple[str, ...] = ("*",)
    conventions: tuple[str, ...] = ("{repository}-ci",)
    mapping_parameter: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProjectScope:
        return cls(
            repositories=split_list(env.get("REPOSITORIES", "*")) or ("*",),
            conventions=split_list(env.get("BUILD_PROJECTS", "{repository}-ci")) or ("{repository}-ci",),
            mapping_parameter=env.get("BUILD_PROJECTS_PARAMETER", "").strip() or None,
        )


class ConfiguredProjects:
    """Answers "which projects build this repository" from the scope and the optional SSM mapping."""

    def __init__(self, scope: ProjectScope, mapping: MappingSource | None = None) -> None:
        self.scope = scope
        self._mapping = mapping

    def in_scope(self, repository: str) -> bool:
        return in_scope(repository, self.scope.repositories)

    def projects_for(self, repository: str) -> tuple[str, ...]:
        mapping = self._mapping.mapping() if self._mapping is not None else {}
        return projects_for(repository, self.scope.conventions, mapping)
