"""What a backup leaves in the store: manifests (one per backup) and the per-repository catalog, as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from codereflex.errors import PermanentError

FORMAT = 1  # the catalog's and its pages'
# Manifests: 1 lists every ref and the whole bundle chain; 2 lists them only at a chain's start and
# otherwise records what changed against its base (the chain's previous manifest) and its own bundle.
MANIFEST_FORMAT = 2
_MANIFEST_FORMATS = (1, 2)


class CatalogError(PermanentError):
    """A manifest or catalog in the store cannot be read (corrupt, or written by a newer format)."""

    reason = "bad-catalog"


@dataclass(frozen=True, slots=True)
class Layout:
    """Where one repository's backups live: `<prefix><repository>/...`."""

    prefix: str
    repository: str

    @property
    def root(self) -> str:
        return f"{self.prefix}{self.repository}/"

    @property
    def catalog(self) -> str:
        return f"{self.root}catalog.json"

    @property
    def manifests(self) -> str:
        return f"{self.root}manifests/"

    def page(self, first: str, last: str, digest: str) -> str:
        """A page of older catalog entries, backups `first` to `last`; `digest` (of its content) pins it."""
        return f"{self.root}catalog/{first}_{last}_{digest}.json"

    def manifest(self, backup_id: str) -> str:
        return f"{self.manifests}{backup_id}.json"

    @staticmethod
    def sibling_manifest(key: str, backup_id: str) -> str:
        """The key of another backup's manifest beside the manifest at `key` (how a base is found)."""
        return f"{key.rsplit('/', 1)[0]}/{backup_id}.json"

    def bundle(self, backup_id: str) -> str:
        return f"{self.root}bundles/{backup_id}.bundle"


