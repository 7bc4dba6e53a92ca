"""In-memory fakes of the build results ports: a pull request, its comments, builds, reports and logs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from codereflex.aws.revisions import order
from codereflex.ci.builds import Build, Report, TestCase
from codereflex.ci.pullrequests import Comment, PullRequest
from codereflex.revisions import RevisionRecord, Run, StartedFor

BOT = "arn:aws:sts::123456789012:assumed-role/codereflex-BuildResultsFunctionRole/codereflex-BuildResults"


@dataclass
class FakeCodeCommit:
    pull_request: PullRequest
    comments: dict[str, Comment] = field(default_factory=dict)
    votes: list[tuple[str, bool]] = field(default_factory=list)
    posts: int = 0
    updates: int = 0
    author: str = BOT  # who the comments posted through this fake are by

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
        comment = Comment(f"c{len(self.comments) + 1}", content, self.author, client_request_token)
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


@dataclass
class FakeRevisions:
    """The revision records as DynamoDB keeps them: runs count only for builds the PR builds function started."""

    started: dict[str, tuple[StartedFor, dict[str, set[str]]]] = field(default_factory=dict)
    runs: dict[str, dict[str, Run]] = field(default_factory=dict)

    def start(self, started_for: StartedFor, project: str, build_uuid: str) -> None:
        _, builds = self.started.setdefault(started_for.key, (started_for, {}))
        builds.setdefault(project, set()).add(build_uuid)

    def record_run(self, key: str, project: str, run: Run) -> RevisionRecord | None:
        if key not in self.started:
            return None
        started_for, builds = self.started[key]
        if run.build_id not in builds.get(project, set()) or run.commit != started_for.source_commit:
            return None
        runs = self.runs.setdefault(key, {})
        held = runs.get(project)
        changed = held is None or order(held) < order(run)
        if changed:
            runs[project] = run
        return RevisionRecord(started_for, dict(runs), changed)

    def read(self, key: str) -> RevisionRecord:
        started_for = self.started[key][0] if key in self.started else None
        return RevisionRecord(started_for, dict(self.runs.get(key, {})))


@dataclass
class FakeClaims:
    versions: dict[tuple[str, str], int] = field(default_factory=dict)
    before_claim: list[Callable[[], None]] = field(default_factory=list)  # run once each, just before a claim

    def claim(self, target: str, project: str, seen: int) -> bool:
        while self.before_claim:
            self.before_claim.pop(0)()
        if self.versions.get((target, project), 0) != seen:
            return False
        self.versions[(target, project)] = seen + 1
        return True
