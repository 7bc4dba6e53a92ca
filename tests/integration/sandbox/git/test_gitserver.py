"""The sandbox git server: real pushes and clones with CodeCommit credentials, and the refusals CodeCommit makes."""

from __future__ import annotations

import base64
import http.client
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import pygit2
import pytest
from botocore.credentials import Credentials, ReadOnlyCredentials
from pygit2.enums import CredentialType

from codereflex.gitauth import authenticated_url, git_password, git_username
from codereflex.gitremote import CodeCommitCredentials, GitCredentialsRefused
from sandbox.git.gitserver import REALM, GitServer
from sandbox.git.gitstore import GitStore

from .conftest import ACCESS_KEY, REGION, REPO, SECRET, Pushes, clone, commit_into, push, run_git


def _clone(url: str, path: Path, credentials: Credentials) -> pygit2.Repository:
    return clone(url, path, CodeCommitCredentials(credentials, REGION))


def test_pygit2_pushes_and_clones_back_with_codecommit_credentials(
    tmp_path: Path, store: GitStore, server: GitServer, pushes: Pushes, credentials: Credentials
) -> None:
    # Given a working repository with one commit, and the store pointing clone URLs at the server
    work = pygit2.init_repository(str(tmp_path / "work"), initial_head="main")
    commit_id = commit_into(work, "First commit", {"README.md": b"hello\n"})
    url = store.clone_url(REPO)
    assert url == f"{server.base_url}/v1/repos/{REPO}"

    # When it is pushed, then cloned back, each operation with its own credential provider
    push(work, url, "refs/heads/main:refs/heads/main", CodeCommitCredentials(credentials, REGION))
    cloned = _clone(url, tmp_path / "clone", credentials)

    # Then the clone has the pushed commit, the push was reported once, and only the
    # unauthenticated first request of each operation was challenged
    assert str(cloned.head.target) == commit_id
    assert pushes.names == [REPO]
    assert pushes.pushers == [ACCESS_KEY]
    assert server.refusals == {"missing-credentials": 2}


def test_plain_git_clones_with_url_encoded_credentials_in_the_url(
    tmp_path: Path, store: GitStore, server: GitServer, credentials: Credentials, git_env: dict[str, str]
) -> None:
    # Given a commit in the sandbox repository
    commit_id = commit_into(pygit2.Repository(str(store.path_for(REPO))), "Seed", {"a.txt": b"a\n"})

    # When plain git clones the URL carrying the session-token username and the SigV4 password
    url = authenticated_url(store.clone_url(REPO), credentials.get_frozen_credentials(), fallback_region=REGION)
    result = run_git(git_env, "clone", url, str(tmp_path / "clone"))

    # Then the clone succeeds and has the commit
    assert result.returncode == 0, result.stderr
    head = run_git(git_env, "rev-parse", "HEAD", cwd=tmp_path / "clone")
    assert head.stdout.strip() == commit_id


@pytest.mark.usefixtures("server")
def test_plain_git_pushes_a_chunked_pack_and_fetches_with_gzip(
    tmp_path: Path, store: GitStore, pushes: Pushes, credentials: Credentials, git_env: dict[str, str]
) -> None:
    # Given a repository with a 2 MiB incompressible file (above git's 1 MiB post buffer) and 60 branches
    work = tmp_path / "work"
    assert run_git(git_env, "init", str(work)).returncode == 0
    repository = pygit2.Repository(str(work))
    commit_id = commit_into(repository, "Big", {"blob.bin": os.urandom(2 * 1024 * 1024)})
    for number in range(60):
        repository.create_reference_direct(f"refs/heads/feature/branch-{number:03d}", commit_id, force=False)
    url = authenticated_url(store.clone_url(REPO), credentials.get_frozen_credentials(), fallback_region=REGION)
    traced = {**git_env, "GIT_TRACE_CURL": "1", "GIT_TRACE_CURL_NO_DATA": "1"}

    # When git pushes every branch, then clones them back
    pushed = run_git(traced, "push", url, "--all", cwd=work)
    cloned = run_git(traced, "clone", "--mirror", url, str(tmp_path / "mirror.git"))

    # Then the pack went up chunked, the fetch request went gzip-compressed, and every ref came back
    assert pushed.returncode == 0, pushed.stderr
    assert cloned.returncode == 0, cloned.stderr
    assert "Transfer-Encoding: chunked" in pushed.stderr
    assert "Content-Encoding: gzip" in cloned.stderr
    refs = run_git(git_env, "for-each-ref", "--format=%(objectname) %(refname)", cwd=tmp_path / "mirror.git")
    assert len(refs.stdout.splitlines()) == 61
    assert {line.split()[0] for line in refs.stdout.splitlines()} == {commit_id}
    # And git's pre-push probe (a bare flush packet) was not reported as a push
    assert pushes.names == [REPO]


