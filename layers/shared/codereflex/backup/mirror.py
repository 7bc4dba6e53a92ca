"""A bare mirror of every ref (+refs/*:refs/*) kept up to date with pygit2 over HTTPS (or a local path)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, cast

import pygit2
from pygit2.callbacks import RemoteCallbacks
from pygit2.enums import FetchPrune
from pygit2.remotes import RemoteCollection, TransferProgress

from codereflex.backup import libgit2, smarthttp
from codereflex.backup.bundle import references
from codereflex.backup.job import TooLarge
from codereflex.backup.packedrefs import write_packed_refs
from codereflex.errors import AccessDenied, TargetGone, TransientError
from codereflex.gitremote import CodeCommitCredentials

MIRROR_REFSPEC = "+refs/*:refs/*"
# A warm mirror's update up to this size goes through the two-request client; larger ones through libgit2.
SMALL_FETCH_BYTES = 8 * 1024 * 1024
# A cold mirror's first fetch up to this size too. The answer is held in memory (twice, briefly:
# the pack is cut from it), so larger repositories take libgit2's route, which streams to disk.
COLD_FETCH_BYTES = 64 * 1024 * 1024


class GitMirror:
    """Mirrors under `root/<repository>.git`, reused while the process (a warm Lambda) lives.

    `callbacks` makes the credential provider for one network operation (CodeCommitCredentials
    signs per URL and refuses to sign twice, so each fetch or ls-remote gets a new one).
    """

    def __init__(self, root: Path, callbacks: Callable[[], RemoteCallbacks | None]) -> None:
        self._root = root
        self._callbacks = callbacks

    def path(self, repository: str) -> Path:
        return self._root / f"{repository}.git"

    def open(self, repository: str) -> pygit2.Repository:
        path = self.path(repository)
        if (path / "HEAD").exists():
            try:
                return pygit2.Repository(str(path))
            except pygit2.GitError:
                shutil.rmtree(path)  # a half-written mirror from a killed run: start over
        path.parent.mkdir(parents=True, exist_ok=True)
        return pygit2.init_repository(str(path), bare=True)

    def warm(self, repository: str) -> bool:
        """Whether an earlier run left this mirror with refs (a warm Lambda): fetching it is incremental."""
        path = self.path(repository)
        return (path / "HEAD").exists() and bool(refs_of(self.open(repository)))

    def discard(self, repository: str) -> None:
        """Remove the mirror: a sweep over many repositories must not fill the function's /tmp."""
        shutil.rmtree(self.path(repository), ignore_errors=True)

    def remote_refs(self, repository: str, url: str) -> dict[str, str]:
        """The remote's refs (no objects transferred): the cheap "did anything change" check."""
        callbacks = self._callbacks()
        authorization = _preemptive(callbacks, url)
        if authorization is not None:
            # One request with the credentials (libgit2 would take a 401 first), nothing fetched.
            with suppress(smarthttp.NotHandled):
                return smarthttp.advertised_refs(url, authorization, max_bytes=SMALL_FETCH_BYTES)
            callbacks = self._callbacks()  # the signature above is spent
        remote = RemoteCollection(self.open(repository)).create_anonymous(url)  # type: ignore[arg-type,no-untyped-call]
        try:
            heads = remote.ls_remotes(callbacks=callbacks)
        except pygit2.GitError as error:
            raise _translate(error, repository) from error
        return {
            str(head["name"]): str(head["oid"])
            for head in heads
            if str(head["name"]).startswith("refs/") and not str(head["name"]).endswith("^{}")
        }

    def fetch(self, repository: str, url: str, *, limit: int | None = None) -> dict[str, str]:
        """Bring the mirror to the remote's state (deleted refs pruned); returns the mirror's refs.

        With `limit`, the transfer is aborted with TooLarge as soon as more than `limit` bytes arrived.
        """
        repo = self.open(repository)
        remote = RemoteCollection(repo).create_anonymous(url)  # type: ignore[arg-type,no-untyped-call]
        callbacks = self._callbacks()
        if limit is not None:
            callbacks = callbacks or RemoteCallbacks()  # type: ignore[no-untyped-call]
            libgit2.set_transfer_progress(callbacks, _stop_after(limit))
        elif callbacks is not None:
            # pygit2 calls back into Python once per object received just to report progress: skip it.
            libgit2.set_transfer_progress(callbacks, None)
        authorization = _preemptive(callbacks, url)
        if authorization is not None:
            # A warm mirror's tips are the haves of a one-round fetch. A cold one has none, and the
            # answer is the complete pack: received and indexed here, click's first fetch took
            # 0.6 s where libgit2's took 1.3 s.
            current = refs_of(repo)
            cap = SMALL_FETCH_BYTES if current else COLD_FETCH_BYTES
            try:
                return _fetch_small(repo, url, authorization, current, max_bytes=cap, limit=limit)
            except smarthttp.Oversize as oversize:
                if limit is not None and oversize.received_bytes > limit:
                    raise TooLarge(oversize.received_bytes) from None
            except smarthttp.NotHandled:
                pass  # libgit2 fetches it instead
        self._fetch_with_libgit2(repository, url, repo, remote, callbacks=callbacks, authorization=authorization)
        return refs_of(repo)

    def _fetch_with_libgit2(
        self,
        repository: str,
        url: str,
        repo: pygit2.Repository,
        remote: Any,
        *,
        callbacks: RemoteCallbacks | None,
        authorization: str | None,
    ) -> None:
        try:
            self._libgit2_fetch(remote, callbacks, authorization)
        except pygit2.GitError as error:
            if not _is_name_conflict(error):
                raise _translate(error, repository) from error
            # A ref deleted and one created below its name in one push (`old` → `old/child`):
            # libgit2 writes new refs before it prunes, and a file cannot become a directory. Prune
            # what the remote no longer has first, then fetch again (only then: one request more).
            advertised = self.remote_refs(repository, url)
            collection = references(repo)
            for name in set(refs_of(repo)) - set(advertised):
                collection.delete(name)
            fresh = self._callbacks()  # a signature is spent per request
            try:
                self._libgit2_fetch(remote, fresh, _preemptive(fresh, url))
            except pygit2.GitError as again:
                raise _translate(again, repository) from again

    def _libgit2_fetch(self, remote: Any, callbacks: RemoteCallbacks | None, authorization: str | None) -> None:
        if authorization is not None and callbacks is not None:
            # Credentials with the first request: libgit2 would otherwise send it without, take
            # CodeCommit's 401 and ask again (one round trip more per fetch).
            libgit2.fetch_with_headers(remote, [MIRROR_REFSPEC], callbacks, [f"Authorization: {authorization}"])
        else:
            remote.fetch([MIRROR_REFSPEC], callbacks=callbacks, prune=FetchPrune.PRUNE)


