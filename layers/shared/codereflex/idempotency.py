"""Run a side effect once per key, across duplicate deliveries (Powertools Idempotency on DynamoDB)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from codereflex.errors import TransientError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDBOnce:
    """`run_once(key, action)` runs `action` the first time a key is seen and replays its result after.

    A failed action leaves no record (Powertools deletes it), so a retry runs it again; a duplicate
    arriving while the first is still running is a TransientError, so Lambda retries it later and
    then gets the recorded result instead of acting twice.
    """

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient,
        *,
        namespace: str,
        expires_after_seconds: int = 7 * 24 * 3600,
        context: LambdaContext | None = None,
    ) -> None:
        self._store = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)
        self._config = IdempotencyConfig(expires_after_seconds=expires_after_seconds)
        if context is not None:
            self._config.register_lambda_context(context)
        self._namespace = namespace

    def run_once(self, key: str, action: Callable[[], str]) -> tuple[str, bool]:
        """Return (result, ran): `ran` is False when the result was recorded by an earlier delivery."""
        ran = False

        @idempotent_function(  # type: ignore[untyped-decorator]
            data_keyword_argument="key",
            persistence_store=self._store,
            config=self._config,
            key_prefix=self._namespace,
        )
        def once(key: str) -> str:
            nonlocal ran
            ran = True
            return action()

        try:
            result = once(key=key)
        except IdempotencyAlreadyInProgressError as error:
            raise TransientError(f"a duplicate of {self._namespace} is still being handled") from error
        return str(result), ran