def _url_with(server: GitServer, username: str, password: str) -> str:
    port = urlsplit(server.base_url).port
    return f"http://{quote(username, safe='')}:{quote(password, safe='')}@127.0.0.1:{port}/v1/repos/{REPO}"


def _password(*, secret: str = SECRET, path: str = f"/v1/repos/{REPO}", region: str = REGION, age: int = 0) -> str:
    frozen = Credentials(ACCESS_KEY, secret).get_frozen_credentials()
    now = datetime.now(UTC) - timedelta(minutes=age)
    return git_password(frozen, host="127.0.0.1", path=path, region=region, now=now)


@pytest.mark.parametrize(
    ("userinfo", "reason"),
    [
        pytest.param(lambda: (ACCESS_KEY, _password(secret="not-the-secret")), "bad-signature", id="wrong-secret"),
        pytest.param(lambda: (ACCESS_KEY, _password(path="/v1/repos/other")), "bad-signature", id="other-repository"),
        pytest.param(lambda: (ACCESS_KEY, _password(region="us-west-2")), "bad-signature", id="other-region"),
        pytest.param(lambda: (ACCESS_KEY, _password(age=16)), "clock-skew", id="16-minutes-old"),
        pytest.param(lambda: (ACCESS_KEY, _password(age=-16)), "clock-skew", id="16-minutes-ahead"),
        pytest.param(lambda: ("AKIAUNKNOWNKEY000001", _password()), "unknown-key", id="unknown-key"),
        pytest.param(lambda: (ACCESS_KEY, "hunter2"), "bad-format", id="not-a-sigv4-password"),
    ],
)
def test_plain_git_is_refused(
    tmp_path: Path, server: GitServer, git_env: dict[str, str], userinfo: Callable[[], tuple[str, str]], reason: str
) -> None:
    # Given credentials CodeCommit would refuse
    url = _url_with(server, *userinfo())

    # When plain git tries to clone with them
    result = run_git(git_env, "clone", url, str(tmp_path / "clone"))

    # Then the clone fails after exactly one refusal for that reason, and nothing was cloned
    assert result.returncode != 0
    assert "Authentication failed" in result.stderr
    assert server.refusals[reason] == 1
    assert not (tmp_path / "clone").exists()


@pytest.mark.parametrize(
    ("credentials", "minutes_off", "reason"),
    [
        pytest.param(Credentials(ACCESS_KEY, "not-the-secret", "token"), 0, "bad-signature", id="wrong-secret"),
        pytest.param(Credentials("AKIAUNKNOWNKEY000001", SECRET), 0, "unknown-key", id="unknown-key"),
        pytest.param(Credentials(ACCESS_KEY, SECRET), -16, "clock-skew", id="clock-16-minutes-slow"),
    ],
)
def test_pygit2_refusal_raises_instead_of_retrying(
    tmp_path: Path, server: GitServer, credentials: Credentials, minutes_off: int, reason: str
) -> None:
    # Given a provider CodeCommit would refuse
    provider = CodeCommitCredentials(
        credentials, REGION, clock=lambda: datetime.now(UTC) + timedelta(minutes=minutes_off)
    )

    # When pygit2 clones with it
    with pytest.raises(GitCredentialsRefused, match="refused the git credentials"):
        clone(server.store.clone_url(REPO), tmp_path / "clone", provider)

    # Then libgit2 was stopped after the first refusal, not left to retry
    assert server.refusals == {"missing-credentials": 1, reason: 1}


def test_missing_repository_is_404_after_authentication(
    tmp_path: Path, store: GitStore, server: GitServer, credentials: Credentials
) -> None:
    # Given valid credentials and a repository name the store does not have
    url = store.clone_url("no-such-repo")

    # When pygit2 clones it
    with pytest.raises(pygit2.GitError, match="404"):
        _clone(url, tmp_path / "clone", credentials)

    # Then the server answered 404, having accepted the credentials
    assert server.responses[404] == 1
    assert server.refusals == {"missing-credentials": 1}


def test_imported_repository_outside_the_store_root_is_served(
    tmp_path: Path, store: GitStore, server: GitServer, credentials: Credentials
) -> None:
    # Given a bare repository elsewhere on disk, registered under a name (an import)
    imported = pygit2.init_repository(str(tmp_path / "elsewhere" / "legacy"), bare=True, initial_head="main")
    commit_id = commit_into(imported, "Imported", {"old.txt": b"old\n"})
    store.register("legacy-app", tmp_path / "elsewhere" / "legacy")

    # When it is cloned by name
    cloned = _clone(store.clone_url("legacy-app"), tmp_path / "clone", credentials)

    # Then the imported history comes back
    assert str(cloned.head.target) == commit_id


