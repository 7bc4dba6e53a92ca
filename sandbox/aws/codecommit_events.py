"""Turn what a push did to a repository's refs into the CodeCommit events AWS would send.

CodeCommit emits one "CodeCommit Repository State Change" event per branch or tag a push
creates, moves or deletes. The sandbox's git server calls `RefWatcher.after_push` after each
receive-pack; the watcher compares the refs on disk with what it saw last and builds the events.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pygit2

from sandbox.aws.envelope import envelope
from sandbox.git.gitstore import GitStore

ACCOUNT_ID = "123456789012"
DETAIL_TYPE = "CodeCommit Repository State Change"
_KINDS = {"refs/heads/": "branch", "refs/tags/": "tag"}


def _repository_id(region: str, repository: str) -> str:
    """A stable stand-in for CodeCommit's repository id (a UUID), the same in every event."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"codecommit:{region}:{repository}"))


def _codecommit_event(
    detail_type: str,
    detail: dict[str, Any],
    *,
    repository: str,
    region: str,
    now: datetime | None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A CodeCommit event: its resource is the repository's ARN."""
    return envelope(
        source="aws.codecommit",
        detail_type=detail_type,
        detail=detail,
        account=ACCOUNT_ID,
        region=region,
        resources=[f"arn:aws:codecommit:{region}:{ACCOUNT_ID}:{repository}"],
        time=now,
        event_id=event_id,
    )


def read_refs(path: str) -> dict[str, str]:
    """Every branch and tag of a repository → the commit it points at (annotated tags peeled)."""
    repo = pygit2.Repository(path)
    refs: dict[str, str] = {}
    for raw in repo.raw_listall_references():
        name = raw.decode("utf-8")
        if not name.startswith(tuple(_KINDS)):
            continue
        target = repo.lookup_reference(name).peel(pygit2.Commit)
        refs[name] = str(target.id)
    return refs


def reference_event(
    *,
    repository: str,
    reference: str,
    old: str | None,
    new: str | None,
    region: str,
    caller_arn: str | None,
    repository_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One EventBridge envelope for a created (old None), updated, or deleted (new None) reference."""
    kind_prefix = next(prefix for prefix in _KINDS if reference.startswith(prefix))
    event = "referenceCreated" if old is None else "referenceDeleted" if new is None else "referenceUpdated"
    detail: dict[str, Any] = {
        "event": event,
        "repositoryName": repository,
        "repositoryId": repository_id or _repository_id(region, repository),
        "referenceType": _KINDS[kind_prefix],
        "referenceName": reference[len(kind_prefix) :],
        "referenceFullName": reference,
    }
    if new is not None:
        detail["commitId"] = new
    if old is not None:
        detail["oldCommitId"] = old
    if caller_arn:
        detail["callerUserArn"] = caller_arn
    return _codecommit_event(DETAIL_TYPE, detail, repository=repository, region=region, now=now)


class RefWatcher:
    """Remembers each repository's refs and reports the difference after a push, as events."""

    def __init__(
        self,
        store: GitStore,
        *,
        caller_arn: Callable[[str], str | None] = lambda _key: None,
        publish: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._store = store
        self._caller_arn = caller_arn
        self._publish = publish
        self._seen: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def prime(self, repository: str) -> None:
        """Record a repository's current refs (a new or imported repository raises no events for them)."""
        with self._lock:
            self._seen[repository] = read_refs(str(self._store.path_for(repository)))

    def after_push(self, repository: str, access_key_id: str) -> list[dict[str, Any]]:
        """The events for what changed since last time; also handed to `publish` when one is set."""
        with self._lock:
            before = self._seen.get(repository, {})
            after = read_refs(str(self._store.path_for(repository)))
            self._seen[repository] = after
        caller = self._caller_arn(access_key_id)
        events = [
            reference_event(
                repository=repository,
                reference=name,
                old=before.get(name),
                new=after.get(name),
                region=self._store.region,
                caller_arn=caller,
            )
            for name in sorted(before.keys() | after.keys())
            if before.get(name) != after.get(name)
        ]
        if self._publish is not None:
            for event in events:
                self._publish(event)
        return events


PULL_REQUEST_DETAIL_TYPE = "CodeCommit Pull Request State Change"


def pull_request_event(
    pull_request: dict[str, Any],
    *,
    event: str,
    caller_arn: str | None = None,
    region: str = "us-east-1",
    now: datetime | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """One "CodeCommit Pull Request State Change" envelope for a pull request in GetPullRequest's shape.

    Reproduces AWS's quirks: title-case status ("Open"), string booleans ("isMerged": "False") and
    free-form dates.
    """
    target = pull_request["pullRequestTargets"][0]
    repository = target["repositoryName"]
    moment = now or datetime.now(UTC)
    merged = bool((target.get("mergeMetadata") or {}).get("isMerged", False))
    detail: dict[str, Any] = {
        "author": pull_request.get("authorArn"),
        "callerUserArn": caller_arn or pull_request.get("authorArn"),
        "creationDate": f"{moment:%a %b %d %H:%M:%S} UTC {moment:%Y}",
        "lastModifiedDate": f"{moment:%a %b %d %H:%M:%S} UTC {moment:%Y}",
        "description": pull_request.get("description", ""),
        "destinationCommit": target["destinationCommit"],
        "destinationReference": target["destinationReference"],
        "event": event,
        "isMerged": "True" if merged else "False",
        "notificationBody": f"A pull request event occurred in the following AWS CodeCommit repository: {repository}.",
        "pullRequestId": pull_request["pullRequestId"],
        "pullRequestStatus": str(pull_request["pullRequestStatus"]).title(),
        "repositoryNames": [repository],
        "revisionId": pull_request["revisionId"],
        "sourceCommit": target["sourceCommit"],
        "sourceReference": target["sourceReference"],
        "title": pull_request.get("title", ""),
    }
    return _codecommit_event(
        PULL_REQUEST_DETAIL_TYPE, detail, repository=repository, region=region, now=moment, event_id=event_id
    )


COMMENT_ON_PULL_REQUEST_DETAIL_TYPE = "CodeCommit Comment on Pull Request"


def pull_request_comment_event(
    pull_request: dict[str, Any],
    comment: dict[str, Any],
    *,
    caller_arn: str,
    region: str = "us-east-1",
    event: str = "commentOnPullRequestCreated",
    now: datetime | None = None,
) -> dict[str, Any]:
    """The "CodeCommit Comment on Pull Request" envelope for a comment (PostCommentForPullRequest's shape).

    Like AWS, the event names the comment but does not carry its content.
    """
    target = pull_request["pullRequestTargets"][0]
    repository = target["repositoryName"]
    return _codecommit_event(
        COMMENT_ON_PULL_REQUEST_DETAIL_TYPE,
        {
            "beforeCommitId": target["destinationCommit"],
            "afterCommitId": target["sourceCommit"],
            "repositoryId": _repository_id(region, repository),
            "commentId": comment["commentId"],
            "event": event,
            "repositoryName": repository,
            "callerUserArn": caller_arn,
            "pullRequestId": pull_request["pullRequestId"],
            "notificationBody": f"A comment event occurred in the following AWS CodeCommit repository: {repository}.",
        },
        repository=repository,
        region=region,
        now=now,
    )
