"""The repository activity function against the sandbox: real pushes, real events, notices read back from SNS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pygit2
import pytest
from pygit2.enums import FileMode
from pygit2.remotes import RemoteCollection

from codereflex.errors import TransientError
from codereflex.gitremote import CodeCommitCredentials
from sandbox.local import Sandbox

FUNCTION = "RepoActivityFunction"
AUTHOR = pygit2.Signature("Test", "test@example.com")


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(function_env={"POWERTOOLS_METRICS_DISABLED": "true"}) as running:
        yield running


class Clone:
    """A local repository that pushes to the sandbox with codereflex's credential provider."""

    def __init__(self, sandbox: Sandbox, path: Path, name: str) -> None:
        self.sandbox = sandbox
        url = sandbox.create_repository(name)
        self.repo = pygit2.init_repository(str(path), bare=True)
        self.remote = RemoteCollection(self.repo).create("origin", url)  # type: ignore[arg-type,no-untyped-call]
        self.tip: pygit2.Oid | None = None

    def commit(self, message: str, parents: list[pygit2.Oid | str] | None = None) -> pygit2.Oid:
        builder = self.repo.TreeBuilder()
        builder.insert("file.txt", self.repo.create_blob(message.encode()), FileMode.BLOB)
        parents = parents if parents is not None else ([self.tip] if self.tip else [])
        self.tip = self.repo.create_commit(None, AUTHOR, AUTHOR, message, builder.write(), parents)
        return self.tip

    def push(self, ref: str, target: pygit2.Oid | None, *, force: bool = False) -> None:
        if target is None:
            refspec = f":{ref}"
        else:
            self.repo.create_reference_direct(ref, target, True)
            refspec = f"{'+' if force else ''}{ref}:{ref}"
        self.remote.push([refspec], callbacks=CodeCommitCredentials(self.sandbox.developer, self.sandbox.region))
        self.sandbox.settle()


@pytest.fixture
def clone(sandbox: Sandbox, tmp_path: Path) -> Clone:
    return Clone(sandbox, tmp_path / "work.git", "inventory")


def _events(sandbox: Sandbox) -> list[str]:
    return [notice.attributes["event"] for notice in sandbox.notices()]


def test_a_force_push_to_main_is_announced_as_one(sandbox: Sandbox, clone: Clone) -> None:
    # Given main with two commits
    first = clone.commit("one")
    second = clone.commit("two")
    clone.push("refs/heads/main", second)
    assert _events(sandbox) == ["branch-created"]
    # When main is rewritten to drop the second commit
    rewritten = clone.commit("two, rewritten", parents=[first])
    clone.push("refs/heads/main", rewritten, force=True)
    # Then exactly one notice arrives, says force-push, and names who, old and new
    notices = sandbox.notices()
    assert [n.attributes["event"] for n in notices] == ["force-push"]
    notice = notices[0]
    assert notice.subject == "[codereflex] Force-push to protected branch main in inventory"
    assert f"Old commit:  {second}" in notice.message
    assert f"New commit:  {rewritten}" in notice.message
    assert f"Who:         {sandbox.developer_arn}" in notice.message
    assert notice.attributes == {
        "repository": "inventory",
        "reference": "refs/heads/main",
        "referenceType": "branch",
        "event": "force-push",
        "activity": "force-push",
    }


def test_an_unrelated_history_pushed_over_main_reaches_force_push_subscribers(sandbox: Sandbox, clone: Clone) -> None:
    # Given main with history, and a subscriber that takes force-pushes only (as the README shows)
    clone.push("refs/heads/main", old := clone.commit("one"))
    sandbox.notices()
    force_pushes = sandbox.subscribe("ForcePushes", {"event": ["force-push"]})
    # When a history with no commit in common (an orphan root) is force-pushed over main
    orphan = clone.commit("a new root", parents=[])
    clone.push("refs/heads/main", orphan, force=True)
    # Then one notice says so, as its own activity and as a force-push
    [notice] = sandbox.notices()
    assert notice.attributes["event"] == "force-push"
    assert notice.attributes["activity"] == "force-push-unrelated-history"
    assert notice.subject == "[codereflex] Force-push of unrelated history to protected branch main in inventory"
    assert "FORCE-PUSH WITHOUT COMMON HISTORY" in notice.message
    assert f"git push origin {old}:refs/heads/main" in notice.message
    # And the subscriber filtering on force-pushes got it
    assert [n.attributes["activity"] for n in sandbox.notices(force_pushes)] == ["force-push-unrelated-history"]


