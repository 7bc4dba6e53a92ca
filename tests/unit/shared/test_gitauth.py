"""CodeCommit's SigV4 git credentials: botocore and git-remote-codecommit agree on the password."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import unquote, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from codereflex.errors import ConfigurationError
from codereflex.gitauth import (
    CloneUrlError,
    GitCredentials,
    GitEndpoint,
    authenticated_url,
    git_credentials,
    git_password,
    git_username,
    parse_clone_url,
    region_from_host,
)

ACCESS_KEY = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjE/+session=token"
WHEN = datetime(2026, 11, 23, 19, 5, 9, tzinfo=UTC)
HOST = "git-codecommit.eu-west-1.amazonaws.com"
PATH = "/v1/repos/payments-api"


def git_remote_codecommit_password(credentials: Credentials, hostname: str, path: str, region: str) -> str:
    """git-remote-codecommit's `sign()`, with its clock fixed at WHEN."""
    request = AWSRequest(method="GIT", url=f"https://{hostname}{path}")
    request.context["timestamp"] = WHEN.strftime("%Y%m%dT%H%M%S")
    signer = SigV4Auth(credentials, "codecommit", region)
    canonical_request = f"GIT\n{path}\n\nhost:{hostname}\n\nhost\n"
    string_to_sign = signer.string_to_sign(request, canonical_request)
    signature = signer.signature(string_to_sign, request)
    return f"{request.context['timestamp']}Z{signature}"


class _NoPayloadSigV4(SigV4Auth):
    """botocore builds the canonical request itself; CodeCommit only leaves the payload hash empty."""

    def payload(self, request: AWSRequest) -> str:
        return ""


def botocore_canonical_password(credentials: Credentials, hostname: str, path: str, region: str) -> str:
    request = AWSRequest(method="GIT", url=f"https://{hostname}{path}")
    request.context["timestamp"] = WHEN.strftime("%Y%m%dT%H%M%S")
    signer = _NoPayloadSigV4(credentials, "codecommit", region)
    string_to_sign = signer.string_to_sign(request, signer.canonical_request(request))
    return f"{request.context['timestamp']}Z{signer.signature(string_to_sign, request)}"


@pytest.mark.parametrize(
    ("host", "region"),
    [
        (HOST, "eu-west-1"),
        ("git-codecommit.cn-north-1.amazonaws.com.cn", "cn-north-1"),
        ("git-codecommit-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1"),
        ("127.0.0.1", "us-east-1"),
    ],
)
@pytest.mark.parametrize("token", [None, TOKEN])
def test_password_matches_botocore_sigv4_references(host: str, region: str, token: str | None) -> None:
    # Given credentials, with and without a session token, and a fixed clock
    credentials = Credentials(ACCESS_KEY, SECRET, token)

    # When the password is computed for the host, path and region
    password = git_password(credentials.get_frozen_credentials(), host=host, path=PATH, region=region, now=WHEN)

    # Then git-remote-codecommit's signer and botocore's own canonical request agree with it
    assert password == git_remote_codecommit_password(credentials, host, PATH, region)
    assert password == botocore_canonical_password(credentials, host, PATH, region)
    assert password.startswith("20261123T190509Z")


def test_password_depends_on_path_host_region_and_time() -> None:
    # Given one set of credentials
    frozen = Credentials(ACCESS_KEY, SECRET).get_frozen_credentials()
    base = git_password(frozen, host=HOST, path=PATH, region="eu-west-1", now=WHEN)

    # When any signed element changes
    variants = [
        git_password(frozen, host=HOST, path="/v1/repos/other", region="eu-west-1", now=WHEN),
        git_password(frozen, host="git-codecommit.eu-west-2.amazonaws.com", path=PATH, region="eu-west-1", now=WHEN),
        git_password(frozen, host=HOST, path=PATH, region="eu-west-2", now=WHEN),
        git_password(frozen, host=HOST, path=PATH, region="eu-west-1", now=WHEN + timedelta(seconds=1)),
    ]

    # Then every password differs
    assert len({base, *variants}) == 5


