"""The sandbox git server's password check refuses what CodeCommit would, and accepts what clients sign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.credentials import Credentials

from codereflex.errors import AccessDenied
from codereflex.gitauth import git_password, git_username
from sandbox.git.passwords import (
    ClockSkew,
    MalformedGitCredentials,
    SignatureMismatch,
    UnknownAccessKey,
    verify_git_password,
)

ACCESS_KEY = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjE/+session=token"
WHEN = datetime(2026, 11, 23, 19, 5, 9, tzinfo=UTC)
HOST = "git-codecommit.eu-west-1.amazonaws.com"
PATH = "/v1/repos/payments-api"


def _verify(username: str, password: str, *, now: datetime = WHEN, path: str = PATH) -> str:
    return verify_git_password(
        username,
        password,
        host=HOST,
        path=path,
        region="eu-west-1",
        secret_lookup={ACCESS_KEY: SECRET}.get,
        now=now,
    )


@pytest.mark.parametrize("token", [None, TOKEN])
@pytest.mark.parametrize("offset", [timedelta(0), timedelta(minutes=-15), timedelta(minutes=15)])
def test_verify_accepts_a_valid_password(token: str | None, offset: timedelta) -> None:
    # Given a password signed at WHEN, and a server clock up to 15 minutes away
    frozen = Credentials(ACCESS_KEY, SECRET, token).get_frozen_credentials()
    password = git_password(frozen, host=HOST, path=PATH, region="eu-west-1", now=WHEN)

    # When verified / Then the access key id comes back
    assert _verify(git_username(frozen), password, now=WHEN + offset) == ACCESS_KEY


def _password(secret: str = SECRET, *, path: str = PATH, now: datetime = WHEN) -> str:
    frozen = Credentials(ACCESS_KEY, secret).get_frozen_credentials()
    return git_password(frozen, host=HOST, path=path, region="eu-west-1", now=now)


@pytest.mark.parametrize(
    ("username", "password", "error"),
    [
        (ACCESS_KEY, "not-a-password", MalformedGitCredentials),
        (ACCESS_KEY, _password().upper(), MalformedGitCredentials),
        (ACCESS_KEY, "20261399T250000Z" + "0" * 64, MalformedGitCredentials),
        ("", _password(), MalformedGitCredentials),
        ("AKIDUNKNOWN", _password(), UnknownAccessKey),
        (ACCESS_KEY, _password("wrong-secret"), SignatureMismatch),
        (ACCESS_KEY, _password(path="/v1/repos/other-repo"), SignatureMismatch),
        (ACCESS_KEY, _password(now=WHEN - timedelta(minutes=16)), ClockSkew),
        (ACCESS_KEY, _password(now=WHEN + timedelta(minutes=16)), ClockSkew),
    ],
)
def test_verify_refuses(username: str, password: str, error: type[Exception]) -> None:
    # Given a bad username or password / When verified / Then the specific error, which is an AccessDenied
    with pytest.raises(error) as refused:
        _verify(username, password)

    assert isinstance(refused.value, AccessDenied)
    assert password not in str(refused.value)


def test_verify_honours_a_custom_skew() -> None:
    # Given a password two minutes old and a one-minute tolerance / When verified / Then too old
    with pytest.raises(ClockSkew):
        verify_git_password(
            ACCESS_KEY,
            _password(now=WHEN - timedelta(minutes=2)),
            host=HOST,
            path=PATH,
            region="eu-west-1",
            secret_lookup={ACCESS_KEY: SECRET}.get,
            now=WHEN,
            max_skew=timedelta(minutes=1),
        )