def test_filters_on_the_activity_tell_the_two_kinds_of_force_push_apart(sandbox: Sandbox, clone: Clone) -> None:
    # Given subscribers filtering on the activity: by its prefix, and on unrelated history alone
    prefixed = sandbox.subscribe("AnyForcePush", {"activity": [{"prefix": "force-push"}]})
    unrelated = sandbox.subscribe("UnrelatedOnly", {"activity": ["force-push-unrelated-history"]})
    # When main is created, pushed to, rewritten, and replaced by an unrelated history
    clone.push("refs/heads/main", first := clone.commit("one"))
    clone.push("refs/heads/main", clone.commit("two", parents=[first]))
    clone.push("refs/heads/main", clone.commit("two, rewritten", parents=[first]), force=True)
    clone.push("refs/heads/main", clone.commit("another root", parents=[]), force=True)
    # Then each got exactly the force-pushes it asked for
    assert [n.attributes["activity"] for n in sandbox.notices(prefixed)] == [
        "force-push",
        "force-push-unrelated-history",
    ]
    assert [n.attributes["activity"] for n in sandbox.notices(unrelated)] == ["force-push-unrelated-history"]


def test_a_fast_forward_is_a_plain_push_and_other_branches_are_quiet(sandbox: Sandbox, clone: Clone) -> None:
    clone.push("refs/heads/main", clone.commit("one"))
    clone.push("refs/heads/main", clone.commit("two"))
    clone.push("refs/heads/topic", clone.commit("three"))
    clone.push("refs/heads/topic", clone.commit("four"))
    assert _events(sandbox) == ["branch-created", "push"]


def test_deleted_branches_and_tags_are_announced(sandbox: Sandbox, clone: Clone) -> None:
    # Given a branch and a tag
    tip = clone.commit("one")
    clone.push("refs/heads/topic", tip)
    clone.push("refs/tags/v1.0", tip)
    # When both are deleted
    clone.push("refs/heads/topic", None)
    clone.push("refs/tags/v1.0", None)
    # Then each deletion is one notice
    assert _events(sandbox) == ["branch-deleted", "tag-deleted"]


def test_a_duplicate_delivery_sends_no_second_message(sandbox: Sandbox, clone: Clone) -> None:
    # Given a deletion that was announced
    clone.push("refs/heads/topic", clone.commit("one"))
    clone.push("refs/heads/topic", None)
    assert _events(sandbox) == ["branch-deleted"]
    event = sandbox.deliveries[-1].event
    # When EventBridge delivers the same event twice more
    again = [sandbox.invoke(FUNCTION, event) for _ in range(2)]
    # Then the function reports duplicates and the topic stays quiet
    assert again == [{"outcome": "duplicate", "activity": "branch-deleted"}] * 2
    assert sandbox.notices() == []


def test_protected_branches_come_from_the_template_parameter(tmp_path: Path) -> None:
    # Given a stack deployed with ProtectedBranches=release/*
    with Sandbox(parameters={"ProtectedBranches": "release/*"}) as sandbox:
        clone = Clone(sandbox, tmp_path / "work.git", "inventory")
        # When main and a release branch are pushed
        clone.push("refs/heads/main", clone.commit("one"))
        clone.push("refs/heads/release/1.0", clone.commit("two"))
        # Then only the release branch is announced
        assert [n.subject for n in sandbox.notices()] == [
            "[codereflex] Protected branch release/1.0 created in inventory"
        ]


def test_a_malformed_event_is_rejected_once_with_a_reason(
    sandbox: Sandbox, load_event: Callable[[str], dict[str, Any]]
) -> None:
    # Given an event whose detail lost its repository name
    event = load_event("repo_activity/branch_deleted.json")
    del event["detail"]["repositoryName"]
    # When the function gets it
    result = sandbox.invoke(FUNCTION, event)
    # Then it returns (no Lambda retry), says why, and sends nothing
    assert result["outcome"] == "rejected"
    assert result["reason"] == "bad-event"
    assert "repositoryName" in result["error"]
    assert sandbox.notices() == []


def test_an_update_to_a_repository_that_is_gone_is_rejected(
    sandbox: Sandbox, load_event: Callable[[str], dict[str, Any]]
) -> None:
    # Given a push event for a repository the account does not have
    result = sandbox.invoke(FUNCTION, load_event("repo_activity/force_push_main.json"))
    # Then the function gives up for good, naming the reason
    assert (result["outcome"], result["reason"]) == ("rejected", "target-gone")


def test_a_failed_publish_is_retried_and_then_sent_once(
    sandbox: Sandbox, load_event: Callable[[str], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SNS throttles the first publish
    import botocore.client

    real_call = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]
    failures = {"left": 1}

    def flaky(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "Publish" and failures["left"]:
            failures["left"] -= 1
            error = {"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}
            raise botocore.exceptions.ClientError(error, operation)  # type: ignore[arg-type]
        return real_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", flaky)
    event = load_event("repo_activity/branch_deleted.json")
    # When the first attempt fails, Lambda retries the same event
    with pytest.raises(TransientError):
        sandbox.invoke(FUNCTION, event)
    assert sandbox.notices() == []
    retried = sandbox.invoke(FUNCTION, event)
    # Then the retry publishes, exactly once
    assert retried["outcome"] == "published"
    assert _events(sandbox) == ["branch-deleted"]
