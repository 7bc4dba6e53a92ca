"""Faults and races: a failed upload, a killed run, a lost catalog write, two runs at once."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from codereflex.aws.s3 import S3ObjectStore
from codereflex.backup import backup as engine  # the backup run: these tests vary its bundle-index threshold
from codereflex.backup.backup import back_up
from codereflex.backup.catalog import WarmCache, list_backups
from codereflex.backup.job import BackupRequest, BackupResult, Collaborators, Outcome
from codereflex.backup.lease import BackupInProgress
from codereflex.backup.model import Catalog, Layout, Lease
from codereflex.backup.restore import restore, verify
from codereflex.backup.store import Progress, Stored
from codereflex.errors import TransientError
from tests.integration.backup.conftest import Backups, Git

LAYOUT = Layout("backups/", "source")


class RefusingStore(S3ObjectStore):
    """The real S3 adapter, except that S3 refuses writes whose key ends with `refuse` while armed.

    With `spare`, that many such writes go through first (the catalog write that takes the lease).
    """

    def __init__(self, inner: S3ObjectStore, refuse: str, spare: int = 0) -> None:
        self.__dict__.update(inner.__dict__)
        self.refuse = refuse
        self.armed = True
        self.spare = spare

    def upload(self, key: str, path: Path, progress: Progress | None = None) -> None:
        if self.armed and key.endswith(self.refuse):
            raise TransientError(f"s3 upload {key}: SlowDown")
        super().upload(key, path, progress)

    def put(
        self,
        key: str,
        data: bytes,
        *,
        if_match: str | None = None,
        if_absent: bool = False,
        content_type: str | None = None,
    ) -> str:
        if self.armed and key.endswith(self.refuse):
            if self.spare == 0:
                raise TransientError(f"s3 PutObject {key}: InternalError")
            self.spare -= 1
        return super().put(key, data, if_match=if_match, if_absent=if_absent, content_type=content_type)


class CountingStore(S3ObjectStore):
    """The real S3 adapter, noting each request it makes (by method)."""

    def __init__(self, inner: S3ObjectStore) -> None:
        self.__dict__.update(inner.__dict__)
        self.calls: list[str] = []

    def get(self, key: str) -> Stored | None:
        self.calls.append("get")
        return super().get(key)

    def put(
        self,
        key: str,
        data: bytes,
        *,
        if_match: str | None = None,
        if_absent: bool = False,
        content_type: str | None = None,
    ) -> str:
        self.calls.append("put")
        return super().put(key, data, if_match=if_match, if_absent=if_absent, content_type=content_type)

    def upload(self, key: str, path: Path, progress: Progress | None = None) -> None:
        self.calls.append("upload")
        super().upload(key, path, progress)

    def keys(self, prefix: str) -> list[str]:
        self.calls.append("keys")
        return super().keys(prefix)

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        self.calls.append("delete")
        super().delete(key, if_match=if_match)


def _lease_left(backups: Backups) -> dict[str, Any] | None:
    """The lease as the catalog holds it (None when free)."""
    stored = backups.store.get(LAYOUT.catalog)
    assert stored is not None, "the catalog is gone"
    lease = json.loads(stored.data).get("lease")
    return None if lease is None else dict(lease)


def _two_backups(backups: Backups, git: Git) -> str:
    git.commit("first")
    git.push("HEAD:refs/heads/main")
    backups.run()
    git.commit("second")
    git.push("HEAD:refs/heads/main")
    backups.run()
    return git.show_ref(git.source)


@pytest.mark.parametrize("refuse", [".bundle", ".idx", "Z.json"], ids=["bundle", "index", "manifest"])
def test_a_refused_upload_keeps_earlier_backups_and_the_next_run_finishes(
    backups: Backups, git: Git, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refuse: str
) -> None:
    # Given two good backups, then a push (every bundle stored with its pack index, so that the
    # index upload can be refused too)
    monkeypatch.setattr(engine, "UNINDEXED_BUNDLE_BYTES", 0)
    before = _two_backups(backups, git)
    git.commit("third")
    git.push("HEAD:refs/heads/main")
    refusing = RefusingStore(backups.store, refuse)
    parts = replace(backups.parts, store=refusing)
    # When S3 refuses one of the writes of the third backup
    with pytest.raises(TransientError):
        back_up(BackupRequest("source", str(git.source)), backups.policy, parts)
    # Then the catalog still lists two backups, the latest restores, and the lease is free for the
    # next run at once (left expired, marked unfinished, so that run looks for what this one left)
    assert len(list_backups(backups.store, "backups/", "source").entries) == 2
    restore(backups.store, "backups/", "source", tmp_path / "before")
    assert git.show_ref(tmp_path / "before") == before
    lease = _lease_left(backups)
    assert lease is not None
    assert lease["unfinished"] is True
    assert datetime.fromisoformat(lease["expires"]) <= backups.clock.now
    # And the next run completes the work and frees the lease
    refusing.armed = False
    result = back_up(BackupRequest("source", str(git.source)), backups.policy, parts)
    assert result.outcome is Outcome.BACKED_UP
    assert _lease_left(backups) is None
    restore(backups.store, "backups/", "source", tmp_path / "after")
    assert git.show_ref(tmp_path / "after") == git.show_ref(git.source)
    git.fsck(tmp_path / "after")


def _uncatalogued_third_backup(backups: Backups, git: Git) -> None:
    """Two backups, then a third run that writes its manifest and fails on the catalog write that records it.

    S3 takes the write that takes the lease and refuses every later one, so the lease is left held
    (as by a run killed there): it is taken over once expired.
    """
    _two_backups(backups, git)
    git.commit("third")
    git.push("HEAD:refs/heads/main")
    refusing = RefusingStore(backups.store, "catalog.json", spare=1)
    with pytest.raises(TransientError):
        back_up(BackupRequest("source", str(git.source)), backups.policy, replace(backups.parts, store=refusing))
    assert len(list_backups(backups.store, "backups/", "source").entries) == 2
    backups.clock.now += timedelta(seconds=backups.policy.lease_seconds)


def test_a_manifest_written_before_a_crash_is_adopted_by_the_next_run(backups: Backups, git: Git) -> None:
    # Given a run that wrote its manifest, then died before the catalog write
    _uncatalogued_third_backup(backups, git)
    # When the next run finds nothing new to back up
    result = backups.run()
    # Then it adds the orphaned backup to the catalog
    assert (result.outcome, result.adopted) == (Outcome.UNCHANGED, 1)
    assert [entry.sequence for entry in list_backups(backups.store, "backups/", "source").entries] == [1, 2, 3]


def test_the_sweep_adopts_an_uncatalogued_manifest_even_after_a_clean_release(backups: Backups, git: Git) -> None:
    # Given an uncatalogued manifest whose run then freed its lease cleanly (as releases before
    # 2026-12 did after a failed catalog write), so no later run takes over an unfinished lease
    _uncatalogued_third_backup(backups, git)
    stored = backups.store.get(LAYOUT.catalog)
    assert stored is not None
    freed = {key: value for key, value in json.loads(stored.data).items() if key != "lease"}
    backups.store.put(LAYOUT.catalog, json.dumps(freed).encode())
    # When the daily sweep backs the repository up
    request = BackupRequest("source", str(git.source), look_for_orphans=True)
    result = back_up(request, backups.policy, backups.parts)
    # Then it adopts the manifest (and finds nothing else to back up)
    assert (result.outcome, result.adopted) == (Outcome.UNCHANGED, 1)
    assert [entry.sequence for entry in list_backups(backups.store, "backups/", "source").entries] == [1, 2, 3]


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold-process"])
def test_a_one_commit_backup_costs_four_s3_requests_warm_and_five_plus_its_chain_in_a_new_process(
    backups: Backups, git: Git, tmp_path: Path, warm: bool
) -> None:
    # Given a backed-up repository and one more commit
    _two_backups(backups, git)
    git.commit("third")
    git.push("HEAD:refs/heads/main")
    counting = CountingStore(backups.store)
    parts = replace(backups.parts, store=counting)
    if not warm:
        parts = replace(parts, warm=WarmCache())  # a new execution environment
    # When the function backs it up
    result = back_up(BackupRequest("source", str(git.source)), backups.policy, parts)
    # Then: take the lease with a catalog write (over the version this process wrote last, so
    # without reading it; a new process reads the catalog first, then the latest manifest and its
    # bases back to its chain's first: here the incremental and the full backup's), upload the
    # bundle (small: without its pack index), write the manifest, then record the backup and free the
    # lease with one more catalog write; no listing (only a run that took over an unfinished run's
    # lease, or the sweep's, looks for uncatalogued manifests)
    assert result.outcome is Outcome.BACKED_UP
    reads = [] if warm else ["get", "get", "get"]
    assert counting.calls == [*reads[:1], "put", *reads[1:], "upload", "put", "put"]
    restore(backups.store, "backups/", "source", tmp_path / "restored")
    assert git.show_ref(tmp_path / "restored") == git.show_ref(git.source)
    assert _lease_left(backups) is None


def test_a_warm_function_reads_the_manifest_another_one_wrote_since(backups: Backups, git: Git, tmp_path: Path) -> None:
    # Given two execution environments, each with its own mirror and remembered manifests, and a
    # backup by the first
    other = Collaborators(
        git=backups.mirror.__class__(tmp_path / "mirror-other", callbacks=lambda: None),
        store=backups.store,
        scratch=tmp_path / "scratch-other",
        clock=backups.clock,
    )
    git.commit("first")
    git.push("HEAD:refs/heads/main")
    backups.run()
    # When the second backs up the next push, and the first the one after
    git.commit("second")
    git.push("HEAD:refs/heads/main")
    back_up(BackupRequest("source", str(git.source)), backups.policy, other)
    git.commit("third")
    git.push("HEAD:refs/heads/main")
    counting = CountingStore(backups.store)
    result = back_up(BackupRequest("source", str(git.source)), backups.policy, replace(backups.parts, store=counting))
    # Then the first read the second's manifest (its own is no longer the latest) and chained onto it
    assert counting.calls.count("get") == 2
    assert result.outcome is Outcome.BACKED_UP
    catalog = list_backups(backups.store, "backups/", "source")
    assert [entry.sequence for entry in catalog.entries] == [1, 2, 3]
    restore(backups.store, "backups/", "source", tmp_path / "restored")
    assert git.show_ref(tmp_path / "restored") == git.show_ref(git.source)
    git.fsck(tmp_path / "restored")


def test_a_lease_left_by_a_killed_run_blocks_until_it_expires(backups: Backups, git: Git) -> None:
    # Given a run that timed out holding the lease (Lambda killed it: no finally ran)
    git.commit("first")
    git.push("HEAD:refs/heads/main")
    expires = backups.clock.now + timedelta(seconds=backups.policy.lease_seconds)
    catalog = Catalog("source", lease=Lease("killed", expires))
    backups.store.put(LAYOUT.catalog, catalog.to_bytes())
    # When a run starts before the lease expires, it is told to retry (a transient error)
    with pytest.raises(BackupInProgress):
        backups.run()
    # Then, once the lease has expired, the next run takes it over and backs up
    backups.clock.now = expires
    assert backups.run().outcome is Outcome.BACKED_UP
    assert _lease_left(backups) is None


def test_two_runs_at_once_leave_one_consistent_catalog(backups: Backups, git: Git, tmp_path: Path) -> None:
    # Given a push, and two invocations for it running at the same time (a duplicate event)
    git.commit("first")
    git.push("HEAD:refs/heads/main")
    results: list[BackupResult] = []
    errors: list[BaseException] = []

    def run(name: str) -> None:
        parts = Collaborators(
            git=backups.mirror.__class__(tmp_path / f"mirror-{name}", callbacks=lambda: None),
            store=backups.store,
            scratch=tmp_path / f"scratch-{name}",
            clock=backups.clock,
            owner=name,
        )
        try:
            results.append(
                back_up(BackupRequest("source", str(git.source)), replace(backups.policy, wait_seconds=60), parts)
            )
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # Then one backed up, the other waited for the lease and found nothing new
    assert errors == []
    assert sorted(result.outcome.value for result in results) == ["backed-up", "unchanged"]
    catalog = list_backups(backups.store, "backups/", "source")
    assert [entry.sequence for entry in catalog.entries] == [1]


def test_verify_finds_a_corrupted_bundle(backups: Backups, git: Git, tmp_path: Path) -> None:
    # Given two backups, and the incremental bundle damaged in the store (one byte flipped)
    _two_backups(backups, git)
    catalog = list_backups(backups.store, "backups/", "source")
    key = LAYOUT.bundle(catalog.entries[1].backup_id)
    stored = backups.store.get(key)
    assert stored is not None
    damaged = bytearray(stored.data)
    damaged[-30] ^= 0xFF
    backups.store.put(key, bytes(damaged))
    # When the chain is verified
    checked, problems = verify(backups.store, "backups/", "source", tmp_path / "verify")
    # Then the damage is reported against the backups that need that bundle, and the first is fine
    assert checked == 2
    assert [problem.backup_id for problem in problems] == [catalog.entries[1].backup_id], problems
    assert "checksum" in problems[0].description


class TakeoverStore(S3ObjectStore):
    """The real S3 adapter; while the bundle uploads, another run takes the (expired) lease over."""

    def __init__(self, inner: S3ObjectStore) -> None:
        self.__dict__.update(inner.__dict__)

    def upload(self, key: str, path: Path, progress: Progress | None = None) -> None:
        if key.endswith(".bundle"):
            held = self.get(LAYOUT.catalog)
            assert held is not None
            successor = Lease("successor", datetime(2999, 1, 1, tzinfo=UTC))
            self.put(LAYOUT.catalog, Catalog.from_bytes(held.data).with_lease(successor).to_bytes(), if_match=held.etag)
        super().upload(key, path, progress)


def test_a_run_that_outlived_its_lease_leaves_the_successors_lease_alone(backups: Backups, git: Git) -> None:
    # Given a run whose lease is taken over by another run while it uploads (it ran past the expiry)
    git.commit("first")
    git.push("HEAD:refs/heads/main")
    parts = replace(backups.parts, store=TakeoverStore(backups.parts.store))  # type: ignore[arg-type]
    # When it finishes
    result = back_up(BackupRequest("source", str(git.source)), backups.policy, parts)
    # Then its backup is in the catalog, and the successor still holds the lease
    assert result.outcome is Outcome.BACKED_UP
    assert [entry.backup_id for entry in list_backups(backups.store, "backups/", "source").entries] == [
        result.backup_id
    ]
    held = _lease_left(backups)
    assert held is not None
    assert held["owner"] == "successor"
