"""The per-repository catalog in the store: reading it and its pages, choosing entries, adopting and merging.

Catalog writes are compare-and-swap on the ETag (the lease's writes are in lease.py); a page is
written before the catalog that names it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from codereflex.backup.model import Catalog, CatalogEntry, CatalogError, Layout, Manifest, PageRef, sequence_of
from codereflex.backup.store import ObjectStore, PreconditionFailed
from codereflex.errors import TargetGone, TransientError

_CATALOG_ATTEMPTS = 8


class WarmCache:
    """What a warm function remembers between runs: manifests by key, and catalogs as it last wrote them.

    A manifest is created once (If-None-Match) and never rewritten, so its key names one content
    for good: a warm function that finds the catalog's latest key here skips reading it again. A
    catalog is kept with the ETag of this process's own last write; the next run writes over that
    ETag (If-Match) to take the lease, and success proves no other run has written it since.
    """

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._manifests: dict[str, Manifest] = {}
        self._catalogs: dict[str, tuple[Catalog, str]] = {}

    def manifest(self, key: str) -> Manifest | None:
        return self._manifests.get(key)

    def keep_manifest(self, key: str, manifest: Manifest) -> None:
        _keep(self._manifests, key, manifest, self._size)

    def catalog(self, key: str) -> tuple[Catalog, str] | None:
        return self._catalogs.get(key)

    def keep_catalog(self, key: str, catalog: Catalog, etag: str) -> None:
        _keep(self._catalogs, key, (catalog, etag), self._size)


def _keep(kept: dict[str, Any], key: str, value: object, size: int) -> None:
    kept.pop(key, None)
    kept[key] = value
    while len(kept) > size:
        del kept[next(iter(kept))]  # the oldest kept: a sweep visits many repositories


def read_catalog(store: ObjectStore, layout: Layout) -> tuple[Catalog, str | None]:
    stored = store.get(layout.catalog)
    if stored is None:
        return Catalog(layout.repository), None
    return Catalog.from_bytes(stored.data), stored.etag


def read_page(store: ObjectStore, page: PageRef) -> tuple[CatalogEntry, ...]:
    stored = store.get(page.key)
    if stored is None:
        raise TargetGone(f"catalog page {page.key} is named in the catalog but missing from the store")
    return Catalog.from_bytes(stored.data).entries


def all_entries(store: ObjectStore, catalog: Catalog) -> tuple[CatalogEntry, ...]:
    """Every backup, its pages read: for listing, verifying, pruning and adopting, not for a backup run."""
    if not catalog.pages:
        return catalog.entries
    paged = [entry for page in catalog.pages for entry in read_page(store, page)]
    return Catalog(catalog.repository).with_entries(*paged, *catalog.entries).entries


def entry_at(store: ObjectStore, catalog: Catalog, when: datetime | None) -> CatalogEntry | None:
    """The last backup (by sequence, then time) taken at or before `when`; reads only pages that can hold it."""
    best = catalog.at(when)
    if when is None:
        return best
    for page in reversed(catalog.pages):
        if page.earliest > when or (best is not None and page.last_sequence < best.sequence):
            continue
        found = Catalog(catalog.repository, read_page(store, page)).at(when)
        if found is not None and (best is None or (found.sequence, found.time) > (best.sequence, best.time)):
            best = found
    return best


def entry_by_id(store: ObjectStore, catalog: Catalog, wanted: str) -> CatalogEntry | None:
    """The backup with this id; reads only the pages whose sequences can hold it (an id starts with its sequence)."""
    found = next((entry for entry in catalog.entries if entry.backup_id == wanted), None)
    sequence = sequence_of(wanted)
    if found is not None or sequence is None:
        return found
    for page in catalog.pages:
        # A page's key names its first and last backup, and its entries are sorted by sequence.
        first = sequence_of(page.key.rsplit("/", 1)[-1])
        if first is not None and not first <= sequence <= page.last_sequence:
            continue
        found = next((entry for entry in read_page(store, page) if entry.backup_id == wanted), None)
        if found is not None:
            return found
    return None


def exact_time(when: datetime) -> str:
    """A backup's time as `list` prints it and `restore --at` takes it back: UTC, to the microsecond."""
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def paged(store: ObjectStore, layout: Layout, catalog: Catalog, size: int) -> Catalog:
    """Move the oldest inline entries to page objects while twice `size` or more are inline.

    A page is written before the catalog that names it: a run that dies in between leaves a page
    nobody names (the next run writes it again), never a catalog naming a missing page.
    """
    entries, pages = catalog.entries, list(catalog.pages)
    while size > 0 and len(entries) >= 2 * size:
        chunk, entries = entries[:size], entries[size:]
        body = Catalog(layout.repository, chunk).to_bytes()
        key = layout.page(chunk[0].backup_id, chunk[-1].backup_id, hashlib.sha256(body).hexdigest()[:16])
        store.put(key, body)
        pages.append(PageRef.of(key, chunk))
    return Catalog(catalog.repository, entries, catalog.lease, tuple(pages))