def test_password_uses_utc_whatever_the_clock_zone() -> None:
    # Given the same instant in UTC and in UTC+2
    frozen = Credentials(ACCESS_KEY, SECRET).get_frozen_credentials()
    local = WHEN.astimezone(timezone(timedelta(hours=2)))

    # When / Then the passwords are identical, and a naive clock is refused as ambiguous
    assert git_password(frozen, host=HOST, path=PATH, region="eu-west-1", now=local) == git_password(
        frozen, host=HOST, path=PATH, region="eu-west-1", now=WHEN
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        git_password(frozen, host=HOST, path=PATH, region="eu-west-1", now=WHEN.replace(tzinfo=None))


def test_username_is_the_access_key_plus_session_token() -> None:
    # Given long-term and temporary credentials
    long_term = Credentials(ACCESS_KEY, SECRET).get_frozen_credentials()
    temporary = Credentials(ACCESS_KEY, SECRET, TOKEN).get_frozen_credentials()

    # When / Then the token follows a "%"
    assert git_username(long_term) == ACCESS_KEY
    assert git_username(temporary) == f"{ACCESS_KEY}%{TOKEN}"


def test_credentials_without_keys_cannot_sign() -> None:
    # Given frozen credentials with no secret (as a misconfigured provider may return)
    frozen = Credentials(ACCESS_KEY, "").get_frozen_credentials()

    # When / Then signing is a configuration error
    with pytest.raises(ConfigurationError):
        git_password(frozen, host=HOST, path=PATH, region="eu-west-1", now=WHEN)


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("git-codecommit.us-east-2.amazonaws.com", "us-east-2"),
        ("git-codecommit.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1"),
        ("git-codecommit-fips.us-east-1.amazonaws.com", "us-east-1"),
        ("vpce-0123456789abcdef0-abcdefgh.git-codecommit.eu-central-1.vpce.amazonaws.com", "eu-central-1"),
        ("GIT-CODECOMMIT.AP-SOUTHEAST-2.AMAZONAWS.COM", "ap-southeast-2"),
        ("127.0.0.1", None),
        ("git-codecommit.us-east-1.amazonaws.com.evil.example", None),
        ("example.com", None),
    ],
)
def test_region_from_host(host: str, region: str | None) -> None:
    # Given a host / When its region is read / Then only CodeCommit endpoints name one
    assert region_from_host(host) == region


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"https://{HOST}{PATH}", GitEndpoint(HOST, PATH, "eu-west-1")),
        (f"https://{HOST}:443{PATH}/", GitEndpoint(HOST, PATH, "eu-west-1")),
        (f"https://user:pass@{HOST}{PATH}", GitEndpoint(HOST, PATH, "eu-west-1")),
        (
            "https://git-codecommit.cn-north-1.amazonaws.com.cn/v1/repos/r",
            GitEndpoint("git-codecommit.cn-north-1.amazonaws.com.cn", "/v1/repos/r", "cn-north-1"),
        ),
        ("http://127.0.0.1:8123/v1/repos/demo", GitEndpoint("127.0.0.1", "/v1/repos/demo", "us-east-1")),
    ],
)
def test_parse_clone_url(url: str, expected: GitEndpoint) -> None:
    # Given a clone URL and a fallback region / When parsed / Then host has no port, region comes from the host
    endpoint = parse_clone_url(url, fallback_region="us-east-1")

    assert endpoint == expected
    assert endpoint.repository == expected.path.rsplit("/", 1)[-1]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8123/v1/repos/demo",  # no region in the host, no fallback
        "ssh://git-codecommit.us-east-1.amazonaws.com/v1/repos/demo",
        "codecommit::us-east-1://demo",
        "https:///v1/repos/demo",
        f"https://{HOST}",
    ],
)
def test_parse_clone_url_refuses_what_it_cannot_sign(url: str) -> None:
    # Given a URL that cannot be signed / When parsed without a fallback region / Then a clear error
    with pytest.raises(CloneUrlError):
        parse_clone_url(url)


def test_clone_url_errors_do_not_echo_embedded_passwords() -> None:
    # Given an ssh URL carrying a password / When refused / Then the message leaves it out
    with pytest.raises(CloneUrlError) as refused:
        parse_clone_url("ssh://user:hunter2@host/v1/repos/x")

    assert "hunter2" not in str(refused.value)


def test_authenticated_url_embeds_url_encoded_credentials() -> None:
    # Given temporary credentials and a sandbox clone URL
    frozen = Credentials(ACCESS_KEY, SECRET, TOKEN).get_frozen_credentials()

    # When the URL is signed for plain git
    url = authenticated_url("http://127.0.0.1:8123/v1/repos/demo", frozen, fallback_region="us-east-1", now=WHEN)

    # Then git decodes it back to the username and password, and the port and path survive
    parts = urlsplit(url)
    assert "/" not in (parts.username or "") and "+" not in (parts.username or "")
    assert unquote(parts.username or "") == f"{ACCESS_KEY}%{TOKEN}"
    assert unquote(parts.password or "") == git_password(
        frozen, host="127.0.0.1", path="/v1/repos/demo", region="us-east-1", now=WHEN
    )
    assert (parts.hostname, parts.port, parts.path) == ("127.0.0.1", 8123, "/v1/repos/demo")


def test_git_credentials_repr_hides_secrets() -> None:
    # Given credentials with a session token
    frozen = Credentials(ACCESS_KEY, SECRET, TOKEN).get_frozen_credentials()

    # When signed and printed
    signed = git_credentials(frozen, GitEndpoint(HOST, PATH, "eu-west-1"), now=WHEN)

    # Then only the access key id shows
    assert signed.access_key_id == ACCESS_KEY
    assert repr(signed) == f"GitCredentials(access_key_id={ACCESS_KEY!r})"
    assert TOKEN not in repr(signed) and signed.password not in repr(signed)
    assert isinstance(signed, GitCredentials)
