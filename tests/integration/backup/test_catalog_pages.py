"""A long history: older catalog entries move to pages, the catalog stays small, and nothing is lost."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from codereflex.backup.backup import back_up
from codereflex.backup.catalog import list_backups
from codereflex.backup.job import BackupRequest, Outcome
from codereflex.backup.model import Layout
from codereflex.backup.restore import NoBackup, restore, verify
from codereflex.errors import TransientError
from tests.integration.backup.conftest import Backups, Git
from tests.integration.backup.test_faults import CountingStore, RefusingStore

LAYOUT = Layout("backups/", "source")
PAGE = 2  # entries per page: pages after the fourth backup


def _history(backups: Backups, git: Git, count: int) -> list[tuple[str, str]]:
    """`count` pushes, each backed up; (backup id, `git show-ref` of the source then) for each."""
    taken: list[tuple[str, str]] = []
    for number in range(count):
        git.commit(f"commit {number}")
        git.push("HEAD:refs/heads/main")
        if number % 3 == 2:
            git.run("tag", f"v{number}", cwd=git.work)
            git.push(f"refs/tags/v{number}")
        result = backups.run()
        assert result.outcome is Outcome.BACKED_UP and result.backup_id is not None
        taken.append((result.backup_id, git.show_ref(git.source)))
    return taken


def _stored_catalog(backups: Backups) -> dict[str, object]:
    stored = backups.store.get(LAYOUT.catalog)
    assert stored is not None
    return dict(json.loads(stored.data))


@pytest.fixture
def paged(backups: Backups) -> Backups:
    backups.policy = replace(backups.policy, catalog_page_entries=PAGE)
    return backups


def test_older_entries_move_to_pages_and_every_backup_still_restores(paged: Backups, git: Git, tmp_path: Path) -> None:
    # Given eleven backups with two entries per page
    taken = _history(paged, git, 11)
    # Then the catalog object holds fewer than two pages' worth of entries and names the pages
    stored = _stored_catalog(paged)
    assert len(stored["backups"]) < 2 * PAGE  # type: ignore[arg-type]
    assert len(stored["pages"]) == (11 - PAGE) // PAGE  # type: ignore[arg-type]
    # And the list still shows every backup, in order
    listed = list_backups(paged.store, "backups/", "source")
    assert [entry.backup_id for entry in listed.entries] == [backup for backup, _ in taken]
    # And restoring at each backup's time gives exactly the refs of that moment, fsck-clean
    for number, entry in enumerate(listed.entries):
        target = tmp_path / f"restored-{number}"
        restore(paged.store, "backups/", "source", target, at=entry.time)
        assert git.show_ref(target) == taken[number][1], entry.backup_id
        git.fsck(target)
    # And the chains verify
    assert verify(paged.store, "backups/", "source", tmp_path / "verify") == (11, [])


def test_a_backup_and_a_restore_of_the_latest_read_no_page(paged: Backups, git: Git, tmp_path: Path) -> None:
    # Given a paged history
    _history(paged, git, 8)
    git.commit("one more")
    git.push("HEAD:refs/heads/main")
    counting = CountingStore(paged.store)
    # When the next push is backed up, and the latest state restored
    result = back_up(BackupRequest("source", str(git.source)), paged.policy, replace(paged.parts, store=counting))
    backup_calls = list(counting.calls)
    counting.calls.clear()
    restore(counting, "backups/", "source", tmp_path / "latest")
    # Then the backup made the four requests of any warm backup, plus one page write at most,
    # and the restore read the catalog and the manifest only (and downloaded the chain)
    assert result.outcome is Outcome.BACKED_UP
    assert backup_calls in (["put", "upload", "put", "put"], ["put", "upload", "put", "put", "put"])
    assert counting.calls == ["get", "get"]
    assert git.show_ref(tmp_path / "latest") == git.show_ref(git.source)


def test_the_sweep_adopts_an_uncatalogued_manifest_and_nothing_paged(paged: Backups, git: Git) -> None:
    # Given a paged history, then a run that wrote its manifest and failed to catalogue it
    _history(paged, git, 7)
    git.commit("lost")
    git.push("HEAD:refs/heads/main")
    refusing = RefusingStore(paged.store, "catalog.json", spare=1)
    with pytest.raises(TransientError):
        back_up(BackupRequest("source", str(git.source)), paged.policy, replace(paged.parts, store=refusing))
    paged.clock.now += timedelta(seconds=paged.policy.lease_seconds)
    # When the sweep backs the repository up
    result = back_up(BackupRequest("source", str(git.source), look_for_orphans=True), paged.policy, paged.parts)
    # Then it adopted exactly that one manifest (the paged ones are catalogued), and all eight are listed
    assert (result.outcome, result.adopted) == (Outcome.UNCHANGED, 1)
    assert [entry.sequence for entry in list_backups(paged.store, "backups/", "source").entries] == list(range(1, 9))


def test_a_restore_by_id_reads_only_the_page_that_holds_it(paged: Backups, git: Git, tmp_path: Path) -> None:
    # Given eleven backups, the oldest eight in four pages of two
    taken = _history(paged, git, 11)
    assert len(_stored_catalog(paged)["pages"]) == 4  # type: ignore[arg-type]
    counting = CountingStore(paged.store)
    for number, (backup, refs) in enumerate(taken):
        # When each backup is restored by its id
        counting.calls.clear()
        target = tmp_path / f"restored-{number}"
        manifest = restore(counting, "backups/", "source", target, backup=backup)
        # Then it has that moment's refs, and the choice read the catalog and at most the one page
        # its sequence falls in (then the manifests of its chain, each naming its base, back to the
        # chain's full bundle; the bundles' downloads are not gets)
        assert (manifest.backup_id, git.show_ref(target)) == (backup, refs)
        paged_reads = 1 if number < 8 else 0
        chain = number % (paged.policy.full_every + 1) + 1
        assert counting.calls == ["get"] * (1 + paged_reads + chain), backup


def test_an_unknown_id_reads_at_most_the_page_its_sequence_falls_in(paged: Backups, git: Git, tmp_path: Path) -> None:
    # Given a paged history
    taken = _history(paged, git, 7)
    counting = CountingStore(paged.store)
    # When ids that name no backup are asked for: a later sequence, a known sequence with another time, no id at all
    first = taken[0][0]
    for wanted in ("00000099-20261123T120000Z", first.replace("-2026", "-2025"), "latest"):
        counting.calls.clear()
        with pytest.raises(NoBackup, match="`codereflex backup list source` shows the ids"):
            restore(counting, "backups/", "source", tmp_path / "x", backup=wanted)
        # Then only the catalog, and the page the sequence falls in, were read; nothing was restored
        assert counting.calls == (["get", "get"] if wanted.startswith("00000001") else ["get"]), wanted
        assert not (tmp_path / "x").exists()
