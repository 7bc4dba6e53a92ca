"""Backup scope and the sweep's bookkeeping, with an in-memory engine stand-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from codereflex.backup.job import Collaborators, Outcome, Policy
from codereflex.backup.model import Catalog, Layout, Manifest, backup_id
from codereflex.backup.settings import Settings
from codereflex.errors import ConfigurationError, TargetGone, TransientError
from repo_backup.logic import Scope, sweep
from tests.unit.repo_backup.fakes import FailingGit, FakeRepositories, FakeStore, NoGit


@pytest.mark.parametrize(
    ("name", "covered"),
    [("payments", True), ("team-a-api", True), ("sandbox-play", False), ("legacy", False), ("other", False)],
)
def test_scope_includes_globs_and_exclusions_win(name: str, covered: bool) -> None:
    scope = Scope(include=("payments", "team-*", "sandbox-*", "legacy"), exclude=("sandbox-*", "legacy"))
    assert scope.covers(name) is covered


def test_settings_parse_lists_and_defaults() -> None:
    settings = Settings.from_env({"BACKUP_BUCKET": "b", "BACKUP_EXCLUDE_REPOSITORIES": "tmp-*, scratch"})
    assert (settings.include, settings.exclude, settings.prefix, settings.full_every) == (
        ("*",),
        ("tmp-*", "scratch"),
        "backups/",
        30,
    )


def test_sweep_reports_each_failure_and_goes_on(tmp_path: Path) -> None:
    # Given three repositories in scope: one gone, one throttled, one empty and healthy
    git = FailingGit({"gone": TargetGone("gone"), "slow": TransientError("slow")})
    parts = Collaborators(git=git, store=FakeStore(), scratch=tmp_path)
    # When the sweep runs with plenty of time
    swept = sweep(Scope(), FakeRepositories(["gone", "ok", "slow"]), Policy(), parts, time_left=lambda: 900.0)
    # Then the healthy repository was backed up and both failures are reported by name
    assert [(result.repository, result.outcome) for result in swept.results] == [("ok", Outcome.BACKED_UP)]
    assert [name for name, _ in swept.failures] == ["gone", "slow"]


def test_sweep_stops_before_the_function_times_out(tmp_path: Path) -> None:
    # Given a function with less time left than the sweep keeps in reserve
    parts = Collaborators(git=NoGit(), store=FakeStore(), scratch=tmp_path)
    # When the sweep starts
    swept = sweep(Scope(), FakeRepositories(["a", "b"]), Policy(), parts, time_left=lambda: 60.0)
    # Then it backs up nothing and says which repositories it did not reach
    assert (swept.results, swept.skipped_for_time) == ((), ("a", "b"))


def test_settings_read_the_retention_and_refuse_nonsense() -> None:
    assert Settings.from_env({"BACKUP_BUCKET": "b"}).keep_days == 0
    assert Settings.from_env({"BACKUP_BUCKET": "b", "BACKUP_KEEP_DAYS": "90"}).keep_days == 90
    for bad in ("-1", "ninety"):
        with pytest.raises(ConfigurationError, match="BACKUP_KEEP_DAYS"):
            Settings.from_env({"BACKUP_BUCKET": "b", "BACKUP_KEEP_DAYS": bad})


def test_sweep_prunes_backups_older_than_the_retention(tmp_path: Path) -> None:
    # Given two backups of an empty repository a year old (no bundle chains), the second the latest
    store = FakeStore()
    layout = Layout("backups/", "ok")
    old = datetime(2025, 11, 1, tzinfo=UTC)
    manifests = [
        Manifest("ok", backup_id(n, old + timedelta(days=n)), n, old + timedelta(days=n), None, {}, ()) for n in (1, 2)
    ]
    for manifest in manifests:
        store.put(layout.manifest(manifest.backup_id), manifest.to_bytes())
    store.put(layout.catalog, Catalog("ok", tuple(m.entry(layout.manifest(m.backup_id)) for m in manifests)).to_bytes())
    parts = Collaborators(git=FailingGit({}), store=store, scratch=tmp_path)
    # When the sweep runs with a 30-day retention
    swept = sweep(
        Scope(), FakeRepositories(["ok"]), Policy(keep_for=timedelta(days=30)), parts, time_left=lambda: 900.0
    )
    # Then nothing changed in the repository, the older backup was pruned and the latest stays
    assert [result.outcome for result in swept.results] == [Outcome.UNCHANGED]
    assert swept.pruned == (("ok", (manifests[0].backup_id,)),)
    assert layout.manifest(manifests[0].backup_id) not in store.objects
    assert [entry.backup_id for entry in Catalog.from_bytes(store.objects[layout.catalog].data).entries] == [
        manifests[1].backup_id
    ]