def _is_name_conflict(error: pygit2.GitError) -> bool:
    """libgit2's answer when a new ref's path runs through an existing ref's file (or the reverse)."""
    text = str(error).lower()
    return "not a directory" in text or "parent is not directory" in text or "is a directory" in text


def _preemptive(callbacks: RemoteCallbacks | None, url: str) -> str | None:
    """The Authorization value to send unasked: CodeCommit credentials over HTTP(S); None otherwise."""
    if isinstance(callbacks, CodeCommitCredentials) and url.startswith(("https://", "http://")):
        return callbacks.authorization(url)
    return None


def _fetch_small(
    repo: pygit2.Repository,
    url: str,
    authorization: str,
    current: dict[str, str],
    *,
    max_bytes: int,
    limit: int | None,
) -> dict[str, str]:
    """Update a mirror, warm or cold, with the two-request client (smarthttp); NotHandled leaves it for libgit2.

    The pack and its index are put in place before any ref moves, and every advertised object
    must then be present; refs the remote no longer has are deleted, as a pruning fetch does.
    """
    fetched = smarthttp.fetch(
        url, authorization, current.values(), repo.odb.exists, max_bytes=max_bytes, pack_bytes=limit
    )
    if fetched.pack is not None and fetched.index is not None:
        pack_dir = Path(repo.path) / "objects" / "pack"
        pack_dir.mkdir(parents=True, exist_ok=True)
        name = f"pack-{fetched.pack[-20:].hex()}"
        # The index last: its arrival is what makes the pack seen.
        for suffix, data in ((".pack", fetched.pack), (".idx", fetched.index)):
            partial = pack_dir / f"tmp_codereflex{suffix}"
            partial.write_bytes(data)
            partial.rename(pack_dir / f"{name}{suffix}")
    updated = pygit2.Repository(repo.path)  # opened after the pack arrived, so libgit2 sees it
    # The object database, not `oid in repo`: that parses the object, and a commit libgit2 cannot
    # read (an author e-mail without its '>') raised ValueError instead of being mirrored.
    if not all(updated.odb.exists(oid) for oid in fetched.refs.values()):
        raise smarthttp.NotHandled("an advertised object is missing after the fetch")
    if current:
        collection = references(updated)
        for name in set(current) - set(fetched.refs):
            collection.delete(name)
        for name, oid in fetched.refs.items():
            if current.get(name) != oid:
                collection.create(name, pygit2.Oid(hex=oid), force=True)
    elif fetched.refs:
        write_packed_refs(Path(updated.path), fetched.refs)
        updated = pygit2.Repository(repo.path)  # reads the new packed-refs
    if fetched.head in fetched.refs and _head_target(updated) != fetched.head:
        cast(Any, updated).set_head(fetched.head)  # the mirror's HEAD names the remote's default branch, as git's does
    return refs_of(updated)


def _head_target(repo: pygit2.Repository) -> str | None:
    head = references(repo).get("HEAD")
    return head.target if head is not None and isinstance(head.target, str) else None


def _stop_after(limit: int) -> Callable[[TransferProgress], None]:
    def check(stats: TransferProgress) -> None:
        if stats.received_bytes > limit:
            raise TooLarge(stats.received_bytes)  # pygit2 aborts the fetch and re-raises this

    return check


def refs_of(repo: pygit2.Repository) -> dict[str, str]:
    """Every direct ref under refs/ (symbolic ones are aliases and are not backed up as refs)."""
    found: dict[str, str] = {}
    collection = references(repo)
    for name in collection:
        reference = collection[name]
        if name.startswith("refs/") and isinstance(reference.target, pygit2.Oid):
            found[name] = str(reference.target)
    return found


def _translate(error: pygit2.GitError, repository: str) -> Exception:
    text = str(error).lower()
    if "404" in text or "not found" in text or "does not exist" in text or "could not find repository" in text:
        return TargetGone(f"git repository {repository} not found")
    if "401" in text or "403" in text or "authentication" in text:
        return AccessDenied(f"git access to {repository} refused")
    return TransientError(f"git transfer for {repository} failed: {type(error).__name__}")
