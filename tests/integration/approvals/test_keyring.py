"""The link keyring from moto's Secrets Manager: links signed before a rotation still read after it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import moto
import pytest

from codereflex.approvals.links import Link, LinkRefused, LinkSigner
from codereflex.approvals.model import ActionRef
from codereflex.aws.secrets import keyring_from_secret, signer_from_secret
from codereflex.errors import ConfigurationError

SECRET = "codereflex/approval-link-key"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LINK = Link(ActionRef("payments", "Prod", "Approve", "exec-1"), "alice@example.com", NOW + timedelta(days=1))


@pytest.fixture
def secrets() -> Iterator[Any]:
    with moto.mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def test_a_secret_never_rotated_has_only_a_current_key(secrets: Any) -> None:
    secrets.create_secret(Name=SECRET, SecretString="a" * 64)
    keyring = keyring_from_secret(secrets, SECRET)
    assert keyring.previous is None
    assert keyring.current.key_id == signer_from_secret(secrets, SECRET).key_id


def test_after_a_rotation_old_links_read_and_new_ones_use_the_new_key(secrets: Any) -> None:
    secrets.create_secret(Name=SECRET, SecretString="a" * 64)
    before = LinkSigner(keyring_from_secret(secrets, SECRET)).issue(LINK)
    secrets.put_secret_value(SecretId=SECRET, SecretString="b" * 64)  # AWSCURRENT moves; the old is AWSPREVIOUS
    links = LinkSigner(keyring_from_secret(secrets, SECRET))
    assert links.read(before, NOW) == LINK
    after = links.issue(LINK)
    assert after != before
    secrets.put_secret_value(SecretId=SECRET, SecretString="c" * 64)  # a second rotation retires the first key
    links = LinkSigner(keyring_from_secret(secrets, SECRET))
    assert links.read(after, NOW) == LINK
    with pytest.raises(LinkRefused, match="unknown-key"):
        links.read(before, NOW)


def test_a_short_key_is_a_configuration_error_that_does_not_show_it(secrets: Any) -> None:
    secrets.create_secret(Name=SECRET, SecretString="short-key")
    with pytest.raises(ConfigurationError) as refused:
        keyring_from_secret(secrets, SECRET)
    assert "short-key" not in str(refused.value)
