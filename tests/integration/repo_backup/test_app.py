"""The backup function in the sandbox: pushes reach it through EventBridge routing; restores use real git."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pygit2
import pytest
from pygit2.enums import FileMode
from pygit2.remotes import RemoteCollection

from codereflex.aws.s3 import S3ObjectStore
from codereflex.backup.catalog import list_backups
from codereflex.backup.restore import restore
from codereflex.errors import TransientError
from codereflex.gitremote import CodeCommitCredentials
from sandbox.local import Sandbox

AUTHOR = pygit2.Signature("Backup Test", "backup@example.com", 1_700_000_000, 0)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    quiet = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
    with Sandbox(function_env={**quiet, "BACKUP_WORK_DIR": str(tmp_path / "lambda-tmp")}) as running:
        yield running


class Pusher:
    """A local bare repository pushing to the sandbox with codereflex's SigV4 credentials."""

    def __init__(self, sandbox: Sandbox, path: Path, url: str) -> None:
        self.sandbox = sandbox
        self.repo = pygit2.init_repository(str(path), bare=True)
        self.remote = RemoteCollection(self.repo).create("origin", url)  # type: ignore[arg-type,no-untyped-call]

    def commit(self, message: str, parents: list[str | pygit2.Oid]) -> pygit2.Oid:
        builder = self.repo.TreeBuilder()
        builder.insert("file.txt", self.repo.create_blob(message.encode()), FileMode.BLOB)
        return self.repo.create_commit(None, AUTHOR, AUTHOR, message, builder.write(), parents)

    def push(self, *refspecs: str) -> None:
        self.remote.push(list(refspecs), callbacks=CodeCommitCredentials(self.sandbox.developer, self.sandbox.region))
        self.sandbox.settle()

    def set(self, name: str, oid: pygit2.Oid) -> None:
        self.repo.create_reference_direct(name, oid, True)


def _store(sandbox: Sandbox) -> S3ObjectStore:
    return S3ObjectStore(sandbox.client("s3"), sandbox.stack.refs["BackupBucket"])


def _show_ref(path: Path) -> str:
    done = subprocess.run(["git", "show-ref"], cwd=path, capture_output=True, text=True, check=False)
    return done.stdout


def _backup_results(sandbox: Sandbox) -> list[Any]:
    return [i.result for i in sandbox.deliveries if i.logical_id == "RepoBackupFunction"]


def test_pushes_force_push_and_deletion_are_each_restorable(sandbox: Sandbox, tmp_path: Path) -> None:
    # Given a repository with a description, and a developer pushing to it
    url = sandbox.create_repository("ledger", "General ledger")
    dev = Pusher(sandbox, tmp_path / "dev.git", url)
    states: list[str] = []

    def backed_up_state() -> None:
        states.append(_show_ref(sandbox.store.path_for("ledger")))

    # When main is pushed, then a feature branch, then main is force-pushed, then the feature is deleted
    first = dev.commit("first", [])
    dev.set("refs/heads/main", first)
    dev.push("refs/heads/main")
    backed_up_state()
    second = dev.commit("second", [first])
    dev.set("refs/heads/feature", second)
    dev.push("refs/heads/feature")
    backed_up_state()
    rewritten = dev.commit("rewritten", [])
    dev.set("refs/heads/main", rewritten)
    dev.push("+refs/heads/main")
    backed_up_state()
    dev.push(":refs/heads/feature")
    backed_up_state()
    # Then every push became one backup (each event ran the function; later ones found nothing new)
    assert all(invocation.ok for invocation in sandbox.deliveries), [i.error for i in sandbox.deliveries]
    assert [r["outcome"] for r in _backup_results(sandbox)].count("backed-up") == 4
    catalog = list_backups(_store(sandbox), "backups/", "ledger")
    assert len(catalog.entries) == 4
    # And each backup restores to exactly the refs of its moment, fsck-clean, the force-pushed commit included
    for number, (entry, expected) in enumerate(zip(catalog.entries, states, strict=True)):
        target = tmp_path / f"restore-{number}"
        manifest = restore(_store(sandbox), "backups/", "ledger", target, at=entry.time)
        assert _show_ref(target) == expected
        subprocess.run(["git", "fsck", "--full"], cwd=target, check=True, capture_output=True)
        assert manifest.metadata["description"] == "General ledger"
    assert str(first) in _show_ref(tmp_path / "restore-0")
    # And when the first push's event arrives again, late and out of order, nothing changes
    first_event = next(i.event for i in sandbox.deliveries if i.logical_id == "RepoBackupFunction")
    assert sandbox.invoke("RepoBackupFunction", first_event)["outcome"] == "unchanged"
    assert list_backups(_store(sandbox), "backups/", "ledger") == catalog


def test_a_deleted_repository_is_rejected_with_a_reason_and_stays_restorable(sandbox: Sandbox, tmp_path: Path) -> None:
    # Given a backed-up repository that is then deleted
    url = sandbox.create_repository("ledger")
    dev = Pusher(sandbox, tmp_path / "dev.git", url)
    dev.set("refs/heads/main", dev.commit("first", []))
    dev.push("refs/heads/main")
    before = _show_ref(sandbox.store.path_for("ledger"))
    sandbox.client("codecommit").delete_repository(repositoryName="ledger")
    # When an event for it arrives (late, or replayed)
    result = sandbox.invoke("RepoBackupFunction", _event_for("ledger"))
    # Then it is a permanent, explained rejection (no retry), not a crash
    assert (result["outcome"], result["reason"]) == ("rejected", "target-gone")
    # And the backups of the deleted repository still restore
    restore(_store(sandbox), "backups/", "ledger", tmp_path / "restored")
    assert _show_ref(tmp_path / "restored") == before


