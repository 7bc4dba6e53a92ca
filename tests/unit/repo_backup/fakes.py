"""In-memory stand-ins for the backup function's ports (the engine itself is tested against moto and git)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from codereflex.backup.store import PreconditionFailed, Progress, Stored


@dataclass
class FakeRepositories:
    repositories: list[str]

    def names(self) -> list[str]:
        return list(self.repositories)

    def clone_url(self, repository: str) -> str:
        return f"https://git-codecommit.us-east-1.amazonaws.com/v1/repos/{repository}"


@dataclass
class FakeStore:
    """Objects by key with ETags that change on every write, and S3's two write conditions."""

    objects: dict[str, Stored] = field(default_factory=dict)
    writes: int = 0

    def get(self, key: str) -> Stored | None:
        return self.objects.get(key)

    def put(self, key: str, data: bytes, *, if_match: str | None = None, if_absent: bool = False) -> str:
        current = self.objects.get(key)
        if (if_absent and current is not None) or (
            if_match is not None and (current is None or current.etag != if_match)
        ):
            raise PreconditionFailed(key)
        self.writes += 1
        self.objects[key] = Stored(data, f'"{self.writes}"')
        return self.objects[key].etag

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        if if_match is not None and (key not in self.objects or self.objects[key].etag != if_match):
            raise PreconditionFailed(key)
        self.objects.pop(key, None)

    def keys(self, prefix: str) -> list[str]:
        return sorted(key for key in self.objects if key.startswith(prefix))

    def upload(self, key: str, path: Path, progress: Progress | None = None) -> None:
        self.put(key, path.read_bytes())

    def download(self, key: str, path: Path, progress: Progress | None = None) -> None:
        path.write_bytes(self.objects[key].data)


class NoGit:
    """A git source that must not be reached."""

    def warm(self, repository: str) -> bool:
        return False

    def discard(self, repository: str) -> None:
        pass

    def remote_refs(self, repository: str, url: str) -> dict[str, str]:
        raise AssertionError("no git access expected")

    def fetch(self, repository: str, url: str, *, limit: int | None = None) -> dict[str, str]:
        raise AssertionError("no git access expected")

    def open(self, repository: str) -> pygit2.Repository:
        raise AssertionError("no git access expected")


@dataclass
class FailingGit(NoGit):
    """Fetching raises the error given for a repository; any other repository is empty."""

    errors: dict[str, Exception]

    def fetch(self, repository: str, url: str, *, limit: int | None = None) -> dict[str, str]:
        if repository in self.errors:
            raise self.errors[repository]
        return {}

    def remote_refs(self, repository: str, url: str) -> dict[str, str]:
        return self.fetch(repository, url)
