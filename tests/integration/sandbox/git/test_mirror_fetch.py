"""The backup mirror's fetch over HTTP: credentials go with the first request, and a refusal ends it."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest
from botocore.credentials import Credentials

from codereflex.backup.mirror import GitMirror, refs_of
from codereflex.errors import AccessDenied
from codereflex.gitremote import CodeCommitCredentials
from sandbox.gitserver import GitServer
from sandbox.gitstore import GitStore

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
