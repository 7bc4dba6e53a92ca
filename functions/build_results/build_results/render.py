"""The living comment: its signed hidden state (runs, version) and its Markdown, under CodeCommit's size limit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple
from urllib.parse import quote

from codereflex.ci.builds import Build, Report, TestCase
from codereflex.redact import redact, redact_lines
from codereflex.signing import Signer

from .state import CommentState

# CodeCommit refuses comments over 10,240 characters; stay well clear of it.
BUDGET = 10_000
SEPARATOR = "\n\n---\n"

STATUS_ICONS = {
    "IN_PROGRESS": "⏳",
    "SUCCEEDED": "✅",
    "FAILED": "❌",
    "FAULT": "💥",
    "STOPPED": "⏹️",
    "TIMED_OUT": "⌛",
}
FAILURES = frozenset({"FAILED", "FAULT", "STOPPED", "TIMED_OUT"})


class Details(NamedTuple):
    """What the body shows about the current run beyond the state."""

    region: str
    build: Build | None = None
    build_link: str | None = None
    log_link: str | None = None
    reports: Sequence[Report] = ()
    failing_tests: Sequence[TestCase] = ()
    log_lines: Sequence[str] = ()
    failed_phase: str | None = None
    failed_message: str | None = None
    duration_seconds: float | None = None
    outdated_by: str | None = None  # the PR's current tip, when the run built an older commit
    label: str = "pull request"


class Summary(NamedTuple):
    """The other projects' states on the same target, for the table."""

    states: Sequence[CommentState] = ()
    configured: Sequence[str] = ()


SHORT_COMMIT = 7


def short(commit: str) -> str:
    return commit[:SHORT_COMMIT]


def build_link(region: str, build_id: str) -> str:
    """The CodeBuild console page of a build (ARN or `project:uuid`)."""
    plain = build_id.split(":build/", 1)[-1]
    project = plain.split(":", 1)[0]
    return (
        f"https://{region}.console.aws.amazon.com/codesuite/codebuild/projects/{quote(project, safe='')}"
        f"/build/{quote(plain, safe='')}/?region={region}"
    )


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    total = round(seconds)
    minutes, secs = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _redacted(details: Details) -> Details:
    """The build's own output (log tail, test messages, phase message) redacted, each as one whole text.

    Before anything is split or bounded: a key spans lines, and a secret cut in half is no longer
    recognised while the half still shows.
    """
    return details._replace(
        log_lines=redact_lines(details.log_lines),
        failing_tests=[
            replace(case, message=redact(case.message)) if case.message else case for case in details.failing_tests
        ],
        failed_message=redact(details.failed_message) if details.failed_message else details.failed_message,
    )


