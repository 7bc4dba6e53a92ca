"""The bundle header and the catalog: what a restore reads must be exactly what a backup wrote."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from codereflex.backup.bundle import BundleFormatError, read_header, render_header
from codereflex.backup.model import BundleRef, Catalog, CatalogEntry, CatalogError, Lease, Manifest, PageRef

A, B, C = "a" * 40, "b" * 40, "c" * 40
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_a_header_round_trips_with_unicode_ref_names() -> None:
    # Given refs (one with a non-ASCII name), a prerequisite and HEAD
    refs = {"refs/heads/main": A, "refs/heads/ünïcødé-✓": B, "refs/tags/v1": C}
    header = render_header(refs, {A: "Subject  line\twith tabs"}, head="refs/heads/main")
    # When it is read back in front of a pack
    stream = io.BytesIO(header + b"PACK...")
    parsed = read_header(stream)
    # Then everything is there, and the stream stands at the pack
    assert parsed.prerequisites == (A,)
    assert dict(parsed.refs) == {**refs, "HEAD": A}
    assert stream.read(4) == b"PACK"
    assert header.startswith(b"# v2 git bundle\n-" + A.encode() + b" Subject line with tabs\n")


@pytest.mark.parametrize(
    "data",
    [b"# v3 git bundle\n\n", b"# v2 git bundle\nnot-an-oid refs/heads/x\n\n", b"# v2 git bundle\n" + A.encode()],
    ids=["other-version", "bad-ref-line", "no-blank-line"],
)
def test_what_is_not_a_v2_bundle_is_refused(data: bytes) -> None:
    with pytest.raises(BundleFormatError):
        read_header(io.BytesIO(data))


def test_the_catalog_answers_at_a_time_without_listing() -> None:
    # Given three backups a minute apart
    entries = [CatalogEntry(f"{n:08d}", n, T0 + timedelta(minutes=n), f"m{n}", None, 1) for n in (1, 2, 3)]
    catalog = Catalog("repo").with_entries(*reversed(entries))
    # Then "at T" is the last backup at or before T, and nothing before the first
    assert catalog.at(T0 + timedelta(minutes=2, seconds=30)) == entries[1]
    assert catalog.at(T0 + timedelta(minutes=2)) == entries[1]
    assert catalog.at(T0) is None
    assert catalog.at(None) == entries[2]
    # And it survives its JSON form
    assert Catalog.from_bytes(catalog.to_bytes()) == catalog


def test_a_manifest_of_another_format_is_refused() -> None:
    manifest = Manifest("repo", "00000001", 1, T0, "event", {"refs/heads/main": A}, ())
    assert Manifest.from_bytes(manifest.to_bytes()) == manifest
    with pytest.raises(CatalogError):
        Manifest.from_bytes(manifest.to_bytes().replace(b'"format": 2', b'"format": 3'))


def test_a_later_manifest_stores_only_its_changes_and_reads_back_whole_with_its_base() -> None:
    # Given a chain's first manifest and a later one: a ref moved, one added, one deleted, a bundle more
    first_link = BundleRef("bundles/1.bundle", None, 900, 7)
    first = Manifest("repo", "00000001", 1, T0, "e1", {"refs/heads/main": A, "refs/tags/v1": B}, (first_link,))
    link = BundleRef("bundles/2.bundle", None, 300, 3, (A,))
    refs = {"refs/heads/main": C, "refs/heads/next": C}
    later = Manifest("repo", "00000002", 2, T0, "e2", refs, (first_link, link), base="00000001", depth=2)
    # When it is written against its base
    data = later.to_bytes(first)
    body = json.loads(data)
    # Then it holds the changes, not the refs, its own bundle only, and no unchanged metadata
    assert (body["base"], body["changed"], body["deleted"]) == ("00000001", refs, ["refs/tags/v1"])
    assert "refs" not in body and "chain" not in body and "metadata" not in body
    assert body["bundle"]["key"] == "bundles/2.bundle"
    # And read with its base it is whole again; without it, it cannot be read
    assert Manifest.from_bytes(data, Manifest.from_bytes(first.to_bytes())) == later
    with pytest.raises(CatalogError):
        Manifest.from_bytes(data)


def test_the_catalog_carries_its_lease_and_keeps_it_as_backups_are_added() -> None:
    # Given a catalog held by a build a function handed it to
    lease = Lease("codebuild-token", T0 + timedelta(hours=9), "codebuild", "backup:1")
    held = Catalog("repo", lease=lease)
    # When a backup is added and the catalog goes through its JSON form
    entry = CatalogEntry("00000001", 1, T0, "m1", None, 1)
    stored = Catalog.from_bytes(held.with_entries(entry).to_bytes())
    # Then the lease is still there, whole, and freeing it leaves the backups
    assert stored.lease == lease
    assert stored.entries == (entry,)
    assert stored.with_lease(None).lease is None
    assert stored.with_lease(None).entries == (entry,)
    assert b'"lease"' not in stored.with_lease(None).to_bytes()
    # And it is expired from its expiry on
    assert not lease.expired(T0) and lease.expired(T0 + timedelta(hours=9))


@pytest.mark.parametrize(
    "lease",
    [{"owner": "x"}, {"owner": "x", "expires": "soon"}, {"owner": "x", "expires": "2999-01-01T00:00:00"}, "held"],
    ids=["no-expiry", "bad-expiry", "expiry-without-zone", "not-an-object"],
)
def test_an_unreadable_lease_reads_as_expired(lease: object) -> None:
    # Given a catalog whose lease nobody can read (hand-edited, or written by something else)
    data = json.dumps({"format": 1, "repository": "repo", "backups": [], "lease": lease}).encode()
    # Then the catalog still reads, and its lease counts as expired: a run may take it over
    read = Catalog.from_bytes(data).lease
    assert read is not None
    assert read.expired(T0)


def test_the_catalog_names_its_pages_and_keeps_them_through_its_json_form() -> None:
    # Given a catalog whose two oldest entries moved to a page
    old = tuple(CatalogEntry(f"{n:08d}", n, T0 + timedelta(minutes=n), f"m{n}", None, 1) for n in (1, 2))
    page = PageRef.of("backups/repo/catalog/00000001_00000002_x.json", old)
    newest = CatalogEntry("00000003", 3, T0 + timedelta(minutes=3), "m3", None, 1)
    catalog = Catalog("repo", (newest,), pages=(page,))
    # Then the page reference records what a search by time needs
    assert (page.count, page.earliest, page.last_sequence) == (2, T0 + timedelta(minutes=1), 2)
    # And pages and lease survive the JSON form, adding a backup and taking the lease
    lease = Lease("run", T0)
    read = Catalog.from_bytes(catalog.with_lease(lease).to_bytes())
    assert read.pages == (page,) and read.lease == lease
    assert read.with_entries(CatalogEntry("00000004", 4, T0, "m4", None, 1)).pages == (page,)
