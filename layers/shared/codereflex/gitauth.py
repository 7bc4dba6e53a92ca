"""CodeCommit's git-over-HTTPS credentials: the SigV4 "password" a client computes (the sandbox checks it)."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from codereflex.errors import ConfigurationError

SERVICE = "codecommit"

_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S"
# Same host shapes the AWS CLI credential helper accepts, anchored at both ends so that
# `git-codecommit.us-east-1.amazonaws.com.evil.example` names no region.
_REGION_HOST = re.compile(
    r"^(?:vpce-[a-z0-9-]+\.)?git-codecommit(?:-fips)?\.(?P<region>[a-z0-9-]+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$"
)


class FrozenCredentials(Protocol):
    """What `Credentials.get_frozen_credentials()` returns (botocore's ReadOnlyCredentials)."""

    @property
    def access_key(self) -> str | None: ...

    @property
    def secret_key(self) -> str | None: ...

    @property
    def token(self) -> str | None: ...


class CloneUrlError(ConfigurationError):
    """The clone URL cannot be signed: not http(s), no host, no path, or no region to sign for."""


@dataclass(frozen=True)
class GitEndpoint:
    """Where a CodeCommit clone URL points, in the terms the signature uses."""

    host: str
    path: str
    region: str

    @property
    def repository(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class GitCredentials:
    """A git username/password pair; both carry secrets (the session token, the signature)."""

    username: str = field(repr=False)
    password: str = field(repr=False)

    @property
    def access_key_id(self) -> str:
        return self.username.split("%", 1)[0]

    def __repr__(self) -> str:
        return f"GitCredentials(access_key_id={self.access_key_id!r})"


def region_from_host(host: str) -> str | None:
    """The region a CodeCommit git endpoint names (regional, China, FIPS, VPC endpoint), else None."""
    match = _REGION_HOST.match(host.lower())
    return match["region"] if match else None


def host_without_port(netloc: str) -> str:
    """The host as signed: lower case, no userinfo, no port (what both git clients and the CLI helper do)."""
    hostname = urlsplit(f"//{netloc}").hostname
    if not hostname:
        raise CloneUrlError(f"no host in {netloc!r}")
    return hostname


def parse_clone_url(url: str, *, fallback_region: str | None = None) -> GitEndpoint:
    """Host, path and region to sign for; `fallback_region` serves hosts that name none (the sandbox)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise CloneUrlError(f"not an http(s) clone URL: {_without_userinfo(url)!r}")
    host = host_without_port(parts.netloc)
    path = parts.path.rstrip("/")
    if not path:
        raise CloneUrlError(f"no repository path in clone URL: {_without_userinfo(url)!r}")
    region = region_from_host(host) or fallback_region
    if not region:
        raise CloneUrlError(f"no region in host {host!r} and no fallback region given")
    return GitEndpoint(host=host, path=path, region=region)


def git_username(credentials: FrozenCredentials) -> str:
    access_key, _ = _require_keys(credentials)
    return f"{access_key}%{credentials.token}" if credentials.token else access_key


def git_password(
    credentials: FrozenCredentials, *, host: str, path: str, region: str, now: datetime | None = None
) -> str:
    """`<timestamp>Z<signature>`, valid for 15 minutes around `now` for exactly this host and path."""
    _, secret_key = _require_keys(credentials)
    timestamp = _utc(now or datetime.now(UTC)).strftime(_TIMESTAMP_FORMAT)
    return f"{timestamp}Z{_signature(secret_key, host=host, path=path, region=region, timestamp=timestamp)}"


def git_credentials(
    credentials: FrozenCredentials, endpoint: GitEndpoint, *, now: datetime | None = None
) -> GitCredentials:
    password = git_password(credentials, host=endpoint.host, path=endpoint.path, region=endpoint.region, now=now)
    return GitCredentials(username=git_username(credentials), password=password)


def authenticated_url(
    url: str, credentials: FrozenCredentials, *, fallback_region: str | None = None, now: datetime | None = None
) -> str:
    """The clone URL with the credentials embedded, for plain `git` (as git-remote-codecommit builds it).

    The result contains secrets: pass it to git, never log it.
    """
    endpoint = parse_clone_url(url, fallback_region=fallback_region)
    signed = git_credentials(credentials, endpoint, now=now)
    parts = urlsplit(url)
    # safe="" because a session token contains "/", "+" and "=", and the "%" separator must survive.
    userinfo = f"{quote(signed.username, safe='')}:{quote(signed.password, safe='')}"
    host_and_port = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host_and_port}", fragment=""))


def _signature(secret_key: str, *, host: str, path: str, region: str, timestamp: str) -> str:
    # CodeCommit signs no payload: the canonical request ends with an empty hash line.
    canonical_request = f"GIT\n{path}\n\nhost:{host}\n\nhost\n"
    date = timestamp[:8]
    scope = f"{date}/{region}/{SERVICE}/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = f"AWS4{secret_key}".encode()
    for part in (date, region, SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _require_keys(credentials: FrozenCredentials) -> tuple[str, str]:
    if not credentials.access_key or not credentials.secret_key:
        raise ConfigurationError("AWS credentials without an access key id or secret cannot sign git requests")
    return credentials.access_key, credentials.secret_key


def _utc(moment: datetime) -> datetime:
    # A naive datetime is ambiguous (local time or UTC?) and a wrong guess is hours of skew.
    if moment.tzinfo is None:
        raise ValueError("a timezone-aware datetime is required")
    return moment.astimezone(UTC)


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))
