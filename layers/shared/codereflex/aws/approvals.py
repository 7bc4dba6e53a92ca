"""DynamoDB: one item per approval request; every change is one conditional write, so duplicates and races decide once.

The item's `pk` is `request:<pipeline>/<stage>/<action>/<execution>`. What never changes after the
request opens (what the approvers see) is one JSON attribute, `request`; what conditions test
(`approvers`, `answers`, `outcome`, `ended`, `reminded`, `closedOut`) are attributes of their own.
Times are ISO 8601 in UTC to the microsecond, so they compare as strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from codereflex.approvals.model import (
    ActionRef,
    AlreadyAnswered,
    AlreadyDecided,
    Answer,
    BuildSummary,
    Ended,
    NotAsked,
    Outcome,
    Request,
    RequestNotFound,
    Revision,
)
from codereflex.aws.errors import error_code, translate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_CONFLICT = "ConditionalCheckFailedException"
_UNANSWERED = "attribute_not_exists(answers.#who)"
_NOT_CLOSED = "attribute_exists(pk) AND attribute_not_exists(outcome) AND attribute_not_exists(ended)"


class ApprovalStore:
    """The approvals table; one call per method (the scans page through the table)."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def open(self, request: Request) -> tuple[Request, bool]:
        """Store a new request, or return the one already there (both request paths converge here)."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(request),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) != _CONFLICT:
                raise translate(error, "PutItem of an approval request") from error
            held = _held(error)
            existing = from_item(held) if held else self.get(request.ref)
            if existing is None:  # opened and deleted in between: only a TTL long past could do that
                raise translate(error, "PutItem of an approval request") from error
            return existing, False
        return request, True

    def get(self, ref: ActionRef) -> Request | None:
        try:
            response = self._client.get_item(TableName=self._table, Key=_key(ref), ConsistentRead=True)
        except ClientError as error:
            raise translate(error, "GetItem of an approval request") from error
        item = response.get("Item")
        return from_item(item) if item else None

    def answer(self, ref: ActionRef, answer: Answer) -> Request:
        """Record one approver's answer; refused (and why) unless they were asked, have not answered and
        nothing is decided."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_key(ref),
                UpdateExpression="SET answers.#who = :answer",
                ConditionExpression=f"{_NOT_CLOSED} AND contains(approvers, :who) AND {_UNANSWERED}",
                ExpressionAttributeNames={"#who": answer.approver},
                ExpressionAttributeValues={":answer": _answer_value(answer), ":who": {"S": answer.approver}},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) != _CONFLICT:
                raise translate(error, "UpdateItem of an approval answer") from error
            raise _refusal(error, ref, answer.approver) from error
        return from_item(response["Attributes"])

    def claim_outcome(self, ref: ActionRef, outcome: Outcome) -> bool:
        """Claim the decision: exactly one caller wins, and only the winner calls PutApprovalResult."""
        return self._set_once(
            ref,
            update="SET outcome = :outcome",
            condition=_NOT_CLOSED,
            values={":outcome": _outcome_value(outcome._replace(reported=False))},
            what="UpdateItem of an approval outcome",
        )

    def mark_reported(self, ref: ActionRef) -> bool:
        """The claimed outcome was decided by codereflex: PutApprovalResult took it, or CodePipeline names our role."""
        return self._set_once(
            ref,
            update="SET outcome.reported = :yes",
            condition="attribute_exists(outcome) AND outcome.reported = :no",
            values={":yes": {"BOOL": True}, ":no": {"BOOL": False}},
            what="UpdateItem of a reported approval outcome",
        )

    def mark_ended(self, ref: ActionRef, ended: Ended) -> bool:
        """Record how the action ended; the first word on it stays."""
        return self._set_once(
            ref,
            update="SET ended = :ended",
            condition="attribute_exists(pk) AND attribute_not_exists(ended)",
            values={":ended": _ended_value(ended)},
            what="UpdateItem of an ended approval",
        )

    def close_undecided(self, ref: ActionRef, ended: Ended) -> bool:
        """End a request nobody decided (a deployment hook's wait is over): refused once an outcome is
        claimed, so the page's decision and the hook's giving up cannot both stand."""
        return self._set_once(
            ref,
            update="SET ended = :ended",
            condition=_NOT_CLOSED,
            values={":ended": _ended_value(ended)},
            what="UpdateItem of an undecided approval",
        )

    def mark_reminded(self, ref: ActionRef) -> bool:
        """True for the one caller that may send the reminder."""
        return self._flag(ref, "reminded")

    def mark_closed_out(self, ref: ActionRef) -> bool:
        """True for the one caller that may send the close-out messages."""
        return self._flag(ref, "closedOut")

    def open_requests(self) -> Iterator[Request]:
        """Requests whose action has not ended, for the sweep. A Scan: a table of approvals holds few items
        (one per approval in the last weeks), far fewer than a Scan page."""
        yield from self._scan("attribute_not_exists(ended)", {})

    def unreported(self, older_than: datetime) -> Iterator[Request]:
        """Outcomes claimed before `older_than`, not reported and not ended: their claimer's invocation
        has ended (`older_than` is now minus the page function's timeout), so the sweep may report them.
        An ended one is over (decided elsewhere first, expired, superseded): nothing is left to report."""
        yield from self._scan(
            "outcome.reported = :no AND outcome.#at < :before AND attribute_not_exists(ended)",
            {":no": {"BOOL": False}, ":before": {"S": _time(older_than)}},
            {"#at": "at"},
        )

    def _scan(
        self, condition: str, values: Mapping[str, Any], names: Mapping[str, str] | None = None
    ) -> Iterator[Request]:
        arguments: dict[str, Any] = {"TableName": self._table, "FilterExpression": condition, "ConsistentRead": True}
        if values:
            arguments["ExpressionAttributeValues"] = dict(values)
        if names:
            arguments["ExpressionAttributeNames"] = dict(names)
        try:
            for page in self._client.get_paginator("scan").paginate(**arguments):
                for item in page.get("Items", []):
                    if str(item.get("pk", {}).get("S", "")).startswith("request:"):
                        yield from_item(item)
        except ClientError as error:
            raise translate(error, "Scan of approval requests") from error

    def _flag(self, ref: ActionRef, name: str) -> bool:
        return self._set_once(
            ref,
            update="SET #flag = :yes",
            condition="attribute_exists(pk) AND attribute_not_exists(#flag)",
            values={":yes": {"BOOL": True}},
            what=f"UpdateItem of an approval's {name}",
            names={"#flag": name},
        )

    def _set_once(
        self,
        ref: ActionRef,
        *,
        update: str,
        condition: str,
        values: Mapping[str, Any],
        what: str,
        names: Mapping[str, str] | None = None,
    ) -> bool:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "Key": _key(ref),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": dict(values),
        }
        if names:
            arguments["ExpressionAttributeNames"] = dict(names)
        try:
            self._client.update_item(**arguments)
        except ClientError as error:
            if error_code(error) == _CONFLICT:
                return False
            raise translate(error, what) from error
        return True


