"""The object store a backup writes to (S3 in AWS, a fake in unit tests), as a typing.Protocol port."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from codereflex.errors import TransientError

Progress = Callable[[int], None]


class PreconditionFailed(TransientError):
    """A conditional write lost a race (the object changed or already exists): re-read and try again."""


@dataclass(frozen=True, slots=True)
class Stored:
    data: bytes
    etag: str


class ObjectStore(Protocol):
    def get(self, key: str) -> Stored | None: ...

    def put(self, key: str, data: bytes, *, if_match: str | None = None, if_absent: bool = False) -> str:
        """Write `data`; with `if_match` only over that ETag, with `if_absent` only if nothing is there."""
        ...

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        """Delete `key`; with `if_match` only that ETag's version (PreconditionFailed otherwise, or if gone)."""
        ...

    def keys(self, prefix: str) -> list[str]: ...

    def upload(self, key: str, path: Path, progress: Progress | None = None) -> None: ...

    def download(self, key: str, path: Path, progress: Progress | None = None) -> None: ...
