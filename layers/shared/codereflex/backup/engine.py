"""Back up one repository into the store, and list, restore and verify its backups.

Write order is what makes a backup atomic: bundle and pack index first (new keys, never
overwritten), then the manifest (created only if absent), then the catalog (compare-and-swap on
its ETag). A run that dies before its manifest leaves unreferenced bundles and no backup; one
that dies between manifest and catalog is adopted by the next run: a failed run leaves its lease
expired and marked unfinished (a killed one leaves it to expire), and a run that takes a lease
over lists the manifests, as the daily sweep's runs always do.

Two runs for one repository never overlap: the catalog carries a lease, so a run takes the lease
and reads the catalog with one conditional write (If-Match on the ETag it read, or, in a warm
function, on the ETag of its own last write, which proves nobody has written since), and records
its backup and frees the lease with another. A lease is taken over once expired.

A repository too large for the function is handed off: the run that finds it too large (by the
size its last backup recorded, or by aborting a first fetch that passes the threshold) starts a
CodeBuild build while it still holds the lease, and hands the lease to that build (the lease
names the build's owner token), so no second run or build starts until the build has finished.
A run that meets a handed-off lease asks CodeBuild about that build: one that is over (failed,
stopped, timed out, or succeeded without freeing the lease), or that never started, no longer
holds the repository, and the run takes the lease over (the same compare-and-swap as ever).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import pygit2

from codereflex.backup.bundle import install_pack, lookup, references, write_bundle
from codereflex.backup.model import (
    BundleRef,
    Catalog,
    CatalogEntry,
    CatalogError,
    Layout,
    Lease,
    Manifest,
    PageRef,
    backup_id,
    sequence_of,
)
from codereflex.backup.store import ObjectStore, PreconditionFailed, Progress
from codereflex.errors import CodeReflexError, PermanentError, TargetGone, TransientError

_CATALOG_ATTEMPTS = 8
# Bundles smaller than this are stored without their pack index (restore indexes them): most pushes.
UNINDEXED_BUNDLE_BYTES = 1024 * 1024


class BackupInProgress(TransientError):
    """Another run holds this repository's lease: retry later (it may already cover this change)."""


class HeldByBuild(BackupInProgress):
    """The lease was handed to a CodeBuild build, which is (or will be) backing the repository up."""

    def __init__(self, repository: str, build_id: str | None) -> None:
        super().__init__(f"a CodeBuild build holds the backup lease of {repository}")
        self.build_id = build_id


class TooLarge(CodeReflexError):
    """A fetch passed the hand-off threshold and was aborted (raised by a GitSource)."""

    def __init__(self, received_bytes: int) -> None:
        super().__init__(f"fetch aborted after {received_bytes} bytes")
        self.received_bytes = received_bytes


class NoBackup(PermanentError):
    """No backup of the repository exists at or before the requested time, or with the requested id."""

    reason = "no-backup"


class GitSource(Protocol):
    def warm(self, repository: str) -> bool: ...

    def discard(self, repository: str) -> None: ...

    def remote_refs(self, repository: str, url: str) -> dict[str, str]: ...

    def fetch(self, repository: str, url: str, *, limit: int | None = None) -> dict[str, str]:
        """Bring the mirror up to date; with `limit`, raise TooLarge once more bytes than that arrive."""
        ...

    def open(self, repository: str) -> pygit2.Repository: ...


class MetadataSource(Protocol):
    def describe(self, repository: str) -> dict[str, Any]: ...


class HandOffBuild(NamedTuple):
    build_id: str
    status: str  # CodeBuild's buildStatus: IN_PROGRESS (queued or running) until it is over


class Offload(Protocol):
    def start(self, request: BackupRequest, *, lease_owner: str, token: str) -> str:
        """Start a run of this backup elsewhere (CodeBuild) as `lease_owner`; returns its build id.

        `token` is stable for one triggering event, so a repeated call starts no second build.
        """
        ...

    def find(self, lease_owner: str, build_id: str | None) -> HandOffBuild | None:
        """The build a lease was handed to: by its id, or, unknown, by `lease_owner`; None if none exists."""
        ...


@dataclass(frozen=True, slots=True)
class EndedHandOff:
    """A handed-off lease this run took over because its build was over or never started."""

    owner: str
    build_id: str | None
    status: str  # the build's last buildStatus, or MISSING when CodeBuild has no such build