def _refusal(error: ClientError, ref: ActionRef, approver: str) -> Exception:
    held = _held(error)
    if not held:
        return RequestNotFound(f"no approval request for {ref.key}", None)
    request = from_item(held)
    if request.outcome is not None or request.ended is not None:
        return AlreadyDecided(f"{ref.key} is decided", request)
    if approver not in request.approvers:
        return NotAsked(f"{approver} is not asked to approve {ref.key}", request)
    return AlreadyAnswered(f"{approver} has answered {ref.key}", request)


def _held(error: ClientError) -> Mapping[str, Any] | None:
    """The item as it stood when a condition failed (ReturnValuesOnConditionCheckFailure=ALL_OLD)."""
    item: Any = error.response.get("Item")
    return item if isinstance(item, Mapping) and item else None


def _key(ref: ActionRef) -> dict[str, Any]:
    return {"pk": {"S": f"request:{ref.key}"}}


def _time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _answer_value(answer: Answer) -> dict[str, Any]:
    return {"M": {"status": {"S": answer.status}, "reason": {"S": answer.reason}, "at": {"S": _time(answer.at)}}}


def _ended_value(ended: Ended) -> dict[str, Any]:
    value: dict[str, Any] = {"how": {"S": ended.how}, "at": {"S": _time(ended.at)}}
    if ended.by:
        value["by"] = {"S": ended.by}
    return {"M": value}


