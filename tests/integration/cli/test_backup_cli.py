"""`codereflex backup list|restore|verify` against backups the function made in the sandbox."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pygit2
import pytest
from pygit2.enums import FileMode
from pygit2.remotes import RemoteCollection

from codereflex.aws.s3 import S3ObjectStore
from codereflex.backup.catalog import list_backups
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


def _pushes(sandbox: Sandbox, tmp_path: Path, count: int) -> list[str]:
    """`count` pushes to `ledger`, each backed up by the function; the show-ref of each moment.

    After two commits on main, the third push adds a tag and a branch, the fourth force-pushes main
    back to its first commit and deletes the branch: every moment has refs the next one lacks.
    """
    url = sandbox.create_repository("ledger", "General ledger")
    repo = pygit2.init_repository(str(tmp_path / "dev.git"), bare=True)
    remote = RemoteCollection(repo).create("origin", url)  # type: ignore[arg-type,no-untyped-call]

    def commit(message: str, parents: list[str | pygit2.Oid]) -> pygit2.Oid:
        builder = repo.TreeBuilder()
        builder.insert("ledger.txt", repo.create_blob(message.encode()), FileMode.BLOB)
        return repo.create_commit(None, AUTHOR, AUTHOR, message, builder.write(), parents)

    first = commit("first", [])
    second = commit("second", [first])
    steps: list[tuple[dict[str, pygit2.Oid], list[str]]] = [
        ({"refs/heads/main": first}, ["+refs/heads/main"]),
        ({"refs/heads/main": second}, ["+refs/heads/main"]),
        ({"refs/tags/v1": first, "refs/heads/audit": commit("audit", [second])}, ["refs/tags/v1", "refs/heads/audit"]),
        ({"refs/heads/main": first}, ["+refs/heads/main", ":refs/heads/audit"]),
    ]
    states = []
    for refs, refspecs in steps[:count]:
        for name, oid in refs.items():
            repo.create_reference_direct(name, oid, True)
        remote.push(refspecs, callbacks=CodeCommitCredentials(sandbox.developer, sandbox.region))
        sandbox.settle()
        states.append(_show_ref(sandbox.store.path_for("ledger")))
    assert len(set(states)) == count  # every moment differs from the others
    return states


def _listed(output: str) -> list[tuple[str, str]]:
    """(backup id, time) of each backup, as `codereflex backup list` printed them."""
    header, *rows = output.splitlines()
    assert header.split()[:2] == ["backup", "time"]
    return [(row.split()[0], row.split()[1]) for row in rows]


def _show_ref(path: Path) -> str:
    return subprocess.run(["git", "show-ref"], cwd=path, capture_output=True, text=True, check=False).stdout


def test_list_restore_at_a_time_and_verify(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two backups made by the function
    states = _pushes(sandbox, tmp_path, 2)
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
    states = _pushes(sandbox, tmp_path, 2)
    # When the latest state is restored and pushed to a new CodeCommit repository
    assert main(["backup", "restore", "ledger", "--to", str(tmp_path / "now"), "--push-to", "ledger-restored"]) == 0
    sandbox.settle()
    # Then the new repository has the refs of the latest backup
    assert _show_ref(sandbox.store.path_for("ledger-restored")) == states[-1]


def test_restore_before_the_first_backup_fails_clearly(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a backed-up repository
    _pushes(sandbox, tmp_path, 2)
    # When a time before any backup is asked for
    code = main(["backup", "restore", "ledger", "--at", "2000-01-01T00:00:00Z", "--to", str(tmp_path / "x")])
    # Then the command fails and says why
    assert code == 1
    assert "no backup of ledger at or before 2000-01-01" in capsys.readouterr().err


def test_every_backup_restores_by_its_id_and_by_its_printed_time(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given four backups made by the function: pushes, a tag and a branch, a force-push and a deletion
    states = _pushes(sandbox, tmp_path, 4)
    # When the operator lists them
    assert main(["backup", "list", "ledger"]) == 0
    listed = _listed(capsys.readouterr().out)
    # Then each shows its id and its time to the microsecond, in UTC
    assert len(listed) == 4
    for _, printed in listed:
        assert datetime.fromisoformat(printed).utcoffset() == timedelta(0)
        assert len(printed.split(".")[1]) == len("123456+00:00")
    for number, (backup, printed) in enumerate(listed):
        # When each is restored by its id, and by the time the list printed
        by_id, by_time = tmp_path / f"id-{number}", tmp_path / f"time-{number}"
        assert main(["backup", "restore", "ledger", "--backup", backup, "--to", str(by_id)]) == 0
        said_by_id = capsys.readouterr()
        assert main(["backup", "restore", "ledger", "--at", printed, "--to", str(by_time)]) == 0
        said_by_time = capsys.readouterr()
        # Then both have exactly the refs of that moment, fsck-clean
        assert _show_ref(by_id) == states[number], backup
        assert _show_ref(by_time) == states[number], backup
        subprocess.run(["git", "fsck", "--full"], cwd=by_time, check=True, capture_output=True)
        # And the command said which backup it chose, and why
        assert f"Restoring backup {backup} ({printed}), by its id" in said_by_id.out
        assert f"Restoring backup {backup} ({printed}), the last at or before {printed}" in said_by_time.out
        # And the progress shows the small bundles' sizes in bytes or kilobytes, never as 0.0 MB
        assert "MB" not in said_by_time.err
        assert re.search(r"downloading \S+\.bundle \(\d+(\.\d)? K?B\)", said_by_time.err), said_by_time.err


def test_a_bad_time_or_an_unknown_id_fails_in_one_sentence(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two backups
    _pushes(sandbox, tmp_path, 2)
    assert main(["backup", "list", "ledger"]) == 0
    (first, first_time), _ = _listed(capsys.readouterr().out)
    target = str(tmp_path / "x")
    cases = {
        "not a time": (["--at", "yesterday"], "--at 'yesterday' is not an ISO 8601 time"),
        "unknown id": (["--backup", "00000009-20000101T000000Z"], "`codereflex backup list ledger` shows the ids"),
        "not an id": (["--backup", "latest"], "ledger has no backup 'latest'"),
        "before the first": (
            ["--at", "2000-01-01"],
            f"at or before 2000-01-01T00:00:00+00:00: the earliest is at {first_time}",
        ),
    }
    for case, (arguments, message) in cases.items():
        # When the restore is asked for it
        code = main(["backup", "restore", "ledger", *arguments, "--to", target])
        # Then it exits non-zero with one line that says what is wrong, restoring nothing
        said = capsys.readouterr()
        assert code == 1, case
        assert said.err.count("\n") == 1 and message in said.err, (case, said.err)
        assert not Path(target).exists(), case
    # And a time and an id together are refused before anything is read
    with pytest.raises(SystemExit) as refused:
        main(["backup", "restore", "ledger", "--at", first_time, "--backup", first, "--to", target])
    assert refused.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
