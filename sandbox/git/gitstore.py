"""Where the sandbox keeps the bare git repositories behind its CodeCommit repositories."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

_NAME = re.compile(r"^[\w.-]{1,100}$")


@dataclass
class GitStore:
    """Maps CodeCommit repository names to bare repositories on disk, and knows the git server's URL.

    One store serves a whole sandbox process: moto's CodeCommit backend creates and imports
    repositories through it, and the git server resolves `/v1/repos/<name>` through it.
    """

    root: Path
    base_url: str = "http://127.0.0.1:0"
    region: str = "us-east-1"
    _imported: dict[str, Path] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clone_url(self, name: str) -> str:
        return f"{self.base_url}/v1/repos/{name}"

    def path_for(self, name: str) -> Path:
        if not _NAME.match(name) or name in {".", ".."}:
            raise ValueError(f"invalid repository name: {name!r}")
        with self._lock:
            return self._imported.get(name, self.root / f"{name}.git")

    def register(self, name: str, path: Path) -> None:
        """Serve an existing bare repository on disk under `name` (an import)."""
        with self._lock:
            self._imported[name] = path.resolve()

    def forget(self, name: str) -> None:
        with self._lock:
            self._imported.pop(name, None)


_current: GitStore | None = None


def configure(store: GitStore) -> GitStore:
    """Install the store this process's sandbox uses (the git server and moto read it)."""
    global _current  # noqa: PLW0603 - one sandbox per process, by design
    _current = store
    return store


def current() -> GitStore | None:
    return _current
