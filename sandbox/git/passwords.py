"""Checking a CodeCommit SigV4 git password as CodeCommit would: the sandbox git server's door."""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from botocore.credentials import ReadOnlyCredentials

from codereflex.errors import AccessDenied
from codereflex.gitauth import git_password

MAX_SKEW = timedelta(minutes=15)

_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S"
_PASSWORD = re.compile(r"^(?P<timestamp>\d{8}T\d{6})Z(?P<signature>[0-9a-f]{64})$")


class GitPasswordRejected(AccessDenied):
    """A server refuses the git credentials; `code` says why (safe to log and to show the client)."""

    code = "rejected"


class MalformedGitCredentials(GitPasswordRejected):
    code = "bad-format"


class UnknownAccessKey(GitPasswordRejected):
    code = "unknown-key"


class SignatureMismatch(GitPasswordRejected):
    """Wrong secret, or signed for another host, path (repository) or region."""

    code = "bad-signature"


class ClockSkew(GitPasswordRejected):
    code = "clock-skew"


def verify_git_password(
    username: str,
    password: str,
    *,
    host: str,
    path: str,
    region: str,
    secret_lookup: Callable[[str], str | None],
    now: datetime,
    max_skew: timedelta = MAX_SKEW,
) -> str:
    """Check a git username/password as CodeCommit would; return the access key id or raise GitPasswordRejected.

    `username` is the access key id, optionally followed by `%` and a session token (git clients
    send it URL-decoded). `secret_lookup` maps an access key id to its secret, or None if unknown.
    """
    access_key = username.split("%", 1)[0]
    match = _PASSWORD.match(password)
    if not access_key or not match:
        raise MalformedGitCredentials("the git username or password is not a CodeCommit SigV4 credential")
    try:
        signed_at = datetime.strptime(match["timestamp"], _TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise MalformedGitCredentials("the git password's timestamp is not a date") from None
    secret = secret_lookup(access_key)
    if secret is None:
        raise UnknownAccessKey(f"unknown access key id {access_key}")
    # The password the key holder would compute at that moment: the product's own signer, so the
    # server and the functions can never disagree on the algorithm.
    expected = git_password(
        ReadOnlyCredentials(access_key, secret, None), host=host, path=path, region=region, now=signed_at
    )
    if not hmac.compare_digest(expected, password):
        raise SignatureMismatch(f"signature does not match for {path} on {host} in {region}")
    # Checked after the signature so that only the key holder learns how far off their clock is.
    if now.tzinfo is None:
        raise ValueError("a timezone-aware datetime is required")
    skew = abs(now.astimezone(UTC) - signed_at)
    if skew > max_skew:
        raise ClockSkew(f"password signed {int(skew.total_seconds())}s away from the server's clock")
    return access_key