class Outcome(Enum):
    BACKED_UP = "backed-up"
    UNCHANGED = "unchanged"
    HANDED_OFF = "handed-off"


@dataclass(frozen=True, slots=True)
class Policy:
    prefix: str = "backups/"
    # Incremental bundles per chain before the next backup starts a new chain with a full bundle.
    full_every: int = 30
    lease_seconds: int = 960  # longer than the function's 15-minute ceiling
    wait_seconds: float = 30.0
    # Repositories larger than this (bytes of pack data) go to `Collaborators.offload`; None keeps all here.
    offload_bytes: int | None = None
    # How long a handed-off lease lasts: the build's queue time plus its timeout, with a margin.
    handoff_lease_seconds: int = 9 * 3600
    # Backups older than this may be pruned, a whole bundle chain at a time (prune); None keeps all.
    keep_for: timedelta | None = None
    # Once twice this many entries are inline, the oldest this many move to a catalog page.
    catalog_page_entries: int = 128


@dataclass(frozen=True, slots=True)
class BackupRequest:
    repository: str
    clone_url: str
    event_id: str | None = None  # the reference-change event recorded in the manifest (None for the sweep)
    trigger_id: str | None = None  # the delivered event (change or sweep): what makes a hand-off idempotent
    # Look for manifests left out of the catalog even after a clean run (the daily sweep does): a run
    # always looks when it took over a lease, which is how an earlier run that failed or died is seen.
    look_for_orphans: bool = False

    @property
    def handoff_token(self) -> str:
        """Stable for one delivered event and repository: StartBuild's idempotency token and the build's owner."""
        trigger = self.trigger_id or self.event_id or ""
        return hashlib.sha256(f"{self.repository}\n{trigger}".encode()).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class BackupResult:
    outcome: Outcome
    repository: str
    backup_id: str | None = None
    full: bool = False
    bytes_uploaded: int = 0
    objects: int = 0
    refs: int = 0
    adopted: int = 0  # manifests a crashed run left out of the catalog, added now
    size_bytes: int | None = None  # what the hand-off decision saw (recorded or received pack bytes)
    build_id: str | None = None  # the CodeBuild build now holding the backup (HANDED_OFF)
    already_handed_off: bool = False  # an earlier delivery had handed it off; nothing was started now
    ended_hand_off: EndedHandOff | None = None  # this run took the repository back from a build that was over


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


@dataclass
class Collaborators:
    git: GitSource
    store: ObjectStore
    scratch: Path
    metadata: MetadataSource | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    sleep: Callable[[float], None] = time.sleep
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    offload: Offload | None = None
    # Set when this run is the CodeBuild build a function handed the backup to (its lease says so).
    build_id: str | None = None
    # Kept for the process's lifetime by the function: a warm one reads neither the catalog it wrote
    # last (unless another run wrote it since) nor a manifest it already has.
    warm: WarmCache = field(default_factory=WarmCache)


def back_up(request: BackupRequest, policy: Policy, parts: Collaborators) -> BackupResult:
    """Back up the repository's current refs unless the latest backup already has exactly them.

    With `policy.offload_bytes` and `parts.offload`, a repository larger than the threshold is
    handed off instead (outcome HANDED_OFF): see the module docstring.
    """
    layout = Layout(policy.prefix, request.repository)
    try:
        with _lease(layout, policy, parts) as lease:
            result = _back_up_leased(request, policy, parts, layout, lease)
            return replace(result, ended_hand_off=lease.ended_hand_off) if lease.ended_hand_off else result
    except HeldByBuild as held:
        return BackupResult(Outcome.HANDED_OFF, request.repository, build_id=held.build_id, already_handed_off=True)


