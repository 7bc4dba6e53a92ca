"""Retention: prune backups older than the policy keeps, a whole bundle chain at a time."""

from __future__ import annotations

from datetime import datetime

from codereflex.backup.catalog import all_entries, load_manifest, paged, read_catalog
from codereflex.backup.job import Collaborators, Policy
from codereflex.backup.lease import HeldByBuild, HeldLease, hold_lease
from codereflex.backup.model import Catalog, CatalogEntry, Layout, Manifest
from codereflex.backup.store import ObjectStore, PreconditionFailed
from codereflex.errors import TransientError


def prune(repository: str, policy: Policy, parts: Collaborators) -> tuple[str, ...]:
    """Remove the backups older than `policy.keep_for`, a whole bundle chain at a time; their ids.

    A chain goes only when none of its backups is newer than the cutoff, and the latest backup
    (with its chain) always stays, so every backup still offered restores. Order: the catalog
    first (a backup not in it is no longer offered), then the manifests, then the bundles; a run
    that dies in between leaves manifests the next backup adopts again, or unreferenced bundles.
    """
    if policy.keep_for is None:
        return ()
    layout = Layout(policy.prefix, repository)
    cutoff = parts.clock() - policy.keep_for
    if not _may_prune(parts, layout, cutoff):
        return ()  # nothing old enough: no need to take the lease (two catalog writes) to find that out
    try:
        with hold_lease(layout, policy, parts) as lease:
            return _prune_leased(parts.store, lease, cutoff, policy.catalog_page_entries)
    except HeldByBuild:
        return ()  # a build is backing it up: the next sweep prunes


def _may_prune(parts: Collaborators, layout: Layout, cutoff: datetime) -> bool:
    """Whether any backup but the latest is older than the cutoff (the catalog this process wrote last, or a read)."""
    remembered = parts.warm.catalog(layout.catalog)
    catalog = remembered[0] if remembered is not None else read_catalog(parts.store, layout)[0]
    times = [page.earliest for page in catalog.pages] + [entry.time for entry in catalog.entries[:-1]]
    return bool(times) and min(times) < cutoff


def _prune_leased(store: ObjectStore, lease: HeldLease, cutoff: datetime, page_entries: int) -> tuple[str, ...]:
    catalog = lease.catalog
    entries = all_entries(store, catalog)
    old: list[CatalogEntry] = []
    for entry in entries[:-1]:  # oldest first; never the latest
        if entry.time >= cutoff:
            break
        old.append(entry)
    if not old:
        return ()
    read: dict[str, Manifest] = {}
    kept_head = _chain_head(load_manifest(store, entries[len(old)].manifest_key, read))
    doomed = [
        manifest
        for manifest in (load_manifest(store, entry.manifest_key, read) for entry in old)
        if manifest.chain == () or _chain_head(manifest) != kept_head  # chains are disjoint
    ]
    if not doomed:
        return ()
    gone = {manifest.backup_id for manifest in doomed}
    kept = Catalog(catalog.repository, tuple(e for e in entries if e.backup_id not in gone), catalog.lease)
    remaining = paged(store, lease.layout, kept, page_entries)
    try:
        lease.write(remaining)  # before any deletion: a backup no longer listed is no longer offered
    except PreconditionFailed:
        raise TransientError(f"the catalog of {catalog.repository} changed while pruning") from None
    for page_key in sorted({page.key for page in catalog.pages} - {page.key for page in remaining.pages}):
        store.delete(page_key)
    for entry in old:
        if entry.backup_id in gone:
            store.delete(entry.manifest_key)
    doomed_keys = {key for manifest in doomed for link in manifest.chain for key in (link.key, link.index_key) if key}
    for key in sorted(doomed_keys):
        store.delete(key)
    return tuple(sorted(gone))


def _chain_head(manifest: Manifest) -> str | None:
    """The full bundle a backup's chain starts with (None for a backup of an empty repository)."""
    return manifest.chain[0].key if manifest.chain else None
