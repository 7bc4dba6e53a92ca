"""Secrets Manager: the stack's generated signing keys, read once per execution environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from codereflex.approvals.links import Keyring
from codereflex.aws.errors import error_code, translate
from codereflex.errors import ConfigurationError
from codereflex.signing import MIN_KEY_BYTES, Signer

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


def signer_from_secret(client: SecretsManagerClient, secret_id: str) -> Signer:
    """A Signer keyed by the secret's current value (one GetSecretValue); the value is never logged."""
    signer = _signer(client, secret_id, "AWSCURRENT")
    if signer is None:
        raise ConfigurationError("the signing key secret has no current value")
    return signer


def keyring_from_secret(client: SecretsManagerClient, secret_id: str) -> Keyring:
    """The key's current and previous versions (two GetSecretValue calls), so a rotation leaves the links
    already sent working: they name the key that signed them. A secret never rotated has no previous."""
    current = _signer(client, secret_id, "AWSCURRENT")
    if current is None:
        raise ConfigurationError("the signing key secret has no current value")
    return Keyring(current, _signer(client, secret_id, "AWSPREVIOUS"))


def _signer(client: SecretsManagerClient, secret_id: str, stage: str) -> Signer | None:
    try:
        value = client.get_secret_value(SecretId=secret_id, VersionStage=stage).get("SecretString") or ""
    except ClientError as error:
        # No version carries the label: a secret never rotated has no AWSPREVIOUS.
        if stage != "AWSCURRENT" and error_code(error) == "ResourceNotFoundException":
            return None
        raise translate(error, f"GetSecretValue ({stage}) of the signing key") from error
    key = value.encode()
    if len(key) < MIN_KEY_BYTES:
        raise ConfigurationError(f"the signing key secret must hold at least {MIN_KEY_BYTES} characters")
    return Signer(key)
