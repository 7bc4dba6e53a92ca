"""DynamoDB: each pull-request revision's record, written by the PR builds function and the build results function.

The PR builds function records every build it starts for a revision (and what the revision is);
the build results function records a build's run only on the condition that the build is one of
those, at the revision's source commit: one conditional UpdateItem both checks that codereflex
started the build and keeps the project's newest run, and returns the revision's whole record.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from codereflex.aws.errors import error_code, translate
from codereflex.revisions import RevisionRecord, Run, StartedFor, rank

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Long enough for any pull request to stay open; the table's TTL clears what is left.
KEEP_SECONDS = 60 * 24 * 3600
_RUN = "run:"
_STARTED = "started:"
_FOR = "for"


def order(run: Run) -> str:
    """A string that sorts runs as comments do (start, number, build), and a build's states in order."""
    number = f"{run.number:012d}" if run.number is not None else ""
    return f"{run.started}|{number}|{run.build_id}|{rank(run.status)}"


class RevisionLedger:
    """One item per (repository, pull request, revision) in the stack's table; one call per method."""

    def __init__(self, client: DynamoDBClient, table: str, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def started(self, started_for: StartedFor, project: str, build_id: str) -> None:
        """Remember that codereflex started `build_id` (`project:uuid`) for this revision (idempotent).

        The record keeps the build's uuid, as the build's runs are known by it.
        """
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"id": {"S": _id(started_for.key)}},
                UpdateExpression="SET #for = :for, #exp = :exp ADD #started :build",
                ExpressionAttributeNames={"#for": _FOR, "#started": _STARTED + project, "#exp": "expiration"},
                ExpressionAttributeValues={
                    ":for": {
                        "M": {
                            "repo": {"S": started_for.repository},
                            "pr": {"S": started_for.pull_request_id},
                            "rev": {"S": started_for.revision_id},
                            "src": {"S": started_for.source_commit},
                            "dst": {"S": started_for.destination_commit},
                            "projects": {"L": [{"S": p} for p in started_for.projects]},
                        }
                    },
                    ":build": {"SS": [build_id.rsplit(":", 1)[-1]]},
                    ":exp": {"N": str(int(self._clock()) + KEEP_SECONDS)},
                },
            )
        except ClientError as error:
            raise translate(error, "UpdateItem of a started build record") from error

    def record_run(self, key: str, project: str, run: Run) -> RevisionRecord | None:
        """Keep `run` as the project's latest unless a newer one is held; None when codereflex did not start it.

        The condition names the build and its commit: a build anybody else started, for another
        project, or at another commit than the revision's source, is recorded nowhere.
        """
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
                ConditionExpression=(
                    "contains(#started, :build) AND #for.#src = :commit"
                    " AND (attribute_not_exists(#run) OR #run.#order < :order)"
                ),
                ExpressionAttributeNames={
                    "#run": _RUN + project,
                    "#started": _STARTED + project,
                    "#for": _FOR,
                    "#src": "src",
                    "#exp": "expiration",
                    "#order": "o",
                },
                ExpressionAttributeValues={
                    ":run": value,
                    ":build": {"S": run.build_id},
                    ":commit": {"S": run.commit},
                    ":order": {"S": order(run)},
                    ":exp": {"N": str(int(self._clock()) + KEEP_SECONDS)},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise translate(error, "UpdateItem of a build run record") from error
            held: Mapping[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
            if held is None:  # an older botocore or store that does not return the item: ask
                held = self._item(key)
            record = _record(held)
            started = held.get(_STARTED + project, {}).get("SS") or []
            if record.started_for is None or run.build_id not in started:
                return None
            if run.commit != record.started_for.source_commit:
                return None
            return record._replace(changed=False)
        return _record(response.get("Attributes") or {})

    def read(self, key: str) -> RevisionRecord:
        return _record(self._item(key))

    def _item(self, key: str) -> Mapping[str, Any]:
        try:
            response = self._client.get_item(TableName=self._table, Key={"id": {"S": _id(key)}}, ConsistentRead=True)
        except ClientError as error:
            raise translate(error, "GetItem of a build run record") from error
        return response.get("Item") or {}


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
    started_for = None
    raw_for = item.get(_FOR, {}).get("M")
    if raw_for:
        started_for = StartedFor(
            repository=raw_for["repo"]["S"],
            pull_request_id=raw_for["pr"]["S"],
            revision_id=raw_for["rev"]["S"],
            source_commit=raw_for["src"]["S"],
            destination_commit=raw_for["dst"]["S"],
            projects=tuple(p["S"] for p in raw_for.get("projects", {}).get("L", [])),
        )
    return RevisionRecord(started_for, runs)
