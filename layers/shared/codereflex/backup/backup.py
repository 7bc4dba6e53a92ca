"""Back up one repository into the store: the run, its bundle chain, and the hand-off of one too large.

Write order is what makes a backup atomic: bundle and pack index first (new keys, never
overwritten), then the manifest (created only if absent), then the catalog (compare-and-swap on
its ETag). A run that dies before its manifest leaves unreferenced bundles and no backup; one
that dies between manifest and catalog is adopted by the next run: a failed run leaves its lease
expired and marked unfinished (a killed one leaves it to expire), and a run that takes a lease
over lists the manifests, as the daily sweep's runs always do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace

from codereflex.backup.bundle import write_bundle
from codereflex.backup.catalog import adopt_orphans, latest_manifest
from codereflex.backup.job import BackupRequest, BackupResult, Collaborators, Offload, Outcome, Policy, TooLarge
from codereflex.backup.lease import HeldByBuild, HeldLease, hold_lease
from codereflex.backup.model import BundleRef, Layout, Manifest, backup_id, head_ref

# Bundles smaller than this are stored without their pack index (restore indexes them): most pushes.
UNINDEXED_BUNDLE_BYTES = 1024 * 1024


def back_up(request: BackupRequest, policy: Policy, parts: Collaborators) -> BackupResult:
    """Back up the repository's current refs unless the latest backup already has exactly them.

    With `policy.offload_bytes` and `parts.offload`, a repository larger than the threshold is
    handed off instead (outcome HANDED_OFF): see codereflex.backup.lease.
    """
    layout = Layout(policy.prefix, request.repository)
    try:
        with hold_lease(layout, policy, parts) as lease:
            result = _back_up_leased(request, policy, parts, layout, lease)
            return replace(result, ended_hand_off=lease.ended_hand_off) if lease.ended_hand_off else result
    except HeldByBuild as held:
        return BackupResult(Outcome.HANDED_OFF, request.repository, build_id=held.build_id, already_handed_off=True)


def _back_up_leased(
    request: BackupRequest, policy: Policy, parts: Collaborators, layout: Layout, lease: HeldLease
) -> BackupResult:
    catalog = lease.catalog
    adopted = 0
    if lease.took_over or request.look_for_orphans:
        catalog, adopted = adopt_orphans(parts.store, layout, catalog)
        lease.record(catalog)
    latest = latest_manifest(parts.store, parts.warm, catalog)
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


def _hand_off(request: BackupRequest, policy: Policy, offload: Offload, lease: HeldLease, size: int) -> BackupResult:
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
