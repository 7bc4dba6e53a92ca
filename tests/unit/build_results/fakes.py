"""In-memory fakes of the build results ports: a pull request, its comments, builds, reports and logs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from codereflex.ci import Build, Comment, PullRequest, Report, TestCase


@dataclass
class FakeCodeCommit:
    pull_request: PullRequest
    comments: dict[str, Comment] = field(default_factory=dict)
    votes: list[tuple[str, bool]] = field(default_factory=list)
    posts: int = 0
    updates: int = 0

    def get_pull_request(self, pull_request_id: str) -> PullRequest:
        return self.pull_request

    def vote(self, pull_request_id: str, revision_id: str, approve: bool) -> bool:
        self.votes.append((revision_id, approve))
        return True

    def pull_request_comments(self, pull_request_id: str) -> list[Comment]:
        return list(self.comments.values())

    def commit_comments(self, repository: str, before: str | None, after: str) -> list[Comment]:
        return list(self.comments.values())

    def _post(self, content: str, client_request_token: str) -> Comment:
        existing = next((c for c in self.comments.values() if c.client_request_token == client_request_token), None)
        if existing is not None:
            return existing
        self.posts += 1
        comment = Comment(f"c{len(self.comments) + 1}", content, "bot", client_request_token)
        self.comments[comment.comment_id] = comment
        return comment

    def post_on_pull_request(self, pull_request: PullRequest, content: str, client_request_token: str) -> Comment:
        return self._post(content, client_request_token)

    def post_on_commit(
        self, repository: str, before: str | None, after: str, content: str, client_request_token: str
    ) -> Comment:
        return self._post(content, client_request_token)

    def update(self, comment_id: str, content: str) -> Comment:
        self.updates += 1
        old = self.comments[comment_id]
        self.comments[comment_id] = Comment(comment_id, content, old.author_arn, old.client_request_token)
        return self.comments[comment_id]

    def first_parent(self, repository: str, commit_id: str) -> str | None:
        return "0" * 40


@dataclass
class FakeCodeBuild:
    builds: dict[str, Build] = field(default_factory=dict)
    reports: dict[str, Report] = field(default_factory=dict)
    cases: dict[str, list[TestCase]] = field(default_factory=dict)

    def get_build(self, build_id: str) -> Build:
        return self.builds[build_id]

    def get_builds(self, build_ids: Sequence[str]) -> list[Build]:
        return [self.builds[b] for b in build_ids if b in self.builds]

    def get_reports(self, report_arns: Sequence[str]) -> list[Report]:
        return [self.reports[arn] for arn in report_arns]

    def failing_tests(self, report: Report, limit: int) -> list[TestCase]:
        return self.cases.get(report.arn, [])[:limit]


@dataclass
class FakeLogs:
    lines: list[str] = field(default_factory=list)

    def last_lines(self, group: str, stream: str, limit: int) -> list[str]:
        return self.lines[-limit:]


@dataclass
class FakeCatalog:
    projects: tuple[str, ...] = ("app-ci",)
    scope: tuple[str, ...] = ("app",)

    def in_scope(self, repository: str) -> bool:
        return repository in self.scope

    def projects_for(self, repository: str) -> tuple[str, ...]:
        return self.projects