def _back_up_leased(
    request: BackupRequest, policy: Policy, parts: Collaborators, layout: Layout, lease: _Lease
) -> BackupResult:
    catalog = lease.catalog
    adopted = 0
    if lease.took_over or request.look_for_orphans:
        catalog, adopted = _adopt_orphans(parts.store, layout, catalog)
        lease.record(catalog)
    latest = _latest_manifest(parts, catalog)
    warm = parts.git.warm(request.repository)
    # A cold mirror would fetch the whole repository just to learn nothing changed: ask first.
    # A warm one fetches straight away (an up-to-date fetch is one round trip, like ls-remote).
    if latest is not None and not warm and parts.git.remote_refs(request.repository, request.clone_url) == latest.refs:
        return BackupResult(Outcome.UNCHANGED, request.repository, latest.backup_id, adopted=adopted)
    offload = parts.offload
    limit = policy.offload_bytes if offload is not None else None
    if offload is not None and limit is not None and latest is not None and latest.packed_size > limit:
        return _hand_off(request, policy, offload, lease, latest.packed_size)
    try:
        refs = parts.git.fetch(request.repository, request.clone_url, limit=limit)
    except TooLarge as too_large:
        if offload is None:
            raise
        parts.git.discard(request.repository)  # a partial mirror only fills /tmp
        return _hand_off(request, policy, offload, lease, too_large.received_bytes)
    when = parts.clock()
    if latest is not None and refs == latest.refs:
        return BackupResult(Outcome.UNCHANGED, request.repository, latest.backup_id, adopted=adopted)
    sequence = latest.sequence + 1 if latest else 1
    new_id = backup_id(sequence, when)
    metadata = parts.metadata.describe(request.repository) if parts.metadata else {}
    chain, uploaded, objects, full = _write_chain(
        repository=request.repository,
        refs=refs,
        latest=latest,
        layout=layout,
        new_id=new_id,
        policy=policy,
        parts=parts,
        head=head_ref(refs, metadata.get("defaultBranch")),
        fresh=not warm,
    )
    base = latest if chain and not full and latest is not None else None
    manifest = Manifest(
        request.repository,
        new_id,
        sequence,
        when,
        request.event_id,
        refs,
        chain,
        metadata,
        base=base.backup_id if base else None,
        depth=base.depth + 1 if base else 1,
    )
    key = layout.manifest(new_id)
    body = manifest.to_bytes(base)
    parts.store.put(key, body, if_absent=True)
    lease.record(catalog.with_entries(manifest.entry(key)))  # written as the lease is freed
    parts.warm.keep_manifest(key, manifest)
    return BackupResult(Outcome.BACKED_UP, request.repository, new_id, full, uploaded + len(body), objects, len(refs))


def _hand_off(request: BackupRequest, policy: Policy, offload: Offload, lease: _Lease, size: int) -> BackupResult:
    """Hand the lease to the build first, then start it: no other run can slip in between."""
    token = request.handoff_token
    if lease.ended_hand_off is not None and lease.ended_hand_off.owner == f"codebuild-{token}":
        # The same event handed it off before: within CodeBuild's token window that token would
        # return the build that just ended, not start a new one.
        token = hashlib.sha256(f"{token}\n{lease.ended_hand_off.build_id}".encode()).hexdigest()[:40]
    build_owner = f"codebuild-{token}"
    lease.hand_over(build_owner, policy.handoff_lease_seconds)
    try:
        build_id = offload.start(request, lease_owner=build_owner, token=token)
    except BaseException:
        lease.release_handed_over(build_owner)  # nothing will take it: free the repository again
        raise
    lease.note_build(build_id)
    return BackupResult(Outcome.HANDED_OFF, request.repository, size_bytes=size, build_id=build_id)


def _write_chain(
    *,
    repository: str,
    refs: Mapping[str, str],
    latest: Manifest | None,
    layout: Layout,
    new_id: str,
    policy: Policy,
    parts: Collaborators,
    head: str | None,
    fresh: bool,
) -> tuple[tuple[BundleRef, ...], int, int, bool]:
    if not refs:
        return (), 0, 0, False  # nothing to bundle: restoring this backup gives an empty repository
    full = latest is None or not latest.chain or latest.depth > policy.full_every
    if full or latest is None:
        bundled, prerequisites, previous = dict(refs), [], None
    else:
        # Only the refs added or moved: deletions are the manifest's, unchanged refs the base's.
        bundled = {name: oid for name, oid in refs.items() if latest.refs.get(name) != oid}
        prerequisites, previous = sorted(set(latest.refs.values())), latest.refs
        if not bundled:
            return latest.chain, 0, 0, False  # refs were only deleted: the manifest says which
    parts.scratch.mkdir(parents=True, exist_ok=True)
    written = write_bundle(
        parts.git.open(repository),
        bundled,
        prerequisites,
        parts.scratch / f"{new_id}.bundle",
        known=prerequisites,
        head=head if full else None,  # HEAD's line is for `git clone` of a full bundle
        fresh_mirror=full and fresh,
        previous=previous,
    )
    key = layout.bundle(new_id)
    # A small bundle goes up alone: indexing its pack at restore costs less than a request per backup.
    index_key = f"{key}.idx" if written.size >= UNINDEXED_BUNDLE_BYTES else None
    try:
        parts.store.upload(key, written.bundle)
        if index_key is not None:
            parts.store.upload(index_key, written.index)
    finally:
        written.bundle.unlink(missing_ok=True)
        written.index.unlink(missing_ok=True)
    link = BundleRef(key, index_key, written.size, written.objects, written.prerequisites)
    base = () if full or latest is None else latest.chain
    uploaded = written.size + (written.index_size if index_key is not None else 0)
    return (*base, link), uploaded, written.objects, full