def _outcome_value(outcome: Outcome) -> dict[str, Any]:
    return {
        "M": {
            "status": {"S": outcome.status},
            "by": {"L": [{"S": who} for who in outcome.by]},
            "reason": {"S": outcome.reason},
            "at": {"S": _time(outcome.at)},
            "reported": {"BOOL": outcome.reported},
        }
    }


def to_item(request: Request) -> dict[str, Any]:
    """The item a new request is stored as (answers and outcome included, though a new one has none)."""
    body = {
        "ref": list(request.ref),
        "quorum": request.quorum,
        "separateDuties": request.separate_duties,
        "expiresAt": _time(request.expires_at),
        "linkExpiresAt": _time(request.link_expires_at),
        "customData": request.custom_data,
        "externalLink": request.external_link,
        "revisions": [list(r) for r in request.revisions],
        "builds": [list(b) for b in request.builds],
        "createdAt": _time(request.created_at),
    }
    item: dict[str, Any] = {
        "pk": {"S": f"request:{request.ref.key}"},
        "request": {"S": json.dumps(body, separators=(",", ":"))},
        "approvers": {"L": [{"S": a} for a in request.approvers]},
        "answers": {"M": {who: _answer_value(a) for who, a in request.answers.items()}},
        "expiresAt": {"S": _time(request.expires_at)},
        "ttl": {"N": str(request.ttl)},
    }
    if request.outcome is not None:
        item["outcome"] = _outcome_value(request.outcome)
    if request.ended is not None:
        item["ended"] = _ended_value(request.ended)
    if request.reminded:
        item["reminded"] = {"BOOL": True}
    if request.closed_out:
        item["closedOut"] = {"BOOL": True}
    return item


def from_item(item: Mapping[str, Any]) -> Request:
    body = json.loads(item["request"]["S"])
    answers = {
        who: Answer(who, raw["M"]["status"]["S"], raw["M"]["reason"]["S"], _at(raw["M"]["at"]["S"]))
        for who, raw in item.get("answers", {}).get("M", {}).items()
    }
    outcome = None
    if "outcome" in item:
        raw = item["outcome"]["M"]
        outcome = Outcome(
            raw["status"]["S"],
            tuple(who["S"] for who in raw["by"]["L"]),
            raw["reason"]["S"],
            _at(raw["at"]["S"]),
            bool(raw["reported"]["BOOL"]),
        )
    ended = None
    if "ended" in item:
        raw = item["ended"]["M"]
        ended = Ended(raw["how"]["S"], _at(raw["at"]["S"]), raw["by"]["S"] if "by" in raw else None)
    return Request(
        ref=ActionRef(*body["ref"]),
        approvers=tuple(a["S"] for a in item["approvers"]["L"]),
        quorum=int(body["quorum"]),
        separate_duties=bool(body["separateDuties"]),
        expires_at=_at(body["expiresAt"]),
        link_expires_at=_at(body["linkExpiresAt"]),
        custom_data=body["customData"],
        external_link=body["externalLink"],
        revisions=tuple(Revision(*r) for r in body["revisions"]),
        builds=tuple(BuildSummary(*b) for b in body["builds"]),
        created_at=_at(body["createdAt"]),
        answers=MappingProxyType(answers),
        outcome=outcome,
        ended=ended,
        reminded=bool(item.get("reminded", {}).get("BOOL", False)),
        closed_out=bool(item.get("closedOut", {}).get("BOOL", False)),
    )
