"""The lease in a repository's catalog that keeps two runs for one repository from overlapping.

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

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import datetime, timedelta

from codereflex.backup.catalog import merge_into_stored, paged, read_catalog
from codereflex.backup.job import Collaborators, EndedHandOff, Policy
from codereflex.backup.model import Catalog, Layout, Lease
from codereflex.backup.store import PreconditionFailed
from codereflex.errors import CodeReflexError, TransientError


class BackupInProgress(TransientError):
    """Another run holds this repository's lease: retry later (it may already cover this change)."""


class HeldByBuild(BackupInProgress):
    """The lease was handed to a CodeBuild build, which is (or will be) backing the repository up."""

    def __init__(self, repository: str, build_id: str | None) -> None:
        super().__init__(f"a CodeBuild build holds the backup lease of {repository}")
        self.build_id = build_id


class HeldLease:
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
        catalog = paged(self._store, self.layout, pending.with_lease(None), self._policy.catalog_page_entries)
        try:
            self.write(catalog)
        except PreconditionFailed:
            # This run outlived its lease and another took it over: add what this run added to the
            # catalog and leave the successor's lease alone.
            had = {entry.backup_id for entry in self.catalog.entries}
            added = tuple(entry for entry in pending.entries if entry.backup_id not in had)
            merge_into_stored(self._store, self.layout, added, self.owner)

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
def hold_lease(layout: Layout, policy: Policy, parts: Collaborators) -> Iterator[HeldLease]:
    lease, waited = HeldLease(layout, policy, parts), 0.0
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
