"""DynamoDB: one record per CodeDeploy hook execution; every change is conditional on the version read, so one run wins.

The item (`id = deploy-hook:<sha256 of the execution id>`, in the idempotency table, with its TTL)
says who runs the hook's validation (`owner`, until `leaseUntil`), where it stands (`status`:
running, handed-over, reporting, reported, abandoned), the engine's resumable state (zlib JSON) and,
once decided, the verdict. A run acts only after its conditional write succeeded: duplicates,
retries, concurrent deliveries and forged continuations lose that write and do nothing.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.exceptions import ClientError

from codereflex.aws.errors import error_code, translate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_CONFLICT = "ConditionalCheckFailedException"
KEEP_SECONDS = 7 * 24 * 3600  # long after CodeDeploy's hour: a late duplicate still finds the record
_FIELDS = ("deploymentId", "hook", "status", "owner", "verdict", "reason", "asked")


class HookRecord(NamedTuple):
    execution_id: str
    deployment_id: str
    hook: str
    status: str  # running | handed-over | reporting | reported | abandoned
    owner: str
    lease_until: float
    hook_deadline: float
    version: int = 0
    runs: int = 1
    state: str | None = None  # engine.State JSON, for the run that continues
    verdict: str | None = None  # Succeeded | Failed, once decided
    reason: str | None = None
    asked: str | None = None  # the key of the approval request its people were sent, once asked


class HookRecords:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def create(self, record: HookRecord, now: float) -> HookRecord | None:
        """Store the first record of an execution: None when this call created it, else the record already there."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_item(record, now),
                ConditionExpression="attribute_not_exists(id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) != _CONFLICT:
                raise translate(error, "PutItem of a hook record") from error
            held: Any = error.response.get("Item")
            existing = _record(held) if isinstance(held, Mapping) and held else self.get(record.execution_id)
            if existing is None:
                raise translate(error, "PutItem of a hook record") from error
            return existing
        return None

    def get(self, execution_id: str) -> HookRecord | None:
        try:
            found = self._client.get_item(TableName=self._table, Key=_key(execution_id), ConsistentRead=True)
        except ClientError as error:
            raise translate(error, "GetItem of a hook record") from error
        item = found.get("Item")
        return _record(item) if item else None

    def move(self, held: HookRecord, now: float, **changes: Any) -> HookRecord | None:
        """`held` with `changes`, written only if nobody wrote since it was read: the new record, or None if lost."""
        moved = held._replace(version=held.version + 1, **changes)
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_item(moved, now),
                ConditionExpression="#v = :v",
                ExpressionAttributeNames={"#v": "version"},
                ExpressionAttributeValues={":v": {"N": str(held.version)}},
            )
        except ClientError as error:
            if error_code(error) == _CONFLICT:
                return None
            raise translate(error, "PutItem of a hook record") from error
        return moved


def _key(execution_id: str) -> dict[str, Any]:
    return {"id": {"S": "deploy-hook:" + hashlib.sha256(execution_id.encode()).hexdigest()}}


def _item(record: HookRecord, now: float) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_key(record.execution_id),
        "executionId": {"S": record.execution_id},
        "leaseUntil": {"N": repr(float(record.lease_until))},
        "hookDeadline": {"N": repr(float(record.hook_deadline))},
        "version": {"N": str(record.version)},
        "runs": {"N": str(record.runs)},
        "expiration": {"N": str(int(now) + KEEP_SECONDS)},
    }
    values = (
        record.deployment_id, record.hook, record.status, record.owner, record.verdict, record.reason, record.asked,
    )  # fmt: skip
    item.update({name: {"S": str(value)} for name, value in zip(_FIELDS, values, strict=True) if value is not None})
    if record.state is not None:
        item["state"] = {"B": zlib.compress(record.state.encode(), 6)}
    return item


def _record(item: Mapping[str, Any]) -> HookRecord:
    def text(name: str) -> str | None:
        value = item.get(name)
        return None if value is None else str(value["S"])

    def number(name: str) -> float:
        return float(item[name]["N"])

    state = item.get("state")
    return HookRecord(
        execution_id=str(text("executionId")),
        deployment_id=str(text("deploymentId")),
        hook=str(text("hook")),
        status=str(text("status")),
        owner=str(text("owner")),
        lease_until=number("leaseUntil"),
        hook_deadline=number("hookDeadline"),
        version=int(number("version")),
        runs=int(number("runs")),
        state=zlib.decompress(bytes(state["B"])).decode() if state else None,
        verdict=text("verdict"),
        reason=text("reason"),
        asked=text("asked"),
    )
