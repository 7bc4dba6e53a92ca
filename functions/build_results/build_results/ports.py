"""What the build results logic talks to (ports), what it is told (options) and what it answers (results)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from enum import Enum
from typing import NamedTuple, Protocol

from codereflex import report as told  # not codereflex.ci.builds.Report, a build's test report
from codereflex.ci.builds import Build, Report, TestCase
from codereflex.ci.pullrequests import Comment, PullRequest
from codereflex.revisions import RevisionRecord, Run
from codereflex.signing import Signer


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


class Revisions(Protocol):
    """Each PR revision's record: the builds the PR builds function started, each project's latest run."""

    def record_run(self, key: str, project: str, run: Run) -> RevisionRecord | None: ...

    def read(self, key: str) -> RevisionRecord: ...


class Claims(Protocol):
    """Serialises writers of one comment: claim the next version before writing it."""

    def claim(self, target: str, project: str, seen: int) -> bool: ...


class CommentPolicy(Enum):
    ALWAYS = "always"
    FAILURES_AND_CHANGES = "failures-and-changes"
    OFF = "off"


class Outcome(Enum):
    POSTED = "posted"
    UPDATED = "updated"
    DUPLICATE = "duplicate"  # nothing new: a redelivered or older state
    SKIPPED = "skipped"  # the comment policy says no comment
    IGNORED = "ignored"  # not ours: unknown project, repository out of scope, not started by codereflex


class Options(NamedTuple):
    policy: CommentPolicy = CommentPolicy.ALWAYS
    max_failed_tests: int = 10
    log_lines: int = 30


class Trust(NamedTuple):
    """What tells codereflex's own comments from anybody else's."""

    identity: str  # this function's own ARN: only its comments carry state
    signer: Signer  # and only state it signed


class Ports(NamedTuple):
    pull_requests: PullRequests
    comments: Comments
    commits: Commits
    builds: Builds
    logs: Logs
    catalog: Catalog
    revisions: Revisions
    claims: Claims
    trust: Callable[[], Trust]  # asked only when comments are read (once per execution environment)
    pause: Callable[[float], None] = time.sleep


_METRICS = {
    "posted": "CommentsPosted",
    "updated": "CommentsUpdated",
    "duplicate": "CommentsSkipped",
    "skipped": "CommentsSkipped",
    "ignored": "BuildsIgnored",
}


class Result(NamedTuple):
    outcome: Outcome
    reason: str = ""
    target: str | None = None
    vote: str | None = None  # "APPROVE" or "REVOKE" when a vote was cast
    about: tuple[str, str, str] = ("", "", "")  # project, build id, build status

    def report(self) -> told.Report:
        project, build_id, status = self.about
        fields = {
            "outcome": self.outcome.value,
            "reason": self.reason,
            "project": project,
            "build_id": build_id,
            "build_status": status,
            "target": self.target,
            "vote": self.vote,
        }
        counts = [told.Count(_METRICS[self.outcome.value])]
        if self.vote is not None:
            counts.append(told.Count("Approvals" if self.vote == "APPROVE" else "Revocations"))
        response = {"outcome": self.outcome.value, "reason": self.reason, "target": self.target, "vote": self.vote}
        return told.Report(response, (told.Line("Build state handled", fields),), tuple(counts))
