"""What a backup run is given and answers: its request, policy, collaborators (and their ports), result."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import pygit2

from codereflex.backup.catalog import WarmCache
from codereflex.backup.store import ObjectStore
from codereflex.errors import CodeReflexError


class TooLarge(CodeReflexError):
    """A fetch passed the hand-off threshold and was aborted (raised by a GitSource)."""

    def __init__(self, received_bytes: int) -> None:
        super().__init__(f"fetch aborted after {received_bytes} bytes")
        self.received_bytes = received_bytes


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
