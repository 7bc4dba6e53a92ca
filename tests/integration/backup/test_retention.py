"""Retention: backups older than `keep_for` go a whole bundle chain at a time; what stays restores."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from codereflex.backup.catalog import list_backups, read_catalog
from codereflex.backup.job import BackupResult, Outcome
from codereflex.backup.model import Layout
from codereflex.backup.restore import NoBackup, restore, verify
from codereflex.backup.retention import prune
from tests.integration.backup.conftest import Backups, Git
from tests.integration.backup.test_faults import CountingStore

LAYOUT = Layout("backups/", "source")


def _history(backups: Backups, git: Git, count: int) -> tuple[list[BackupResult], dict[str, str]]:
    """`count` backups of a growing main (full_every=3: chains of four backups)."""
    results: list[BackupResult] = []
    expected: dict[str, str] = {}
    for number in range(count):
        git.commit(f"commit {number}")
        git.push("HEAD:refs/heads/main")
        results.append(backups.run())
        assert results[-1].outcome is Outcome.BACKED_UP
        expected[results[-1].backup_id or ""] = git.show_ref(git.source)
    return results, expected


@pytest.mark.parametrize("page_entries", [128, 2], ids=["catalog-inline", "catalog-paged"])
def test_whole_old_chains_go_and_every_remaining_backup_restores(
    backups: Backups, git: Git, tmp_path: Path, page_entries: int
) -> None:
    # Given two chains (backups 1-4 and 5-8) and a third begun (9), their catalog entries inline
    # or (two per page) mostly in catalog pages
    backups.policy = replace(backups.policy, catalog_page_entries=page_entries)
    results, expected = _history(backups, git, 9)
    assert [r.full for r in results] == [True, False, False, False, True, False, False, False, True]
    catalog = list_backups(backups.store, "backups/", "source")
    # When the retention cutoff falls inside the second chain (after backup 6)
    cutoff = catalog.entries[5].time + timedelta(seconds=1)
    keep_for = timedelta(minutes=60)
    backups.clock.now = cutoff + keep_for - timedelta(minutes=1)  # the clock adds a minute per reading
    removed = prune("source", replace(backups.policy, keep_for=keep_for), backups.parts)
    # Then only the first chain went: the second has a backup newer than the cutoff
    assert removed == tuple(r.backup_id for r in results[:4])
    remaining = list_backups(backups.store, "backups/", "source")
    assert [e.backup_id for e in remaining.entries] == [r.backup_id for r in results[4:]]
    # And its manifests and bundles are gone from the bucket, the rest are there
    keys = set(backups.store.keys(LAYOUT.root))
    for result in results[:4]:
        assert LAYOUT.manifest(result.backup_id or "") not in keys
        assert LAYOUT.bundle(result.backup_id or "") not in keys
    for result in results[4:]:
        assert LAYOUT.bundle(result.backup_id or "") in keys
    # And the only catalog pages left are those the catalog names (none name a pruned backup)
    stored = read_catalog(backups.store, LAYOUT)[0]
    assert {key for key in keys if key.startswith(f"{LAYOUT.root}catalog/")} == {page.key for page in stored.pages}
    assert bool(stored.pages) is (page_entries == 2)
    # And every backup still offered restores exactly, fsck-clean, and the chains verify
    for number, entry in enumerate(remaining.entries):
        target = tmp_path / f"restored-{number}"
        restore(backups.store, "backups/", "source", target, at=entry.time)
        assert git.show_ref(target) == expected[entry.backup_id]
        git.fsck(target)
    assert verify(backups.store, "backups/", "source", tmp_path / "verify") == (5, [])
    # And a moment before the oldest remaining backup has nothing to restore
    with pytest.raises(NoBackup):
        restore(
            backups.store,
            "backups/",
            "source",
            tmp_path / "too-old",
            at=remaining.entries[0].time - timedelta(seconds=1),
        )


def test_the_latest_backup_and_its_chain_always_stay(backups: Backups, git: Git, tmp_path: Path) -> None:
    # Given a chain of three backups, all older than the retention
    _, expected = _history(backups, git, 3)
    backups.clock.now += timedelta(days=400)
    policy = replace(backups.policy, keep_for=timedelta(days=30))
    # When pruned (twice: a duplicate sweep)
    first = prune("source", policy, backups.parts)
    second = prune("source", policy, backups.parts)
    # Then nothing went: the latest backup needs the whole chain
    assert first == second == ()
    latest = list_backups(backups.store, "backups/", "source").entries[-1]
    restore(backups.store, "backups/", "source", tmp_path / "latest")
    assert git.show_ref(tmp_path / "latest") == expected[latest.backup_id]


def test_without_a_retention_nothing_is_pruned(backups: Backups, git: Git) -> None:
    _history(backups, git, 5)
    backups.clock.now += timedelta(days=4000)
    assert prune("source", backups.policy, backups.parts) == ()
    assert len(list_backups(backups.store, "backups/", "source").entries) == 5


def test_a_sweep_with_nothing_old_enough_writes_nothing(backups: Backups, git: Git) -> None:
    # Given recent backups and a retention far longer than their age
    _history(backups, git, 3)
    counting = CountingStore(backups.store)
    # When the sweep prunes
    removed = prune(
        "source", replace(backups.policy, keep_for=timedelta(days=30)), replace(backups.parts, store=counting)
    )
    # Then nothing went and nothing was written (not even the lease): at most the catalog was read
    assert removed == ()
    assert set(counting.calls) <= {"get"}
