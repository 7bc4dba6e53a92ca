"""DynamoDB: who may write a living comment next, so concurrent events never lose each other's update."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from codereflex.aws.errors import error_code, translate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A claim older than this was made by an invocation that has ended (the function's timeout is far
# shorter: a contract test keeps it so), so it can be taken over: its claimer can no longer write.
CLAIM_SECONDS = 120
KEEP_SECONDS = 60 * 24 * 3600


class CommentClaims:
    """One item per (target, project): the comment version the last writer claimed, and when."""

    def __init__(self, client: DynamoDBClient, table: str, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def claim(self, target: str, project: str, seen: int) -> bool:
        """Claim version `seen + 1` of the comment; False when another writer claimed past `seen` first.

        A writer reads the comment (version `seen`), claims, then writes version `seen + 1`. Only
        one of two writers that read the same version gets the claim; the other reads again.
        """
        now = int(self._clock())
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"id": {"S": f"codereflex-comment#{target}#{project}"}},
                UpdateExpression="SET #v = :next, #at = :now, #exp = :exp",
                ConditionExpression="attribute_not_exists(#v) OR #v = :seen OR #at < :stale",
                ExpressionAttributeNames={"#v": "version", "#at": "claimedAt", "#exp": "expiration"},
                ExpressionAttributeValues={
                    ":next": {"N": str(seen + 1)},
                    ":seen": {"N": str(seen)},
                    ":now": {"N": str(now)},
                    ":stale": {"N": str(now - CLAIM_SECONDS)},
                    ":exp": {"N": str(now + KEEP_SECONDS)},
                },
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise translate(error, "UpdateItem of a comment claim") from error
        return True
