"""The backup mirror's fetch over HTTP: credentials go with the first request, and a refusal ends it."""

from __future__ import annotations

import hashlib
import http.client
import shutil
import subprocess
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any
from urllib.parse import urlsplit

import pygit2
import pytest
from botocore.credentials import Credentials

from codereflex.backup import mirror as mirror_module
from codereflex.backup.job import TooLarge
from codereflex.backup.mirror import GitMirror, refs_of
from codereflex.errors import AccessDenied, TargetGone, TransientError
from codereflex.gitremote import CodeCommitCredentials
from sandbox.git.gitserver import GitServer
from sandbox.git.gitstore import GitStore

from .conftest import ACCESS_KEY, REGION, REPO, commit_into


def test_a_mirror_fetch_sends_its_credentials_with_the_first_request(
    tmp_path: Path, store: GitStore, server: GitServer, credentials: Credentials
) -> None:
    # Given a repository with a commit, and a mirror signing with CodeCommit credentials
    source = pygit2.Repository(str(store.path_for(REPO)))
    commit_into(source, "First", {"a.txt": b"a\n"})
    mirror = GitMirror(tmp_path / "mirrors", lambda: CodeCommitCredentials(credentials, REGION))
    # When it fetches twice, with a push in between
    first = mirror.fetch(REPO, store.clone_url(REPO))
    commit_into(source, "Second", {"b.txt": b"b\n"})
    second = mirror.fetch(REPO, store.clone_url(REPO))
    # Then each fetch brought the repository's refs, and no request went without credentials
    # (no 401 challenge and second attempt: one round trip fewer per fetch)
    assert first != second == refs_of(pygit2.Repository(str(store.path_for(REPO))))
    assert server.refusals == {}
    assert server.responses[401] == 0


def test_refused_credentials_end_the_fetch_with_one_refusal(tmp_path: Path, store: GitStore, server: GitServer) -> None:
    # Given a mirror whose credentials CodeCommit does not accept (a wrong secret key)
    commit_into(pygit2.Repository(str(store.path_for(REPO))), "First", {"a.txt": b"a\n"})
    wrong = Credentials(ACCESS_KEY, "not-the-secret")
    mirror = GitMirror(tmp_path / "mirrors", lambda: CodeCommitCredentials(wrong, REGION))
    # When it fetches
    with pytest.raises(AccessDenied):
        mirror.fetch(REPO, store.clone_url(REPO))
    # Then the server refused one request: the refused signature was not sent again
    assert sum(server.refusals.values()) == 1


UNICODE = "refs/heads/ünïcødé-✓"
COMMIT = pygit2.enums.ObjectType.COMMIT


def _history(repo: pygit2.Repository, commits: int) -> None:
    for number in range(commits):
        commit_into(repo, f"commit {number}", {"a.txt": f"{number}\n".encode(), "b.txt": b"same\n"})


