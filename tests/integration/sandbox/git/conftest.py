"""Fixtures for the sandbox git server: a store with one bare repository, the server, plain git."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pygit2
import pytest
from botocore.credentials import Credentials
from pygit2.callbacks import RemoteCallbacks
from pygit2.remotes import RemoteCollection

from sandbox.git.gitserver import GitServer
from sandbox.git.gitstore import GitStore

ACCESS_KEY = "AKIASANDBOXGIT0001"
SECRET = "sandbox/secret+key=="
TOKEN = "FwoGZXIvYXdzEJr//////////wEaDsession/token+with=padding"
REGION = "eu-west-1"
REPO = "demo"


@dataclass
class Pushes:
    names: list[str] = field(default_factory=list)
    pushers: list[str] = field(default_factory=list)

    def record(self, name: str, access_key_id: str) -> None:
        self.names.append(name)
        self.pushers.append(access_key_id)


@pytest.fixture
def store(tmp_path: Path) -> GitStore:
    root = tmp_path / "store"
    root.mkdir()
    store = GitStore(root=root, region=REGION)
    pygit2.init_repository(str(store.path_for(REPO)), bare=True, initial_head="main")
    return store


@pytest.fixture
def pushes() -> Pushes:
    return Pushes()


@pytest.fixture
def server(store: GitStore, pushes: Pushes) -> Iterator[GitServer]:
    with GitServer(store, {ACCESS_KEY: SECRET}, on_push=pushes.record) as running:
        yield running


@pytest.fixture
def credentials() -> Credentials:
    """Temporary credentials, as a Lambda role has: the username carries a session token."""
    return Credentials(ACCESS_KEY, SECRET, TOKEN)


@pytest.fixture
def git_env(tmp_path: Path) -> dict[str, str]:
    """Plain git with no prompts, no credential helpers and none of the developer's config."""
    home = tmp_path / "home"
    home.mkdir()
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",
        "GIT_AUTHOR_NAME": "Sandbox Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Sandbox Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }


def run_git(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-c", "credential.helper=", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def commit_into(repository: pygit2.Repository, message: str, files: dict[str, bytes]) -> str:
    """Commit `files` onto the current branch of `repository` (bare or not) without a checkout; return the id."""
    builder = repository.TreeBuilder()
    for name, data in files.items():
        builder.insert(name, repository.create_blob(data), pygit2.enums.FileMode.BLOB)
    signature = pygit2.Signature("Sandbox Test", "test@example.com")
    parents = [] if repository.head_is_unborn else [repository.head.target]
    return str(repository.create_commit("HEAD", signature, signature, message, builder.write(), parents))


# pygit2 1.17 (the newest with Amazon Linux 2 wheels) leaves these unannotated: type them once here.
def clone(url: str, path: Path, callbacks: RemoteCallbacks) -> pygit2.Repository:
    repository: pygit2.Repository = pygit2.clone_repository(  # type: ignore[no-untyped-call]
        url, str(path), callbacks=callbacks
    )
    return repository


def push(repository: pygit2.Repository, url: str, refspec: str, callbacks: RemoteCallbacks) -> None:
    remote = RemoteCollection(repository).create_anonymous(url)  # type: ignore[arg-type,no-untyped-call]
    remote.push([refspec], callbacks=callbacks)
