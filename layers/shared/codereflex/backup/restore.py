"""Restore a backup into a bare repository (choosing it by id or time), and verify every backup restores."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pygit2

from codereflex.backup.bundle import install_pack, lookup, references
from codereflex.backup.catalog import entry_at, entry_by_id, exact_time, list_backups, load_manifest, read_catalog
from codereflex.backup.model import CatalogEntry, Layout, Manifest, head_ref
from codereflex.backup.packedrefs import write_packed_refs
from codereflex.backup.store import ObjectStore, Progress
from codereflex.errors import PermanentError, TargetGone, TransientError


class NoBackup(PermanentError):
    """No backup of the repository exists at or before the requested time, or with the requested id."""

    reason = "no-backup"


def choose_backup(
    store: ObjectStore, prefix: str, repository: str, *, at: datetime | None = None, backup: str | None = None
) -> CatalogEntry:
    """The backup a restore takes: the one named `backup`, else the last at or before `at`, else the latest."""
    catalog, _ = read_catalog(store, Layout(prefix, repository))
    if backup is not None:
        entry = entry_by_id(store, catalog, backup)
        if entry is None:
            raise NoBackup(
                f"{repository} has no backup {backup!r}; `codereflex backup list {repository}` shows the ids"
            )
        return entry
    entry = entry_at(store, catalog, at)
    if entry is not None:
        return entry
    if at is None or not (catalog.entries or catalog.pages):
        raise NoBackup(f"no backup of {repository} exists under {prefix}")
    earliest = min([page.earliest for page in catalog.pages] + [entry.time for entry in catalog.entries])
    raise NoBackup(
        f"no backup of {repository} at or before {at.astimezone(UTC).isoformat()}: "
        f"the earliest is at {exact_time(earliest)}"
    )


def restore(
    store: ObjectStore,
    prefix: str,
    repository: str,
    destination: Path,
    *,
    at: datetime | None = None,
    backup: str | None = None,
    progress: Callable[[str, int], Progress] | None = None,
) -> Manifest:
    """Make `destination` a bare repository with exactly the refs of the backup `choose_backup` picks."""
    entry = choose_backup(store, prefix, repository, at=at, backup=backup)
    return restore_entry(store, entry, destination, progress)


def restore_entry(
    store: ObjectStore,
    entry: CatalogEntry,
    destination: Path,
    progress: Callable[[str, int], Progress] | None = None,
) -> Manifest:
    """Restore one catalogued backup (its manifest read, its chain installed) into a new bare repository."""
    manifest = load_manifest(store, entry.manifest_key)
    restore_manifest(store, manifest, destination, progress)
    return manifest


def restore_manifest(
    store: ObjectStore,
    manifest: Manifest,
    destination: Path,
    progress: Callable[[str, int], Progress] | None = None,
) -> pygit2.Repository:
    """Install the manifest's bundle chain into a new bare repository and set its refs exactly."""
    created = pygit2.init_repository(str(destination), bare=True)
    if any(name.startswith("refs/") for name in references(created)):
        raise PermanentError(f"{destination} already holds a repository with refs: restore into a new one")
    scratch = destination / "codereflex-restore"
    scratch.mkdir(exist_ok=True)
    try:
        for link in manifest.chain:
            bundle, index = scratch / "pack.bundle", None
            store.download(link.key, bundle, progress(link.key, link.size) if progress else None)
            if link.index_key is not None:  # a small bundle is stored without: install_pack indexes it
                index = scratch / "pack.idx"
                store.download(link.index_key, index)
            install_pack(bundle, index, destination)
    finally:
        for leftover in scratch.iterdir():
            leftover.unlink()
        scratch.rmdir()
    repo = pygit2.Repository(str(destination))  # opened after the packs arrived, so libgit2 sees them all
    missing = [name for name, oid in manifest.refs.items() if not repo.odb.exists(oid)]
    if missing:
        raise TargetGone(f"the backup chain lacks object {manifest.refs[missing[0]]} of {missing[0]}")
    # A new repository has no refs: all of them in one packed-refs file, not a file each (a restore
    # of 3,000 tags took 4 s creating them one at a time, 5x `git clone` of a bundle).
    write_packed_refs(destination, manifest.refs)
    repo = pygit2.Repository(str(destination))
    _point_head(repo, manifest)
    return repo


