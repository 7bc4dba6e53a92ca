"""`codereflex backup list|restore|verify` against backups the function made in the sandbox."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest
from pygit2.enums import FileMode
from pygit2.remotes import RemoteCollection

from codereflex.aws.s3 import S3ObjectStore
from codereflex.backup.engine import list_backups
from codereflex.cli.main import main
from codereflex.gitremote import CodeCommitCredentials
from sandbox.local import Sandbox

AUTHOR = pygit2.Signature("Cli Test", "cli@example.com", 1_700_000_000, 0)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    quiet = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
    with Sandbox(function_env={**quiet, "BACKUP_WORK_DIR": str(tmp_path / "lambda-tmp")}) as running:
        # The CLI runs as its operator, here the sandbox's developer (the functions have their own keys).
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", running.developer.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", running.developer.secret_key)
        monkeypatch.setenv("CODEREFLEX_BACKUP_BUCKET", running.stack.refs["BackupBucket"])
        yield running


def _push_history(sandbox: Sandbox, tmp_path: Path) -> list[str]:
    """Two pushes to `ledger` (each backed up by the function); the show-ref of each moment."""
    url = sandbox.create_repository("ledger", "General ledger")
    repo = pygit2.init_repository(str(tmp_path / "dev.git"), bare=True)
    remote = RemoteCollection(repo).create("origin", url)  # type: ignore[arg-type,no-untyped-call]
    states, parents = [], list[str | pygit2.Oid]()
    for message in ("first", "second"):
        builder = repo.TreeBuilder()
        builder.insert("ledger.txt", repo.create_blob(message.encode()), FileMode.BLOB)
        commit = repo.create_commit(None, AUTHOR, AUTHOR, message, builder.write(), parents)
        repo.create_reference_direct("refs/heads/main", commit, True)
        remote.push(["+refs/heads/main"], callbacks=CodeCommitCredentials(sandbox.developer, sandbox.region))
        sandbox.settle()
        parents = [commit]
        states.append(_show_ref(sandbox.store.path_for("ledger")))
    return states


def _show_ref(path: Path) -> str:
    return subprocess.run(["git", "show-ref"], cwd=path, capture_output=True, text=True, check=False).stdout


def test_list_restore_at_a_time_and_verify(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two backups made by the function
    states = _push_history(sandbox, tmp_path)
    entries = list_backups(
        S3ObjectStore(sandbox.client("s3"), sandbox.stack.refs["BackupBucket"]), "backups/", "ledger"
    )
    assert len(entries.entries) == 2
    # When the operator lists them
    assert main(["backup", "list", "ledger"]) == 0
    listing = capsys.readouterr().out
    # Then both appear, oldest first
    assert [entry.backup_id in listing for entry in entries.entries] == [True, True]
    # When the first moment is restored by time
    first_time = entries.entries[0].time.isoformat()
    assert main(["backup", "restore", "ledger", "--at", first_time, "--to", str(tmp_path / "then")]) == 0
    # Then the repository has exactly the refs of that moment, and git fsck is clean
    assert _show_ref(tmp_path / "then") == states[0]
    subprocess.run(["git", "fsck", "--full"], cwd=tmp_path / "then", check=True, capture_output=True)
    # And verify re-reads the chain and finds nothing wrong
    assert main(["backup", "verify", "ledger"]) == 0
    assert "2 backup(s) checked, 0 problem(s)" in capsys.readouterr().out


def test_restore_can_push_to_a_new_repository(sandbox: Sandbox, tmp_path: Path) -> None:
    # Given a backed-up repository
    states = _push_history(sandbox, tmp_path)
    # When the latest state is restored and pushed to a new CodeCommit repository
    assert main(["backup", "restore", "ledger", "--to", str(tmp_path / "now"), "--push-to", "ledger-restored"]) == 0
    sandbox.settle()
    # Then the new repository has the refs of the latest backup
    assert _show_ref(sandbox.store.path_for("ledger-restored")) == states[-1]


def test_restore_before_the_first_backup_fails_clearly(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a backed-up repository
    _push_history(sandbox, tmp_path)
    # When a time before any backup is asked for
    code = main(["backup", "restore", "ledger", "--at", "2000-01-01T00:00:00Z", "--to", str(tmp_path / "x")])
    # Then the command fails and says why
    assert code == 1
    assert "no backup of ledger at or before 2000-01-01" in capsys.readouterr().err