def _get(server: GitServer, authorization: str | None) -> tuple[int, str, str]:
    port = urlsplit(server.base_url).port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": authorization} if authorization else {}
    try:
        connection.request("GET", f"/v1/repos/{REPO}/info/refs?service=git-upload-pack", headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("WWW-Authenticate") or "", response.read().decode()
    finally:
        connection.close()


def test_refusal_is_a_basic_challenge_with_a_reason(server: GitServer) -> None:
    # Given no credentials, then a signature for another repository
    basic = base64.b64encode(f"{ACCESS_KEY}:{_password(path='/v1/repos/other')}".encode()).decode()

    # When the refs are requested
    anonymous = _get(server, None)
    wrong_repository = _get(server, f"Basic {basic}")

    # Then both are 401 Basic challenges naming why
    assert anonymous == (401, f'Basic realm="{REALM}"', "authentication failed: missing-credentials\n")
    assert wrong_repository == (401, f'Basic realm="{REALM}"', "authentication failed: bad-signature\n")


def test_advertises_refs_to_a_signed_request(server: GitServer, credentials: Credentials) -> None:
    # Given a correctly signed request with a session-token username
    frozen = credentials.get_frozen_credentials()
    password = git_password(frozen, host="127.0.0.1", path=f"/v1/repos/{REPO}", region=REGION, now=datetime.now(UTC))
    basic = base64.b64encode(f"{git_username(frozen)}:{password}".encode()).decode()

    # When the refs are requested / Then git's smart-HTTP advertisement comes back
    status, _, body = _get(server, f"Basic {basic}")
    assert status == 200
    assert body.startswith("001e# service=git-upload-pack\n")


def test_concurrent_clones(tmp_path: Path, store: GitStore, server: GitServer, credentials: Credentials) -> None:
    # Given a seeded repository
    commit_id = commit_into(pygit2.Repository(str(store.path_for(REPO))), "Seed", {"a.txt": b"a\n"})

    # When six clients clone at once
    with ThreadPoolExecutor(max_workers=6) as pool:
        clones = list(pool.map(lambda n: _clone(store.clone_url(REPO), tmp_path / f"clone-{n}", credentials), range(6)))

    # Then every clone got the commit
    assert {str(cloned.head.target) for cloned in clones} == {commit_id}


def test_push_survives_a_failing_on_push(tmp_path: Path, store: GitStore, credentials: Credentials) -> None:
    # Given a server whose push reaction raises
    def explode(name: str, access_key_id: str) -> None:
        raise RuntimeError(name)

    work = pygit2.init_repository(str(tmp_path / "work"), initial_head="main")
    commit_into(work, "First", {"x": b"x"})
    with GitServer(store, {ACCESS_KEY: SECRET}, on_push=explode):
        # When pygit2 pushes
        push(work, store.clone_url(REPO), "refs/heads/main:refs/heads/main", CodeCommitCredentials(credentials, REGION))

    # Then the push landed anyway
    assert str(pygit2.Repository(str(store.path_for(REPO))).head.target) == str(work.head.target)


def test_explicit_start_and_stop(store: GitStore) -> None:
    # Given a server started explicitly
    server = GitServer(store, {ACCESS_KEY: SECRET}).start()
    port = urlsplit(server.base_url).port

    # When it is stopped (twice: the second is a no-op)
    server.stop()
    server.stop()

    # Then it no longer answers, and its URL is gone with it
    with pytest.raises(ConnectionRefusedError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=5).request("GET", "/")
    with pytest.raises(RuntimeError):
        _ = server.base_url


class _RotatingSource:
    """Like a Lambda role's credentials: each refresh may hand out a new key pair."""

    def __init__(self, *pairs: Credentials) -> None:
        self._pairs = list(pairs)

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        return self._pairs.pop(0).get_frozen_credentials()


def test_provider_signs_with_fresh_credentials_each_time() -> None:
    # Given a source that rotates keys between calls, and one provider per operation
    source = _RotatingSource(Credentials("AKIAFIRST", SECRET), Credentials("AKIASECOND", SECRET, "token"))
    url = "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/demo"

    # When libgit2 asks each provider for credentials
    first = CodeCommitCredentials(source).credentials(url, None, CredentialType.USERPASS_PLAINTEXT)
    second = CodeCommitCredentials(source).credentials(url, None, CredentialType.USERPASS_PLAINTEXT)

    # Then each answer is signed with the keys current at that moment
    assert [first.credential_tuple[0], second.credential_tuple[0]] == ["AKIAFIRST", "AKIASECOND%token"]


def test_provider_refuses_ssh_only_servers_and_repeated_requests(credentials: Credentials) -> None:
    # Given a provider that has answered once for a URL
    provider = CodeCommitCredentials(credentials, REGION)
    url = "http://127.0.0.1:1/v1/repos/demo"
    provider.credentials(url, None, CredentialType.USERPASS_PLAINTEXT)

    # When libgit2 asks again for it, or asks for an SSH key / Then both are refused plainly
    with pytest.raises(GitCredentialsRefused, match="refused"):
        provider.credentials(url, None, CredentialType.USERPASS_PLAINTEXT)
    with pytest.raises(GitCredentialsRefused, match="username and password"):
        provider.credentials("ssh://host/v1/repos/demo", None, CredentialType.SSH_KEY)