# --- catalog -------------------------------------------------------------------------------------


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


def exact_time(when: datetime) -> str:
    """A backup's time as `list` prints it and `restore --at` takes it back: UTC, to the microsecond."""
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def _paged(store: ObjectStore, layout: Layout, catalog: Catalog, size: int) -> Catalog:
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


def _latest_manifest(parts: Collaborators, catalog: Catalog) -> Manifest | None:
    if catalog.latest is None:
        return None
    key = catalog.latest.manifest_key
    manifest = parts.warm.manifest(key)
    if manifest is None:
        manifest = load_manifest(parts.store, key, parts.warm.manifest)
        parts.warm.keep_manifest(key, manifest)
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


def _adopt_orphans(store: ObjectStore, layout: Layout, catalog: Catalog) -> tuple[Catalog, int]:
    listed = {entry.manifest_key for entry in all_entries(store, catalog)}
    orphans = [key for key in store.keys(layout.manifests) if key.endswith(".json") and key not in listed]
    if not orphans:
        return catalog, 0
    read: dict[str, Manifest] = {}  # orphans of one run are one chain: read each base once
    entries = [load_manifest(store, key, read).entry(key) for key in sorted(orphans)]
    return catalog.with_entries(*entries), len(entries)


def _merge_into_stored(store: ObjectStore, layout: Layout, entries: tuple[CatalogEntry, ...], owner: str) -> None:
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


# --- retention -----------------------------------------------------------------------------------


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
        with _lease(layout, policy, parts) as lease:
            return _prune_leased(parts.store, lease, cutoff, policy.catalog_page_entries)
    except HeldByBuild:
        return ()  # a build is backing it up: the next sweep prunes


def _may_prune(parts: Collaborators, layout: Layout, cutoff: datetime) -> bool:
    """Whether any backup but the latest is older than the cutoff (the catalog this process wrote last, or a read)."""
    remembered = parts.warm.catalog(layout.catalog)
    catalog = remembered[0] if remembered is not None else read_catalog(parts.store, layout)[0]
    times = [page.earliest for page in catalog.pages] + [entry.time for entry in catalog.entries[:-1]]
    return bool(times) and min(times) < cutoff


def _prune_leased(store: ObjectStore, lease: _Lease, cutoff: datetime, page_entries: int) -> tuple[str, ...]:
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
    remaining = _paged(store, lease.layout, kept, page_entries)
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


# --- lease ---------------------------------------------------------------------------------------