def _point_head(repo: pygit2.Repository, manifest: Manifest) -> None:
    head = head_ref(manifest.refs, manifest.metadata.get("defaultBranch"))
    if head is not None:
        references(repo).create("HEAD", head, force=True)


@dataclass(frozen=True, slots=True)
class Problem:
    backup_id: str
    description: str


def verify(store: ObjectStore, prefix: str, repository: str, scratch: Path) -> tuple[int, list[Problem]]:
    """Re-read every bundle chain and check every backup's refs resolve to complete history.

    Each chain is restored once, at its longest manifest (which holds every pack of the chain);
    every backup of that chain is then checked against it. Returns (backups checked, problems).
    """
    catalog = list_backups(store, prefix, repository)
    problems: list[Problem] = []
    chains: dict[str, list[Manifest]] = {}
    read: dict[str, Manifest] = {}  # each manifest is read once, however many later ones build on it
    for entry in catalog.entries:
        try:
            manifest = load_manifest(store, entry.manifest_key, read)
        except (PermanentError, TransientError) as error:
            problems.append(Problem(entry.backup_id, str(error)))
            continue
        if not manifest.chain:
            if manifest.refs:
                problems.append(Problem(entry.backup_id, "refs recorded without a bundle chain"))
            continue
        chains.setdefault(manifest.chain[0].key, []).append(manifest)
    for number, members in enumerate(chains.values()):
        problems += _verify_chain(store, members, scratch / f"chain-{number}")
    return len(catalog.entries), problems


def _verify_chain(store: ObjectStore, members: list[Manifest], target: Path) -> list[Problem]:
    """Restore the chain once, at its longest manifest, and check each of its backups against that."""
    longest = max(members, key=lambda manifest: len(manifest.chain))
    try:
        repo = restore_manifest(store, longest, target)
    except Exception:  # a broken chain is a finding: find which of its backups it breaks
        checked = (
            _check_alone(store, member, target.with_name(f"{target.name}-{n}")) for n, member in enumerate(members)
        )
        return [problem for problem in checked if problem is not None]
    problems: list[Problem] = []
    for member in members:
        if [link.key for link in member.chain] != [link.key for link in longest.chain[: len(member.chain)]]:
            problems.append(Problem(member.backup_id, "its chain is not a prefix of its chain's longest"))
            continue
        try:
            _check_connected(repo, member.refs)
        except Exception as error:  # reported, not raised
            problems.append(Problem(member.backup_id, f"{type(error).__name__}: {error}"))
    return problems


def _check_alone(store: ObjectStore, manifest: Manifest, target: Path) -> Problem | None:
    try:
        _check_connected(restore_manifest(store, manifest, target), manifest.refs)
    except Exception as error:  # reported, not raised
        return Problem(manifest.backup_id, f"{type(error).__name__}: {error}")
    return None


def _check_connected(repo: pygit2.Repository, refs: Mapping[str, str]) -> None:
    """Every commit reachable from every ref is present (libgit2 raises on a missing parent)."""
    tips = [tip for tip in (_peeled_commit(repo, value) for value in refs.values()) if tip is not None]
    if not tips:
        return
    walker = repo.walk(tips[0])
    for tip in tips[1:]:
        walker.push(tip)
    for commit in walker:
        if commit.tree_id not in repo.odb:
            raise TargetGone(f"tree {commit.tree_id} of commit {commit.id} is missing")
    for name, oid in refs.items():
        if pygit2.Oid(hex=oid) not in repo.odb:
            raise TargetGone(f"{name} points to missing object {oid}")


def _peeled_commit(repo: pygit2.Repository, oid: str) -> pygit2.Oid | None:
    target = lookup(repo, pygit2.Oid(hex=oid))
    while target.type == pygit2.enums.ObjectType.TAG:
        target = lookup(repo, target.target)
    return pygit2.Oid(raw=target.id.raw) if target.type == pygit2.enums.ObjectType.COMMIT else None
