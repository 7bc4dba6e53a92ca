"""A CodeBuild build as the functions read it: phases, test reports and cases, and the repository it built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import NamedTuple


def repository_from_source(location: str | None) -> str | None:
    """The repository a CodeCommit source location names (`https://git-codecommit.../v1/repos/<name>`)."""
    if not location or "/v1/repos/" not in location:
        return None
    name = location.rstrip("/").rsplit("/v1/repos/", 1)[1]
    return name or None


class Phase(NamedTuple):
    phase_type: str
    status: str | None
    duration_seconds: float | None
    contexts: tuple[str, ...] = ()


class Build(NamedTuple):
    """What BatchGetBuilds tells beyond the event: number, reports, resolved commit, times."""

    build_id: str
    project: str
    status: str
    number: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    source_version: str | None = None
    resolved_source_version: str | None = None
    report_arns: tuple[str, ...] = ()
    phases: tuple[Phase, ...] = ()
    log_group: str | None = None
    log_stream: str | None = None
    log_link: str | None = None
    variables: Mapping[str, str] = MappingProxyType({})


class Report(NamedTuple):
    arn: str
    name: str
    report_type: str
    total: int
    counts: Mapping[str, int]

    def tally(self, *statuses: str) -> int:
        return sum(int(self.counts.get(status, 0)) for status in statuses)


@dataclass(frozen=True, slots=True)  # a dataclass: pytest must be told it is no test class
class TestCase:
    name: str
    prefix: str | None
    status: str
    message: str | None
    report_name: str = ""

    __test__ = False  # not a pytest test class, whatever its name