class _Lease:
    """The lease this run holds (in the catalog), and what it can do with it before it ends."""

    def __init__(self, layout: Layout, policy: Policy, parts: Collaborators) -> None:
        self._store, self.layout, self._policy, self._parts = parts.store, layout, policy, parts
        self.catalog = Catalog(layout.repository)  # as this run last wrote it, with its lease
        self.etag: str | None = None
        self.owner = parts.owner
        # This run took the lease over from one that ended without releasing it (it failed or was
        # killed) or that handed it to this build: what that run left unfinished is this run's to find.
        self.took_over = False
        self.ended_hand_off: EndedHandOff | None = None  # taken over from a build that was over
        self._pending: Catalog | None = None  # the entries to save when the lease is freed

    def mine(
        self,
        seconds: int,
        *,
        now: datetime | None = None,
        owner: str | None = None,
        handed_off: bool = False,
        build: str | None = None,
        since: datetime | None = None,
    ) -> Lease:
        """A lease for this run (or, with `owner` and `handed_off`, for the build it hands over to)."""
        expires = (now or self._parts.clock()) + timedelta(seconds=seconds)
        handed_off = handed_off or self._parts.build_id is not None
        return Lease(
            owner or self.owner,
            expires,
            "codebuild" if handed_off else None,
            build or self._parts.build_id,
            since=since if handed_off else None,
        )

    def write(self, catalog: Catalog, *, if_match: str | None = None, if_absent: bool = False) -> None:
        """Write the catalog (over this run's own last write unless told otherwise) and remember it."""
        condition = if_match if if_match is not None or if_absent else self.etag
        self.etag = self._store.put(self.layout.catalog, catalog.to_bytes(), if_match=condition, if_absent=if_absent)
        self.catalog = catalog
        self._parts.warm.keep_catalog(self.layout.catalog, catalog, self.etag)

    def record(self, catalog: Catalog) -> None:
        """The catalog to save when the lease is freed (one write does both)."""
        self._pending = catalog

    def hand_over(self, owner: str, seconds: int) -> None:
        """Rewrite the lease for the build (only over this run's own write): it outlives this run."""
        now = self._parts.clock()
        self.write(self.catalog.with_lease(self.mine(seconds, now=now, owner=owner, handed_off=True, since=now)))
        self.owner = owner

    def note_build(self, build_id: str) -> None:
        """Name the build in the lease, for later deliveries' logs; the build may have rewritten it already."""
        with suppress(PreconditionFailed):  # the build took the lease over and named itself
            since = self.catalog.lease.since if self.catalog.lease else None
            lease = self.mine(self._policy.handoff_lease_seconds, handed_off=True, build=build_id, since=since)
            self.write(self.catalog.with_lease(lease))

    def release(self) -> None:
        """Save what the run recorded and free the lease in one write (not a lease it handed over)."""
        if self.owner != self._parts.owner:
            return
        pending = self._pending or self.catalog
        catalog = _paged(self._store, self.layout, pending.with_lease(None), self._policy.catalog_page_entries)
        try:
            self.write(catalog)
        except PreconditionFailed:
            # This run outlived its lease and another took it over: add what this run added to the
            # catalog and leave the successor's lease alone.
            had = {entry.backup_id for entry in self.catalog.entries}
            added = tuple(entry for entry in pending.entries if entry.backup_id not in had)
            _merge_into_stored(self._store, self.layout, added, self.owner)

    def leave_unfinished(self) -> None:
        """After a failure: leave the lease expired, not freed, so the next run knows a run ended early.

        That run takes it over at once and looks for a manifest this one may have written without
        cataloguing it. If even this write fails, the lease expires on its own: the same, later.
        """
        if self.owner == self._parts.owner:
            with suppress(PreconditionFailed, CodeReflexError):
                expired = Lease(self.owner, self._parts.clock(), unfinished=True)
                self.write(self.catalog.with_lease(expired))

    def release_handed_over(self, owner: str) -> None:
        """StartBuild failed: free the lease handed to `owner`, unless that build has taken it already."""
        current, etag = read_catalog(self._store, self.layout)
        if current.lease is not None and current.lease.owner == owner and etag is not None:
            with suppress(PreconditionFailed):
                self.write(current.with_lease(None), if_match=etag)