def _cell(text: str | None, limit: int) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped, bounded."""
    flat = " ".join((text or "").split()).replace("|", "\\|").replace("`", "'")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _fence(lines: Sequence[str]) -> str:
    longest = max((len(m) for line in lines for m in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return "\n".join([f"{fence}text", *lines, fence])


def _tests_section(details: Details, shown: int) -> list[str]:
    tests = [report for report in details.reports if report.report_type == "TEST"]
    if not tests:
        return []
    passed = sum(r.tally("SUCCEEDED") for r in tests)
    failed = sum(r.tally("FAILED", "ERROR") for r in tests)
    skipped = sum(r.tally("SKIPPED") for r in tests)
    total = sum(r.total for r in tests)
    names = ", ".join(f"`{_cell(r.name, 80)}`" for r in tests[:5])
    lines = [f"**Tests:** {passed} passed, {failed} failed, {skipped} skipped of {total} ({names})"]
    cases = list(details.failing_tests)[:shown]
    if cases:
        lines += ["", "| Failing test | Message |", "|---|---|"]
        for case in cases:
            name = f"{case.prefix}.{case.name}" if case.prefix else case.name
            lines.append(f"| `{_cell(name, 160)}` | {_cell(case.message, 240) or '—'} |")
    hidden = failed - len(cases)
    if hidden > 0 and failed:
        lines.append(f"\n…and {hidden} more failing test{'s' if hidden != 1 else ''}.")
    return lines


def _body(state: CommentState, details: Details, tests_shown: int, log_shown: int) -> str:
    run = state.current
    assert run is not None  # noqa: S101 - callers render only states with a run
    icon = STATUS_ICONS.get(run.status, "•")
    number = f"#{run.number}" if run.number is not None else run.build_id.rsplit(":", 1)[-1][:8]
    words = run.status.replace("_", " ").lower()
    lines = [f"### {icon} {state.project}: build {number} {words}"]
    if details.outdated_by:
        lines += [
            "",
            f"> ⚠️ **Outdated:** this build is of `{short(run.commit)}`; the {details.label} is now at "
            f"`{short(details.outdated_by)}`. It does not count towards approval.",
        ]
    link = details.build_link or build_link(details.region, run.build_id)
    rows = [
        ("Status", f"{icon} {run.status}"),
        ("Project", f"`{_cell(state.project, 100)}`"),
        ("Build", f"[{number}]({link})"),
        ("Commit", f"`{short(run.commit)}`"),
        ("Duration", duration(details.duration_seconds) if run.status != "IN_PROGRESS" else "running"),
    ]
    if details.log_link:
        rows.append(("Log", f"[CloudWatch Logs]({details.log_link})"))
    lines += ["", "| | |", "|---|---|", *(f"| **{k}** | {v} |" for k, v in rows)]
    if run.status in FAILURES and details.failed_phase:
        message = _cell(details.failed_message, 400)
        lines += ["", f"**Failed phase:** `{details.failed_phase}`" + (f": {message}" if message else "")]
    tests = _tests_section(details, tests_shown)
    if tests:
        lines += ["", *tests]
    if run.status in FAILURES and details.log_lines and log_shown:
        tail = [line[:200] for line in list(details.log_lines)[-log_shown:]]
        lines += ["", f"**Last {len(tail)} log lines** (secrets redacted)", "", _fence(tail)]
    return "\n".join(lines)


def _footer(state: CommentState, summary: Summary, signer: Signer) -> str:
    lines: list[str] = []
    others = {s.project: s for s in summary.states if s.project != state.project}
    projects = list(dict.fromkeys([*summary.configured, state.project, *sorted(others)]))
    if len(projects) > 1:
        lines += ["**All projects**", "", "| Project | Status | Build | Commit |", "|---|---|---|---|"]
        for project in projects[:20]:
            current = (state if project == state.project else others.get(project, CommentState("", project))).current
            if current is None:
                lines.append(f"| `{_cell(project, 80)}` | — not reported yet | | |")
                continue
            number = f"#{current.number}" if current.number is not None else ""
            icon = STATUS_ICONS.get(current.status, "•")
            lines.append(f"| `{_cell(project, 80)}` | {icon} {current.status} | {number} | `{short(current.commit)}` |")
        lines.append("")
    earlier = state.runs[1:]
    if earlier:
        items = " · ".join(
            f"{'#' + str(r.number) if r.number is not None else r.build_id[-8:]} "
            f"{STATUS_ICONS.get(r.status, '')} {r.status} `{short(r.commit)}`"
            for r in earlier
        )
        lines.append(f"_Earlier runs: {items}_")
    lines += ["", state.encode(signer)]
    return "\n".join(lines)


def render(
    state: CommentState,
    details: Details,
    summary: Summary,
    max_tests: int = 10,
    max_log: int = 30,
    *,
    signer: Signer,
) -> str:
    """The whole comment, shrinking the test list and the log tail until it fits the size budget."""
    details = _redacted(details)
    footer = SEPARATOR + _footer(state, summary, signer)
    attempts = [(max_tests, max_log)]
    attempts += [
        (min(max_tests, t), min(max_log, n)) for t, n in ((10, 20), (10, 10), (5, 10), (5, 0), (3, 0), (1, 0), (0, 0))
    ]
    for tests_shown, log_shown in attempts:
        content = _body(state, details, tests_shown, log_shown) + footer
        if len(content) <= BUDGET:
            return content
    body = _body(state, details, 0, 0)
    room = BUDGET - len(footer) - 40
    return body[: max(0, room)] + "\n\n*(truncated)*" + footer


def replace_footer(content: str, state: CommentState, summary: Summary, signer: Signer) -> str:
    """Keep an existing comment's body (the current run did not change) and refresh table, history and state."""
    body = content.rsplit(SEPARATOR, 1)[0]
    footer = SEPARATOR + _footer(state, summary, signer)
    if len(body) + len(footer) > BUDGET:
        body = body[: max(0, BUDGET - len(footer) - 40)] + "\n\n*(truncated)*"
    return body + footer
