"""What a comment shows of the current run beyond its state: phase, tests, log tail, duration, links."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codereflex.ci.builds import Build, Report, TestCase
from codereflex.events.codebuild import BuildStateChange, BuildStateChangeEvent

from .ports import Options, Ports
from .render import FAILURES, Details, build_link

if TYPE_CHECKING:
    from codereflex.ci.pullrequests import PullRequest


def details(
    envelope: BuildStateChangeEvent,
    build: Build | None,
    ports: Ports,
    options: Options,
    *,
    pull_request: PullRequest | None,
    commit: str,
    from_build: bool,
    newer_commit: str | None = None,
) -> Details:
    """Everything the comment shows of this run; the reports, tests and log tail only when it has ended.

    `from_build`: the pull request was not fetched (it is the one the build was started for), so
    whether the run is outdated is judged from `newer_commit`, another project's later commit.
    """
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
    outdated = None
    if from_build:
        # The pull request was not fetched: what the other projects' runs say is all that is known.
        outdated = newer_commit
    elif pull_request is not None and pull_request.source_commit and pull_request.source_commit != commit:
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