@contextmanager
def _lease(layout: Layout, policy: Policy, parts: Collaborators) -> Iterator[_Lease]:
    lease, waited = _Lease(layout, policy, parts), 0.0
    # A handed-off build holds the lease for as long as a build may run.
    seconds = policy.handoff_lease_seconds if parts.build_id else policy.lease_seconds
    remembered = parts.warm.catalog(layout.catalog)
    acquired = False
    if remembered is not None and remembered[0].lease is None:
        # This process freed the lease last: writing over that very version proves nobody wrote since.
        with suppress(PreconditionFailed):
            lease.write(remembered[0].with_lease(lease.mine(seconds)), if_match=remembered[1])
            acquired = True
    while not acquired:
        now = parts.clock()
        current, etag = read_catalog(parts.store, layout)
        held = current.lease
        if held is None or held.expired(now) or held.owner == parts.owner:
            # Free, or a killed run's that expired, or the one a function handed to this build.
            try:
                lease.write(current.with_lease(lease.mine(seconds, now=now)), if_match=etag, if_absent=etag is None)
                lease.took_over = held is not None
                break
            except PreconditionFailed:
                pass  # another run wrote in between: look again after the pause
        elif held.handed_off_to is not None and etag is not None:
            # Raises HeldByBuild unless the build is over or never started: then take the lease over.
            ended = _ended_hand_off(layout, policy, parts, current, held=held, etag=etag, now=now)
            try:
                lease.write(current.with_lease(lease.mine(seconds, now=now)), if_match=etag)
                lease.took_over, lease.ended_hand_off = True, ended
                break
            except PreconditionFailed:
                pass  # another run took it (or the build did) in between: look again
        if waited >= policy.wait_seconds:
            raise BackupInProgress(f"another backup of {layout.repository} is running")
        parts.sleep(1.0)
        waited += 1.0
    try:
        yield lease
        lease.release()
    except BaseException:
        lease.leave_unfinished()
        raise


def _ended_hand_off(
    layout: Layout, policy: Policy, parts: Collaborators, current: Catalog, *, held: Lease, etag: str, now: datetime
) -> EndedHandOff:
    """Whether the build holding the lease is over: raises HeldByBuild while it is queued or running.

    A lease without a build id is one whose hand-off never heard back from StartBuild: the build is
    looked for by its owner. Not found, it may still be on its way while the function that handed
    off can be alive (`policy.lease_seconds`, longer than the function runs); after that it never
    started. A run that cannot ask CodeBuild (the build itself) leaves every handed-off lease alone.
    """
    if parts.offload is None:
        raise HeldByBuild(layout.repository, held.build)
    found = parts.offload.find(held.owner, held.build)
    if found is not None and found.status == "IN_PROGRESS":
        if held.build is None:
            # Name the build in the lease, so later runs ask for it by id (one call, not two).
            with suppress(PreconditionFailed):
                named = current.with_lease(replace(held, build=found.build_id))
                parts.store.put(layout.catalog, named.to_bytes(), if_match=etag)
        raise HeldByBuild(layout.repository, found.build_id)
    if found is None and held.build is None:
        since = held.since or held.expires - timedelta(seconds=policy.handoff_lease_seconds)
        if now - since < timedelta(seconds=policy.lease_seconds):
            raise HeldByBuild(layout.repository, None)  # StartBuild may not have answered yet
    if found is None:
        return EndedHandOff(held.owner, held.build, "MISSING")
    return EndedHandOff(held.owner, found.build_id, found.status)


# --- restore and verify --------------------------------------------------------------------------


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
    pygit2.init_repository(str(destination), bare=True)
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
    set_refs_exactly(repo, manifest.refs)
    _point_head(repo, manifest)
    return repo


def set_refs_exactly(repo: pygit2.Repository, refs: Mapping[str, str]) -> None:
    for name in list(references(repo)):
        if name.startswith("refs/") and name not in refs:
            references(repo).delete(name)
    for name, oid in refs.items():
        target = pygit2.Oid(hex=oid)
        if target not in repo.odb:
            raise TargetGone(f"the backup chain lacks object {oid} of {name}")
        references(repo).create(name, target, force=True)


def _point_head(repo: pygit2.Repository, manifest: Manifest) -> None:
    head = head_ref(manifest.refs, manifest.metadata.get("defaultBranch"))
    if head is not None:
        references(repo).create("HEAD", head, force=True)


def head_ref(refs: Mapping[str, str], default_branch: str | None) -> str | None:
    """The branch HEAD should name: the repository's default branch, else main, master or the first one."""
    candidates = [f"refs/heads/{default_branch}"] if default_branch else []
    candidates += ["refs/heads/main", "refs/heads/master", *sorted(n for n in refs if n.startswith("refs/heads/"))]
    return next((name for name in candidates if name in refs), None)


def list_backups(store: ObjectStore, prefix: str, repository: str) -> Catalog:
    """The catalog with every backup inline (its pages read)."""
    catalog = read_catalog(store, Layout(prefix, repository))[0]
    return Catalog(repository, all_entries(store, catalog), catalog.lease)


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