def _json_value(value: object) -> str:
    """Metadata from boto3 carries datetimes (pull request dates): store them as ISO 8601."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def backup_id(sequence: int, when: datetime) -> str:
    """Sortable by sequence first, so a clock step back never reorders the chain."""
    return f"{sequence:08d}-{when.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def sequence_of(backup: str) -> int | None:
    """The sequence a backup id (or a page key's first or last id) starts with; None if it is no id."""
    head, dash, _ = backup.partition("-")
    return int(head) if dash and head.isascii() and head.isdigit() else None


@dataclass(frozen=True, slots=True)
class BundleRef:
    """One bundle of a chain: its key, its pack index key, its size and object count.

    A small bundle is stored without its index (`index_key` None): the restore indexes its pack.
    """

    key: str
    index_key: str | None
    size: int
    objects: int
    prerequisites: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "indexKey": self.index_key,
            "size": self.size,
            "objects": self.objects,
            "prerequisites": list(self.prerequisites),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BundleRef:
        return cls(data["key"], data["indexKey"], int(data["size"]), int(data["objects"]), tuple(data["prerequisites"]))


@dataclass(frozen=True, slots=True)
class Manifest:
    """One backup: the refs at `time` and the bundles (full first) that restore them.

    In memory a manifest always has every ref and its whole chain. Stored, a chain's first one
    lists them; every later one names its `base` (the key of the chain's previous manifest) and
    records only the refs added or moved, the refs deleted, its own bundle (none when refs were
    only deleted) and its metadata when that changed, so its size follows the change, not the
    repository. Reading it means reading its base first (`codereflex.backup.catalog.load_manifest`).
    A base is named by backup id, not key, so a copied backup tree (`aws s3 sync`) still resolves.
    """

    repository: str
    backup_id: str
    sequence: int
    time: datetime
    event_id: str | None
    refs: dict[str, str]
    chain: tuple[BundleRef, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    base: str | None = None  # the backup id of the chain's previous manifest (None: the chain's first)
    depth: int = 1  # backups in its chain up to this one (format 1: bundles, one per backup)

    def to_bytes(self, previous: Manifest | None = None) -> bytes:
        """The stored form; `previous` is the manifest `base` names, what the changes are recorded against."""
        body: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "repository": self.repository,
            "backupId": self.backup_id,
            "sequence": self.sequence,
            "time": self.time.astimezone(UTC).isoformat(),
            "eventId": self.event_id,
        }
        if self.base is None:
            body |= {"refs": dict(sorted(self.refs.items())), "chain": [link.to_json() for link in self.chain]}
            body["metadata"] = self.metadata
        else:
            if previous is None or self.chain[: len(previous.chain)] != previous.chain:
                raise ValueError("a manifest with a base is written against that base")
            added = self.chain[len(previous.chain) :]
            if len(added) > 1:
                raise ValueError("a manifest adds at most one bundle to its base's chain")
            body |= {
                "base": self.base,
                "changed": {name: oid for name, oid in sorted(self.refs.items()) if previous.refs.get(name) != oid},
                "deleted": sorted(set(previous.refs) - set(self.refs)),
                "bundle": added[0].to_json() if added else None,
            }
            if self.metadata != previous.metadata:
                body["metadata"] = self.metadata
        return json.dumps(body, indent=1, ensure_ascii=False, default=_json_value).encode()

    @staticmethod
    def parse(data: bytes) -> dict[str, Any]:
        """The stored JSON, its format checked; `base` in it names the manifest to read first."""
        try:
            body = json.loads(data)
        except ValueError as error:
            raise CatalogError(f"manifest cannot be read: {type(error).__name__}") from error
        if not isinstance(body, dict) or body.get("format") not in _MANIFEST_FORMATS:
            found = body.get("format") if isinstance(body, dict) else None
            raise CatalogError(f"manifest format {found!r} is not one of {_MANIFEST_FORMATS}")
        if body.get("base") is not None and not isinstance(body["base"], str):
            raise CatalogError("manifest base is not a key")
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any], previous: Manifest | None = None) -> Manifest:
        """A parsed manifest, made whole with `previous` (the manifest its `base` names) when it has one."""
        try:
            base = body.get("base")
            if base is None:
                refs = dict(body["refs"])
                chain = tuple(BundleRef.from_json(item) for item in body["chain"])
                metadata = dict(body.get("metadata") or {})
                depth = len(chain) if body["format"] == 1 else 1
            else:
                if previous is None:
                    raise CatalogError(f"manifest {body.get('backupId')!r} is read without its base {base}")
                deleted = set(body["deleted"])
                refs = {name: oid for name, oid in previous.refs.items() if name not in deleted}
                refs |= dict(body["changed"])
                bundle = body["bundle"]
                chain = previous.chain + ((BundleRef.from_json(bundle),) if bundle is not None else ())
                metadata = dict(body["metadata"]) if "metadata" in body else previous.metadata
                depth = previous.depth + 1
            return cls(
                repository=body["repository"],
                backup_id=body["backupId"],
                sequence=int(body["sequence"]),
                time=datetime.fromisoformat(body["time"]),
                event_id=body.get("eventId"),
                refs=refs,
                chain=chain,
                metadata=metadata,
                base=base,
                depth=depth,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise CatalogError(f"manifest cannot be read: {type(error).__name__}") from error

    @classmethod
    def from_bytes(cls, data: bytes, previous: Manifest | None = None) -> Manifest:
        return cls.from_json(cls.parse(data), previous)

    @property
    def packed_size(self) -> int:
        """Bytes of its bundle chain: what restoring it downloads, and about what fetching the repository costs."""
        return sum(link.size for link in self.chain)

    def entry(self, key: str) -> CatalogEntry:
        return CatalogEntry(self.backup_id, self.sequence, self.time, key, self.event_id, len(self.refs))


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    backup_id: str
    sequence: int
    time: datetime
    manifest_key: str
    event_id: str | None
    ref_count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "backupId": self.backup_id,
            "sequence": self.sequence,
            "time": self.time.astimezone(UTC).isoformat(),
            "manifest": self.manifest_key,
            "eventId": self.event_id,
            "refCount": self.ref_count,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CatalogEntry:
        return cls(
            data["backupId"],
            int(data["sequence"]),
            datetime.fromisoformat(data["time"]),
            data["manifest"],
            data.get("eventId"),
            int(data["refCount"]),
        )


@dataclass(frozen=True, slots=True)
class Lease:
    """The run (or CodeBuild build) that may write a repository's backups until `expires`.

    Kept in the catalog itself, so taking the lease and reading the catalog are one conditional
    write, and freeing it and recording a backup are another.
    """

    owner: str
    expires: datetime
    handed_off_to: str | None = None  # "codebuild" while a build a function started holds it
    build: str | None = None
    unfinished: bool = False  # its run failed: the next one looks for what it left uncatalogued
    # When a function handed it to the build: until the build is known, how long StartBuild may be in flight.
    since: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires <= now

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"owner": self.owner, "expires": self.expires.astimezone(UTC).isoformat()}
        if self.handed_off_to is not None:
            body |= {"handedOffTo": self.handed_off_to, "build": self.build}
            if self.since is not None:
                body["handedOffAt"] = self.since.astimezone(UTC).isoformat()
        if self.unfinished:
            body["unfinished"] = True
        return body

    @classmethod
    def from_json(cls, data: Any) -> Lease:
        """An unreadable lease reads as an expired one: nobody can prove they hold it."""
        try:
            expires = datetime.fromisoformat(data["expires"])
            since = datetime.fromisoformat(data["handedOffAt"]) if data.get("handedOffAt") else None
            if expires.tzinfo is None or (since is not None and since.tzinfo is None):
                raise ValueError("a lease time without a time zone")
            return cls(
                str(data["owner"]),
                expires,
                data.get("handedOffTo"),
                data.get("build"),
                bool(data.get("unfinished", False)),
                since,
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            return cls("", datetime.min.replace(tzinfo=UTC))


@dataclass(frozen=True, slots=True)
class PageRef:
    """A catalog page as the catalog names it: enough to know which pages can hold a given time."""

    key: str
    count: int
    earliest: datetime  # the earliest time of its entries
    last_sequence: int  # the highest sequence among them

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "count": self.count,
            "earliest": self.earliest.astimezone(UTC).isoformat(),
            "lastSequence": self.last_sequence,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PageRef:
        return cls(data["key"], int(data["count"]), datetime.fromisoformat(data["earliest"]), int(data["lastSequence"]))

    @classmethod
    def of(cls, key: str, entries: tuple[CatalogEntry, ...]) -> PageRef:
        return cls(key, len(entries), min(e.time for e in entries), max(e.sequence for e in entries))


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every backup of one repository, oldest first: "refs of X at T" is one catalog and one manifest read.

    The newest entries are inline; older ones move, a page at a time, to page objects the catalog
    names (`pages`, oldest first), so the catalog a backup rewrites stays small however long the
    history. It also carries the repository's lease (None when no run holds it); readers ignore it.
    """

    repository: str
    entries: tuple[CatalogEntry, ...] = ()
    lease: Lease | None = None
    pages: tuple[PageRef, ...] = ()

    @property
    def latest(self) -> CatalogEntry | None:
        return self.entries[-1] if self.entries else None

    def at(self, when: datetime | None) -> CatalogEntry | None:
        """The last backup taken at or before `when` (the latest when None), among the inline entries.

        `codereflex.backup.catalog.entry_at` searches the pages too.
        """
        if when is None:
            return self.latest
        found = [entry for entry in self.entries if entry.time <= when]
        return found[-1] if found else None

    def with_entries(self, *added: CatalogEntry) -> Catalog:
        by_id = {entry.backup_id: entry for entry in (*self.entries, *added)}
        # Time breaks a tie in sequence (an adopted manifest numbered like a later run's): latest stays latest.
        ordered = sorted(by_id.values(), key=lambda entry: (entry.sequence, entry.time))
        return Catalog(self.repository, tuple(ordered), self.lease, self.pages)

    def with_lease(self, lease: Lease | None) -> Catalog:
        return Catalog(self.repository, self.entries, lease, self.pages)

    def to_bytes(self) -> bytes:
        body: dict[str, Any] = {
            "format": FORMAT,
            "repository": self.repository,
            "backups": [entry.to_json() for entry in self.entries],
        }
        if self.pages:
            body["pages"] = [page.to_json() for page in self.pages]
        if self.lease is not None:
            body["lease"] = self.lease.to_json()
        return json.dumps(body, indent=1, ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Catalog:
        try:
            body = json.loads(data)
            if body.get("format") != FORMAT:
                raise CatalogError(f"catalog format {body.get('format')!r} is not {FORMAT}")
            lease = Lease.from_json(body["lease"]) if body.get("lease") is not None else None
            pages = tuple(PageRef.from_json(item) for item in body.get("pages", []))
            return cls(
                body["repository"], tuple(CatalogEntry.from_json(item) for item in body["backups"]), lease, pages
            )
        except (KeyError, TypeError, ValueError) as error:
            raise CatalogError(f"catalog cannot be read: {type(error).__name__}") from error


def head_ref(refs: Mapping[str, str], default_branch: str | None) -> str | None:
    """The branch HEAD should name: the repository's default branch, else main, master or the first one."""
    candidates = [f"refs/heads/{default_branch}"] if default_branch else []
    candidates += ["refs/heads/main", "refs/heads/master", *sorted(n for n in refs if n.startswith("refs/heads/"))]
    return next((name for name in candidates if name in refs), None)
