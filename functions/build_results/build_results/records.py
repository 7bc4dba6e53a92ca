"""DynamoDB: each pull-request revision's latest run per project and last vote, for when no comment carries them."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from codereflex.aws.errors import error_code, translate

from .render import RevisionRecord, Run, Vote, rank

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Long enough for any pull request to stay open; the table's TTL clears what is left.
KEEP_SECONDS = 60 * 24 * 3600
_RUN = "run:"
_VOTE = "vote"


def order(run: Run) -> str:
    """A string that sorts runs as the comment does (start, number, build), and a build's states in order."""
    number = f"{run.number:012d}" if run.number is not None else ""
    return f"{run.started}|{number}|{run.build_id}|{rank(run.status)}"


class RunRecords:
    """One item per (pull request, revision) in the stack's table; one call per method (two on a duplicate)."""

    def __init__(self, client: DynamoDBClient, table: str, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def record(self, key: str, project: str, run: Run) -> RevisionRecord:
        """Keep `run` as the project's latest unless a newer one is held; returns the whole revision."""
        value = {
            "M": {
                "b": {"S": run.build_id},
                "s": {"S": run.status},
                "c": {"S": run.commit},
                "t": {"S": run.started},
                "n": {"N": str(run.number)} if run.number is not None else {"NULL": True},
                "o": {"S": order(run)},
            }
        }
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"id": {"S": _id(key)}},
                UpdateExpression="SET #run = :run, #exp = :exp",
                ConditionExpression="attribute_not_exists(#run) OR #run.#order < :order",
                ExpressionAttributeNames={"#run": _RUN + project, "#exp": "expiration", "#order": "o"},
                ExpressionAttributeValues={
                    ":run": value,
                    ":order": {"S": order(run)},
                    ":exp": {"N": str(int(self._clock()) + KEEP_SECONDS)},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise translate(error, "UpdateItem of a build run record") from error
            held = self.read(key)
            return RevisionRecord(held.runs, held.vote, changed=False)
        return _record(response.get("Attributes") or {})

    def read(self, key: str) -> RevisionRecord:
        try:
            response = self._client.get_item(TableName=self._table, Key={"id": {"S": _id(key)}}, ConsistentRead=True)
        except ClientError as error:
            raise translate(error, "GetItem of a build run record") from error
        return _record(response.get("Item") or {})

    def record_vote(self, key: str, vote: Vote) -> None:
        """Remember a vote that no comment carries (a later vote wins, whatever order they arrive in)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"id": {"S": _id(key)}},
                UpdateExpression="SET #vote = :vote, #exp = :exp",
                ConditionExpression="attribute_not_exists(#vote) OR #vote.#at <= :at",
                ExpressionAttributeNames={"#vote": _VOTE, "#exp": "expiration", "#at": "t"},
                ExpressionAttributeValues={
                    ":vote": {"M": {"r": {"S": vote.revision}, "a": {"BOOL": vote.approve}, "t": {"S": vote.at}}},
                    ":at": {"S": vote.at},
                    ":exp": {"N": str(int(self._clock()) + KEEP_SECONDS)},
                },
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise translate(error, "UpdateItem of a vote record") from error


def _id(key: str) -> str:
    return f"codereflex-build-results#{key}"


def _record(item: Mapping[str, Any]) -> RevisionRecord:
    runs: dict[str, Run] = {}
    for name, raw in item.items():
        if not name.startswith(_RUN) or "M" not in raw:
            continue
        fields = raw["M"]
        number = fields.get("n", {}).get("N")
        runs[name[len(_RUN) :]] = Run(
            build_id=fields["b"]["S"],
            status=fields["s"]["S"],
            commit=fields["c"]["S"],
            started=fields["t"]["S"],
            number=int(number) if number is not None else None,
        )
    vote = None
    raw_vote = item.get(_VOTE, {}).get("M")
    if raw_vote:
        vote = Vote(raw_vote["r"]["S"], bool(raw_vote["a"]["BOOL"]), raw_vote["t"]["S"])
    return RevisionRecord(runs, vote)
