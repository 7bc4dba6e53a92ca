"""Secrets Manager: the stack's generated signing key, read once per execution environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from codereflex.aws.errors import translate
from codereflex.errors import ConfigurationError
from codereflex.signing import MIN_KEY_BYTES, Signer

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


def signer_from_secret(client: SecretsManagerClient, secret_id: str) -> Signer:
    """A Signer keyed by the secret's current value (one GetSecretValue); the value is never logged."""
    try:
        value = client.get_secret_value(SecretId=secret_id).get("SecretString") or ""
    except ClientError as error:
        raise translate(error, "GetSecretValue of the signing key") from error
    key = value.encode()
    if len(key) < MIN_KEY_BYTES:
        raise ConfigurationError(f"the signing key secret must hold at least {MIN_KEY_BYTES} characters")
    return Signer(key)