def _fsck(path: Path) -> None:
    result = subprocess.run(
        ["git", "fsck", "--full", "--strict"], cwd=path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_warm_mirror_follows_every_kind_of_change_in_two_requests(
    tmp_path: Path, store: GitStore, server: GitServer, credentials: Credentials
) -> None:
    # Given a mirror of a 30-commit history (more haves than libgit2 sends before it asks)
    source = pygit2.Repository(str(store.path_for(REPO)))
    _history(source, 30)
    mirror = GitMirror(tmp_path / "mirrors", lambda: CodeCommitCredentials(credentials, REGION))
    mirror.fetch(REPO, store.clone_url(REPO))
    git: Any = source
    signature = pygit2.Signature("Sandbox Test", "test@example.com")

    def force_push() -> None:
        base = git.revparse_single("HEAD~2")
        rewritten = git.create_commit(None, signature, signature, "rewritten", base.tree.id, [base.id])
        git.references.create("refs/heads/main", rewritten, force=True)

    # (change, requests: the ref advertisement, then one upload-pack round when objects are new)
    changes: list[tuple[str, Callable[[], object], int]] = [
        ("a new commit", lambda: commit_into(source, "new", {"c.txt": b"c\n"}), 2),
        ("an annotated tag", lambda: git.create_tag("v1", git.head.target, COMMIT, signature, "release"), 2),
        (
            "a unicode branch on an old commit",
            lambda: git.references.create(UNICODE, git.revparse_single("HEAD~20").id),
            1,
        ),
        ("a force-push over two commits", force_push, 2),
        ("a deleted branch", lambda: git.references.delete(UNICODE), 1),
        ("nothing", lambda: None, 1),
    ]
    for change, make, requests in changes:
        # When the source changes and the mirror fetches again
        make()
        before = sum(server.responses.values())
        refs = mirror.fetch(REPO, store.clone_url(REPO))
        # Then the mirror has exactly the source's refs and complete history, in one round at most
        assert refs == refs_of(source) == refs_of(pygit2.Repository(str(mirror.path(REPO)))), change
        assert sum(server.responses.values()) - before == requests, change
        _fsck(mirror.path(REPO))


def test_an_update_too_large_for_the_two_request_fetch_is_fetched_by_libgit2(
    tmp_path: Path, store: GitStore, server: GitServer, credentials: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a warm mirror, and a push larger than the two-request fetch takes
    source = pygit2.Repository(str(store.path_for(REPO)))
    _history(source, 30)
    mirror = GitMirror(tmp_path / "mirrors", lambda: CodeCommitCredentials(credentials, REGION))
    mirror.fetch(REPO, store.clone_url(REPO))
    monkeypatch.setattr(mirror_module, "SMALL_FETCH_BYTES", 200)
    commit_into(source, "large", {"big.bin": bytes(range(256)) * 64})
    # When the mirror fetches
    before = sum(server.responses.values())
    refs = mirror.fetch(REPO, store.clone_url(REPO))
    # Then it got there all the same, by libgit2 after the abandoned attempt
    assert refs == refs_of(source)
    assert sum(server.responses.values()) - before > 2
    _fsck(mirror.path(REPO))


def test_a_warm_fetch_refused_or_of_a_deleted_repository_fails_with_the_reason(
    tmp_path: Path, store: GitStore, server: GitServer, credentials: Credentials
) -> None:
    # Given a warm mirror
    source = pygit2.Repository(str(store.path_for(REPO)))
    _history(source, 3)
    signing = [credentials]
    mirror = GitMirror(tmp_path / "mirrors", lambda: CodeCommitCredentials(signing[0], REGION))
    mirror.fetch(REPO, store.clone_url(REPO))
    commit_into(source, "new", {"c.txt": b"c\n"})
    # When its credentials stop being accepted, then its repository is deleted
    signing[0] = Credentials(ACCESS_KEY, "not-the-secret")
    with pytest.raises(AccessDenied):
        mirror.fetch(REPO, store.clone_url(REPO))
    assert sum(server.refusals.values()) == 1
    signing[0] = credentials
    shutil.rmtree(store.path_for(REPO))
    with pytest.raises(TargetGone):
        mirror.fetch(REPO, store.clone_url(REPO))


def test_the_remote_refs_check_is_one_request_and_fetches_nothing(
    tmp_path: Path, store: GitStore, server: GitServer, credentials: Credentials
) -> None:
    # Given a repository with a branch and an annotated tag, and a mirror that has fetched nothing
    source = pygit2.Repository(str(store.path_for(REPO)))
    _history(source, 3)
    git: Any = source
    signature = pygit2.Signature("Sandbox Test", "test@example.com")
    git.create_tag("v1", git.head.target, COMMIT, signature, "release")
    mirror = GitMirror(tmp_path / "mirrors", lambda: CodeCommitCredentials(credentials, REGION))
    # When it asks for the remote's refs (the sweep's "did anything change")
    refs = mirror.remote_refs(REPO, store.clone_url(REPO))
    # Then it has every ref (the tag itself, not its peeled commit), after one authenticated request
    assert refs == refs_of(source)
    assert server.responses == {200: 1}
    assert server.refusals == {}
    assert not list(mirror.path(REPO).glob("objects/pack/*.pack"))


def _packs(path: Path) -> list[Path]:
    return sorted((path / "objects" / "pack").glob("*.pack"))


def _noise(size: int) -> bytes:
    """Bytes that do not compress, so a pack holding them is at least `size` long."""
    return b"".join(hashlib.sha256(str(n).encode()).digest() for n in range(size // 32 + 1))[:size]


def test_a_first_fetch_is_one_complete_pack_in_two_requests(
    tmp_path: Path, store: GitStore, server: GitServer, credentials: Credentials
) -> None:
    # Given a repository with history, an annotated tag, a unicode branch, and HEAD on another branch
    source = pygit2.Repository(str(store.path_for(REPO)))
    _history(source, 30)
    git: Any = source
    signature = pygit2.Signature("Sandbox Test", "test@example.com")
    git.create_tag("v1", git.head.target, COMMIT, signature, "release")
    git.references.create(UNICODE, git.revparse_single("HEAD~20").id)
    git.references.create("refs/heads/develop", git.revparse_single("HEAD~5").id)
    git.set_head("refs/heads/develop")
    mirror = GitMirror(tmp_path / "mirrors", lambda: CodeCommitCredentials(credentials, REGION))
    # When a mirror that has nothing fetches
    refs = mirror.fetch(REPO, store.clone_url(REPO))
    # Then it took the advertisement and one upload-pack answer, and holds exactly the source's refs,
    # its default branch, and every object, in the one pack the full bundle reuses
    assert server.responses == {200: 2}
    fetched = pygit2.Repository(str(mirror.path(REPO)))
    assert refs == refs_of(source) == refs_of(fetched)
    assert fetched.references["HEAD"].target == "refs/heads/develop"  # type: ignore[attr-defined]
    assert len(_packs(mirror.path(REPO))) == 1
    _fsck(mirror.path(REPO))
    # And later pushes (a new commit, a deleted branch) reach it as warm updates
    commit_into(source, "new", {"c.txt": b"c\n"})
    git.references.delete(UNICODE)
    assert mirror.fetch(REPO, store.clone_url(REPO)) == refs_of(source)
    assert server.responses == {200: 4}
    _fsck(mirror.path(REPO))


def test_a_first_fetch_too_large_for_the_two_request_client_is_fetched_by_libgit2(
    tmp_path: Path, store: GitStore, server: GitServer, credentials: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a repository whose pack is larger than the two-request client takes for a first fetch
    source = pygit2.Repository(str(store.path_for(REPO)))
    _history(source, 30)
    monkeypatch.setattr(mirror_module, "COLD_FETCH_BYTES", 2_000)
    mirror = GitMirror(tmp_path / "mirrors", lambda: CodeCommitCredentials(credentials, REGION))
    # When a mirror that has nothing fetches
    refs = mirror.fetch(REPO, store.clone_url(REPO))
    # Then it got there all the same, by libgit2 after the abandoned attempt
    assert refs == refs_of(source)
    assert sum(server.responses.values()) > 2
    _fsck(mirror.path(REPO))


def test_a_first_fetch_past_the_hand_off_limit_stops_early_with_too_large(
    tmp_path: Path, store: GitStore, server: GitServer, credentials: Credentials
) -> None:
    # Given a repository of 256 KiB that does not compress
    source = pygit2.Repository(str(store.path_for(REPO)))
    commit_into(source, "large", {"big.bin": _noise(256 * 1024)})
    mirror = GitMirror(tmp_path / "mirrors", lambda: CodeCommitCredentials(credentials, REGION))
    # When a mirror that has nothing fetches it with a 16 KiB limit (the hand-off threshold)
    with pytest.raises(TooLarge) as raised:
        mirror.fetch(REPO, store.clone_url(REPO), limit=16 * 1024)
    # Then it stopped soon after the limit, with no ref set, in the two requests and nothing more
    assert 16 * 1024 < raised.value.received_bytes < 64 * 1024
    assert refs_of(pygit2.Repository(str(mirror.path(REPO)))) == {}
    assert server.responses == {200: 2}


def test_a_first_fetch_of_a_missing_repository_fails_with_the_reason(
    tmp_path: Path, store: GitStore, server: GitServer, credentials: Credentials
) -> None:
    # Given a repository that was deleted
    shutil.rmtree(store.path_for(REPO))
    mirror = GitMirror(tmp_path / "mirrors", lambda: CodeCommitCredentials(credentials, REGION))
    # When a mirror that has nothing fetches it, then the fetch fails as gone, after one request
    with pytest.raises(TargetGone):
        mirror.fetch(REPO, store.clone_url(REPO))
    assert server.responses == {404: 1}


class _Truncating(ThreadingHTTPServer):
    """A proxy in front of the git server that passes on only the first half of every upload-pack answer."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        super().__init__(("127.0.0.1", 0), _TruncatingHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _TruncatingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Truncating

    def do_GET(self) -> None:
        self._relay()

    def do_POST(self) -> None:
        self._relay()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else _dechunked(self.rfile) if self._chunked() else b""
        upstream = http.client.HTTPConnection(self.server.upstream.hostname or "", self.server.upstream.port)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in {"content-length", "transfer-encoding"}}
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        if self.path.endswith("/git-upload-pack") and answer.status == 200:
            data = data[: len(data) // 2]
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in {"content-length", "transfer-encoding", "connection"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    def _chunked(self) -> bool:
        return self.headers.get("Transfer-Encoding", "").lower() == "chunked"


def _dechunked(stream: Any) -> bytes:
    parts: list[bytes] = []
    while size := int(stream.readline().split(b";")[0], 16):
        parts.append(stream.read(size))
        stream.readline()
    stream.readline()
    return b"".join(parts)


@pytest.fixture
def truncating(server: GitServer) -> Iterator[_Truncating]:
    proxy = _Truncating(server.base_url)
    thread = Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()


def test_a_first_fetch_of_a_truncated_pack_fails_for_a_retry_and_sets_no_ref(
    tmp_path: Path, store: GitStore, server: GitServer, credentials: Credentials, truncating: _Truncating
) -> None:
    # Given a repository served through a connection that loses the second half of every pack
    source = pygit2.Repository(str(store.path_for(REPO)))
    _history(source, 30)
    mirror = GitMirror(tmp_path / "mirrors", lambda: CodeCommitCredentials(credentials, REGION))
    # When a mirror that has nothing fetches it
    with pytest.raises(TransientError):
        mirror.fetch(REPO, f"{truncating.url}/v1/repos/{REPO}")
    # Then it fails as a transient error (Lambda retries), with no ref pointing at a missing object
    assert refs_of(pygit2.Repository(str(mirror.path(REPO)))) == {}
    # And once the connection is whole again the same mirror fetches everything
    assert mirror.fetch(REPO, store.clone_url(REPO)) == refs_of(source)
    _fsck(mirror.path(REPO))


def test_the_hand_off_limit_counts_pack_bytes_not_the_ref_advertisement(
    tmp_path: Path, store: GitStore, server: GitServer, credentials: Credentials
) -> None:
    # Given a warm mirror of a repository with 300 tags (a ref advertisement of ~20 KB)
    source = pygit2.Repository(str(store.path_for(REPO)))
    _history(source, 3)
    git: Any = source
    for number in range(300):
        git.references.create(f"refs/tags/release-{number:04d}", git.head.target)
    mirror = GitMirror(tmp_path / "mirrors", lambda: CodeCommitCredentials(credentials, REGION))
    mirror.fetch(REPO, store.clone_url(REPO))
    # When one small commit is pushed and the mirror fetches with an 8 KiB limit
    commit_into(source, "small", {"c.txt": b"c\n"})
    before = sum(server.responses.values())
    refs = mirror.fetch(REPO, store.clone_url(REPO), limit=8 * 1024)
    # Then it is fetched, in two requests: only a pack past the limit is too large
    assert refs == refs_of(source)
    assert sum(server.responses.values()) - before == 2
    commit_into(source, "large", {"big.bin": _noise(64 * 1024)})
    with pytest.raises(TooLarge):
        mirror.fetch(REPO, store.clone_url(REPO), limit=8 * 1024)


def _fsck_errors(path: Path) -> set[str]:
    result = subprocess.run(["git", "fsck", "--full"], cwd=path, capture_output=True, text=True, check=False)
    return {line for line in (result.stdout + result.stderr).splitlines() if line.startswith("error")}


def test_a_first_fetch_keeps_a_commit_git_fsck_faults_and_adds_no_fault(
    tmp_path: Path, store: GitStore, server: GitServer, credentials: Credentials
) -> None:
    # Given a repository with a branch on a commit whose author line git fsck faults (as real ones have)
    source = pygit2.Repository(str(store.path_for(REPO)))
    _history(source, 3)
    git: Any = source
    tree = git.head.peel(pygit2.Commit).tree_id
    author = "author Bad <bad@example.com> 01700000000 +0000"  # a zero-padded date: libgit2 reads it, fsck does not
    body = f"tree {tree}\n{author}\ncommitter Bad <bad@example.com> 1700000000 +0000\n\nbroken\n"
    written = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--literally", "--stdin"],
        cwd=store.path_for(REPO),
        input=body,
        capture_output=True,
        text=True,
        check=True,
    )
    git.references.create("refs/heads/broken", pygit2.Oid(hex=written.stdout.strip()))
    source_errors = _fsck_errors(store.path_for(REPO))
    assert any("zeroPaddedDate" in line for line in source_errors)
    mirror = GitMirror(tmp_path / "mirrors", lambda: CodeCommitCredentials(credentials, REGION))
    # When a mirror that has nothing fetches it
    refs = mirror.fetch(REPO, store.clone_url(REPO))
    # Then it has that commit and every ref, and git fsck finds exactly the source's faults
    assert refs == refs_of(source)
    assert _fsck_errors(mirror.path(REPO)) == source_errors
