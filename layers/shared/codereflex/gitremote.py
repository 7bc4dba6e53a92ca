"""pygit2 credentials for CodeCommit: a fresh SigV4 git password each time libgit2 asks for one."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from pygit2.callbacks import RemoteCallbacks
from pygit2.credentials import UserPass
from pygit2.enums import CredentialType

from codereflex.errors import AccessDenied
from codereflex.gitauth import FrozenCredentials, git_credentials, parse_clone_url


class CredentialSource(Protocol):
    """Where AWS credentials come from: `boto3.Session().get_credentials()` (refreshes itself)."""

    def get_frozen_credentials(self) -> FrozenCredentials: ...


class GitCredentialsRefused(AccessDenied):
    """CodeCommit answered 401 to the credentials this provider signed for the URL."""


class CodeCommitCredentials(RemoteCallbacks):
    """Remote callbacks answering libgit2's credential requests with CodeCommit SigV4 git credentials.

    libgit2 asks again after every 401 and would keep trying the same refused credentials, so the
    second request for one URL raises GitCredentialsRefused instead. That makes an instance good
    for one network operation (clone, fetch, push, ls_remotes): create a new one for the next.
    """

    def __init__(
        self,
        source: CredentialSource,
        fallback_region: str | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # pygit2 1.17 leaves it unannotated
        self._source = source
        self._fallback_region = fallback_region
        self._clock = clock or (lambda: datetime.now(UTC))
        self._signed_for: set[str] = set()

    def credentials(self, url: str, username_from_url: str | None, allowed_types: CredentialType) -> UserPass:
        if not allowed_types & CredentialType.USERPASS_PLAINTEXT:
            raise GitCredentialsRefused(f"the server at {_scrub(url)} does not accept a username and password")
        if url in self._signed_for:
            raise GitCredentialsRefused(f"CodeCommit refused the git credentials for {_scrub(url)}")
        endpoint = parse_clone_url(url, fallback_region=self._fallback_region)
        # Frozen on every call: Lambda's role credentials rotate, and a half-rotated pair signs nothing valid.
        signed = git_credentials(self._source.get_frozen_credentials(), endpoint, now=self._clock())
        self._signed_for.add(url)
        return UserPass(signed.username, signed.password)  # type: ignore[no-untyped-call]  # likewise

    def authorization(self, url: str) -> str:
        """The `Authorization` header's value for `url`, to send with the first request, not after a 401.

        It counts as this provider's one signature for the URL: should CodeCommit refuse it,
        libgit2's request for credentials is answered with GitCredentialsRefused, as after any refusal.
        """
        endpoint = parse_clone_url(url, fallback_region=self._fallback_region)
        signed = git_credentials(self._source.get_frozen_credentials(), endpoint, now=self._clock())
        self._signed_for.add(url)
        token = base64.b64encode(f"{signed.username}:{signed.password}".encode()).decode()
        return f"Basic {token}"


def _scrub(url: str) -> str:
    scheme, _, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rsplit('@', 1)[-1]}{slash}{path}"