def test_pull_requests_with_comments_and_approvals_are_kept_beside_the_refs(sandbox: Sandbox, tmp_path: Path) -> None:
    # Given a repository with a pull request that has a comment
    url = sandbox.create_repository("ledger", "General ledger")
    dev = Pusher(sandbox, tmp_path / "dev.git", url)
    base = dev.commit("base", [])
    dev.set("refs/heads/main", base)
    dev.set("refs/heads/feature", dev.commit("feature", [base]))
    dev.push("refs/heads/main", "refs/heads/feature")
    codecommit = sandbox.client("codecommit")
    pull_request = codecommit.create_pull_request(
        title="Add feature",
        targets=[{"repositoryName": "ledger", "sourceReference": "feature", "destinationReference": "main"}],
    )["pullRequest"]
    target = pull_request["pullRequestTargets"][0]
    codecommit.post_comment_for_pull_request(
        pullRequestId=pull_request["pullRequestId"],
        repositoryName="ledger",
        beforeCommitId=target["destinationCommit"],
        afterCommitId=target["sourceCommit"],
        content="Looks right",
    )
    # When the next push is backed up
    dev.set("refs/tags/v1", base)
    dev.push("refs/tags/v1")
    # Then its manifest keeps the pull request, its comment and its approval states
    manifest = restore(_store(sandbox), "backups/", "ledger", tmp_path / "restored")
    kept = manifest.metadata["pullRequests"]
    assert [pr["title"] for pr in kept] == ["Add feature"]
    assert [comment["content"] for comment in kept[0]["comments"]] == ["Looks right"]
    assert kept[0]["approvals"] == []
    assert manifest.metadata["defaultBranch"] == "main"


def test_the_sweep_backs_up_what_changed_and_skips_the_rest(sandbox: Sandbox, tmp_path: Path) -> None:
    # Given two repositories with commits whose events never came (imported as they are), and an empty one
    for name in ("alpha", "beta"):
        source = pygit2.init_repository(str(tmp_path / f"{name}.git"), bare=True)
        builder = source.TreeBuilder()
        builder.insert("README", source.create_blob(name.encode()), FileMode.BLOB)
        source.create_commit("refs/heads/main", AUTHOR, AUTHOR, name, builder.write(), [])
        sandbox.import_repository(name, tmp_path / f"{name}.git")
    sandbox.create_repository("empty")
    # When the daily sweep runs, twice
    first = sandbox.router.invoke_scheduled("RepoBackupFunction", env_overrides=sandbox.function_env())
    second = sandbox.router.invoke_scheduled("RepoBackupFunction", env_overrides=sandbox.function_env())
    # Then the first backs up all three (the empty one as an empty backup), the second finds nothing new
    assert first.ok and second.ok, (first.error, second.error)
    assert sorted(first.result["backedUp"]) == ["alpha", "beta", "empty"]
    assert sorted(second.result["unchanged"]) == ["alpha", "beta", "empty"]
    # And no mirror is left behind in the function's /tmp
    assert not list((tmp_path / "lambda-tmp" / "mirrors").glob("*.git"))


def test_a_transient_failure_is_raised_for_lambda_to_retry(sandbox: Sandbox, tmp_path: Path) -> None:
    # Given a pushed repository, and S3 answering the function with an error that is not permanent
    url = sandbox.create_repository("ledger")
    dev = Pusher(sandbox, tmp_path / "dev.git", url)
    dev.set("refs/heads/main", dev.commit("first", []))
    dev.push("refs/heads/main")
    broken = {**sandbox.function_env(), "BACKUP_BUCKET": "no-such-bucket"}
    # When the function handles the event
    invocations = sandbox.router.route(_event_for("ledger"), env_overrides=broken)
    # Then it raises a transient error (Lambda retries, then the failure destination) instead of succeeding
    mine = [i for i in invocations if i.logical_id == "RepoBackupFunction"]
    assert len(mine) == 1
    assert isinstance(mine[0].error, TransientError)


def _event_for(repository: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "0f0e0d0c-0b0a-4909-8807-060504030201",
        "detail-type": "CodeCommit Repository State Change",
        "source": "aws.codecommit",
        "account": "123456789012",
        "time": "2026-11-23T10:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:codecommit:us-east-1:123456789012:{repository}"],
        "detail": {
            "repositoryName": repository,
            "event": "referenceCreated",
            "referenceType": "branch",
            "referenceName": "main",
            "referenceFullName": "refs/heads/main",
            "commitId": "9b2e4f6a8c0d1e3f5a7b9c1d3e5f7a9b1c3d5e7f",
        },
    }


def test_a_new_sandbox_is_a_new_deployment_whose_function_remembers_nothing(tmp_path: Path) -> None:
    # Given a backup in one sandbox, whose function then remembers that bucket's catalog
    quiet = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
    remembered = []
    for number in (1, 2):
        env = {**quiet, "BACKUP_WORK_DIR": str(tmp_path / f"lambda-tmp-{number}")}
        with Sandbox(function_env=env) as sandbox:
            url = sandbox.create_repository("same-name")
            dev = Pusher(sandbox, tmp_path / f"dev-{number}.git", url)
            dev.set("refs/heads/main", dev.commit(f"sandbox {number}", []))
            dev.push("refs/heads/main")
            remembered.append(sys.modules["repo_backup.app"]._warm())
            # Then each sandbox's backup restores its own repository (same bucket and key names)
            restore(_store(sandbox), "backups/", "same-name", tmp_path / f"restored-{number}")
            assert _show_ref(tmp_path / f"restored-{number}") == _show_ref(sandbox.store.path_for("same-name"))
    # And the second deployment's function did not start with the first one's memory
    assert remembered[0] is not remembered[1]
