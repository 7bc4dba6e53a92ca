"""Restore fidelity with real git: every backup restores to exactly the refs the source had, fsck-clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from codereflex.backup import backup as engine  # the backup run: these tests vary its bundle-index threshold
from codereflex.backup.catalog import list_backups, load_manifest
from codereflex.backup.job import BackupResult, Outcome
from codereflex.backup.model import Layout
from codereflex.backup.restore import restore, verify
from codereflex.errors import PermanentError
from tests.integration.backup.conftest import Backups, Git

LAYOUT = Layout("backups/", "source")


def _restore_each(backups: Backups, tmp_path: Path, expected: dict[str, str]) -> None:
    catalog = list_backups(backups.store, "backups/", "source")
    assert [entry.backup_id for entry in catalog.entries] == list(expected)
    for number, entry in enumerate(catalog.entries):
        target = tmp_path / f"restored-{number}"
        manifest = restore(backups.store, "backups/", "source", target, at=entry.time)
        assert manifest.backup_id == entry.backup_id
        assert backups.git.show_ref(target) == expected[entry.backup_id], entry.backup_id
        backups.git.fsck(target)


@pytest.mark.parametrize("unindexed_below", [engine.UNINDEXED_BUNDLE_BYTES, 0], ids=["small-unindexed", "all-indexed"])
def test_every_backup_of_a_busy_history_restores_exactly(
    backups: Backups, git: Git, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unindexed_below: int
) -> None:
    # (Bundles stored without their pack index, indexed by the restore; or each with its index.)
    monkeypatch.setattr(engine, "UNINDEXED_BUNDLE_BYTES", unindexed_below)
    expected: dict[str, str] = {}

    def snapshot() -> None:
        result = backups.run()
        assert result.outcome is Outcome.BACKED_UP
        assert result.backup_id is not None
        expected[result.backup_id] = git.show_ref(git.source)

    # Given an empty repository, backed up
    snapshot()
    # When it grows: branches, a lightweight and an annotated tag, a unicode branch, notes
    git.commit("first")
    git.push("HEAD:refs/heads/main")
    snapshot()
    git.commit("second")
    git.run("tag", "light", cwd=git.work)
    git.run("tag", "-a", "v1.0", "-m", "release one", cwd=git.work)
    git.run("notes", "add", "-m", "a note", cwd=git.work)
    git.push("HEAD:refs/heads/main", "HEAD:refs/heads/feature/ünïcødé-✓", "refs/tags/*:refs/tags/*", "refs/notes/*")
    snapshot()
    git.run("checkout", "-q", "-b", "topic", cwd=git.work)
    topic = git.commit("on topic")
    git.push("HEAD:refs/heads/topic")
    snapshot()
    # And a branch is deleted, then main is force-pushed back over its last commit
    git.push(":refs/heads/topic")
    snapshot()
    git.run("checkout", "-q", "main", cwd=git.work)
    git.run("reset", "-q", "--hard", "HEAD~1", cwd=git.work)
    git.commit("rewritten second")
    git.push("+HEAD:refs/heads/main")
    snapshot()
    # And then everything is deleted
    refs = [line.split()[1] for line in git.show_ref(git.source).splitlines()]
    git.push(*[f":{name}" for name in refs])
    snapshot()
    # Then every backup restores to exactly the refs of its moment, and fsck --full is clean
    _restore_each(backups, tmp_path, expected)
    # And the commit only the deleted branch had is still in the backup taken before the deletion
    restored = tmp_path / "restored-3"
    assert topic in git.run("rev-parse", "refs/heads/topic", cwd=restored)
    # And the chain verifies
    checked, problems = verify(backups.store, "backups/", "source", tmp_path / "verify")
    assert (checked, problems) == (len(expected), [])
    # And the pack indexes stored are exactly those the bundles' size called for
    chain = load_manifest(backups.store, LAYOUT.manifest(list(expected)[-2])).chain
    assert chain and all((link.index_key is None) == (link.size < unindexed_below) for link in chain)


def test_unchanged_refs_make_no_backup(backups: Backups, git: Git) -> None:
    # Given a backed-up repository
    git.commit("only")
    git.push("HEAD:refs/heads/main")
    first = backups.run()
    # When the same state is backed up again (a duplicate or late event, or the sweep)
    again = backups.run(event_id="duplicate")
    # Then nothing new is written
    assert again.outcome is Outcome.UNCHANGED
    assert again.backup_id == first.backup_id
    assert len(list_backups(backups.store, "backups/", "source").entries) == 1


def test_an_incremental_bundle_carries_only_the_new_objects(backups: Backups, git: Git) -> None:
    # Given a repository with some history, backed up in full
    for number in range(5):
        git.commit(f"commit {number}")
    git.push("HEAD:refs/heads/main")
    full = backups.run()
    # When one commit is pushed
    git.commit("one more")
    git.push("HEAD:refs/heads/main")
    incremental = backups.run()
    # Then the new bundle holds that commit, its tree and its blob only
    assert full.full and not incremental.full
    assert incremental.objects == 3


def test_a_new_chain_starts_after_full_every_incrementals(backups: Backups, git: Git, tmp_path: Path) -> None:
    # Given full_every=3: one full bundle, then three incrementals
    results: list[BackupResult] = []
    expected: dict[str, str] = {}
    for number in range(6):
        git.commit(f"commit {number}")
        git.push("HEAD:refs/heads/main")
        results.append(backups.run())
        expected[results[-1].backup_id or ""] = git.show_ref(git.source)
    # Then the fifth backup starts a new chain with a full bundle
    assert [result.full for result in results] == [True, False, False, False, True, False]
    # And backups of both chains restore to the source's refs of their moment
    _restore_each(backups, tmp_path, expected)


def test_a_restore_never_mixes_its_refs_into_a_repository_that_has_some(
    backups: Backups, git: Git, tmp_path: Path
) -> None:
    # Given a backup restored once (its refs are written all at once, as one packed-refs file)
    git.commit("only")
    git.push("HEAD:refs/heads/main", "HEAD:refs/heads/topic")
    backups.run()
    target = tmp_path / "restored"
    restore(backups.store, "backups/", "source", target)
    assert backups.git.show_ref(target) == git.show_ref(git.source)
    # When it is restored again into the same repository, Then it refuses instead of mixing refs
    with pytest.raises(PermanentError, match="restore into a new one"):
        restore(backups.store, "backups/", "source", target)
    assert backups.git.show_ref(target) == git.show_ref(git.source)