def latest_manifest(store: ObjectStore, warm: WarmCache, catalog: Catalog) -> Manifest | None:
    if catalog.latest is None:
        return None
    key = catalog.latest.manifest_key
    manifest = warm.manifest(key)
    if manifest is None:
        manifest = load_manifest(store, key, warm.manifest)
        warm.keep_manifest(key, manifest)
    return manifest


def load_manifest(
    store: ObjectStore, key: str, known: Callable[[str], Manifest | None] | MutableMapping[str, Manifest] | None = None
) -> Manifest:
    """The manifest at `key`, whole: its base read first, and that one's, back to its chain's first.

    `known` holds manifests already read, by key (a dict is filled with those read now, for a
    caller that reads many of one chain); reading stops at the first known one.
    """
    found = (known.get if isinstance(known, MutableMapping) else known) or (lambda _key: None)
    if (manifest := found(key)) is not None:
        return manifest
    pending: list[tuple[str, dict[str, Any]]] = []
    base: Manifest | None = None
    current: str | None = key
    while current is not None and (base := found(current)) is None:
        if any(current == read for read, _ in pending):
            raise CatalogError(f"manifest {key} has a chain of bases that comes back to {current}")
        stored = store.get(current)
        if stored is None:
            raise TargetGone(f"manifest {current} is named by the catalog or a manifest but missing from the store")
        body = Manifest.parse(stored.data)
        pending.append((current, body))
        current = Layout.sibling_manifest(current, body["base"]) if body.get("base") is not None else None

    def remember(read_key: str, manifest: Manifest) -> Manifest:
        if isinstance(known, MutableMapping):
            known[read_key] = manifest
        return manifest

    for read_key, body in reversed(pending[1:]):
        base = remember(read_key, Manifest.from_json(body, base))
    return remember(key, Manifest.from_json(pending[0][1], base))


def adopt_orphans(store: ObjectStore, layout: Layout, catalog: Catalog) -> tuple[Catalog, int]:
    listed = {entry.manifest_key for entry in all_entries(store, catalog)}
    orphans = [key for key in store.keys(layout.manifests) if key.endswith(".json") and key not in listed]
    if not orphans:
        return catalog, 0
    read: dict[str, Manifest] = {}  # orphans of one run are one chain: read each base once
    entries = [load_manifest(store, key, read).entry(key) for key in sorted(orphans)]
    return catalog.with_entries(*entries), len(entries)


def merge_into_stored(store: ObjectStore, layout: Layout, entries: tuple[CatalogEntry, ...], owner: str) -> None:
    """Add `entries` to the stored catalog (compare-and-swap, merging on a lost race).

    For a run whose lease another took over: the successor's lease stays; a lease still naming
    `owner` (this run) is freed.
    """
    for _ in range(_CATALOG_ATTEMPTS):
        current, etag = read_catalog(store, layout)
        held = current.lease
        merged = current.with_entries(*entries).with_lease(None if held is not None and held.owner == owner else held)
        try:
            if etag is None:
                store.put(layout.catalog, merged.to_bytes(), if_absent=True)
            else:
                store.put(layout.catalog, merged.to_bytes(), if_match=etag)
            return
        except PreconditionFailed:
            continue
    raise TransientError(f"the catalog of {layout.repository} kept changing under this run")


def list_backups(store: ObjectStore, prefix: str, repository: str) -> Catalog:
    """The catalog with every backup inline (its pages read)."""
    catalog = read_catalog(store, Layout(prefix, repository))[0]
    return Catalog(repository, all_entries(store, catalog), catalog.lease)
