"""What every demo act shares: the printed story, its checks, and a developer's pushing workspace."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pygit2
from pygit2.enums import FileMode
from pygit2.remotes import RemoteCollection

from codereflex.gitremote import CodeCommitCredentials
from sandbox.local import Sandbox

AUTHOR = pygit2.Signature("Alice Developer", "alice@example.com")


# The functions' JSON logs and EMF metrics would drown the story; warnings and errors still show.
QUIET = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}


class DemoFailure(AssertionError):
    """Something the demo claims did not happen."""


def say(text: str = "") -> None:
    print(text, flush=True)


def title(text: str) -> None:
    say()
    say(f"== {text} " + "=" * max(0, 76 - len(text)))


def expect(condition: bool, claim: str) -> None:
    if not condition:
        raise DemoFailure(claim)
    say(f"   ok: {claim}")


def commit(repo: pygit2.Repository, message: str, files: dict[str, str], parents: Sequence[pygit2.Oid]) -> pygit2.Oid:
    builder = repo.TreeBuilder()
    for name, text in files.items():
        builder.insert(name, repo.create_blob(text.encode()), FileMode.BLOB)
    return repo.create_commit(None, AUTHOR, AUTHOR, message, builder.write(), list(parents))


class Workspace:
    """A developer's local clone, pushing with codereflex's own SigV4 credential provider."""

    def __init__(self, sandbox: Sandbox, path: Path, url: str) -> None:
        self.sandbox = sandbox
        self.repo = pygit2.init_repository(str(path), bare=True)
        # pygit2 1.17's stubs omit Repository.remotes; RemoteCollection is the same object.
        self.remote = RemoteCollection(self.repo).create("origin", url)  # type: ignore[arg-type,no-untyped-call]

    def push(self, *refspecs: str) -> None:
        # One credential provider per operation: it fetches fresh credentials and signs for this URL.
        callbacks = CodeCommitCredentials(self.sandbox.developer, self.sandbox.region)
        self.remote.push(list(refspecs), callbacks=callbacks)
        self.sandbox.settle()

    def set_ref(self, name: str, target: pygit2.Oid) -> None:
        self.repo.create_reference_direct(name, target, True)


def run(story: Callable[[Sandbox, Path], None], done: str) -> int:
    """Tell `story` in a fresh sandbox and scratch directory; 1 with the broken claim if one does not hold."""
    try:
        with tempfile.TemporaryDirectory(prefix="codereflex-demo-") as scratch, Sandbox(function_env=QUIET) as sandbox:
            story(sandbox, Path(scratch))
    except DemoFailure as failure:
        say(f"\nDEMO FAILED: {failure}")
        return 1
    say(f"\n{done}")
    return 0
