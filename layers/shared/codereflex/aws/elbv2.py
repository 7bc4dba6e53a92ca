"""Elastic Load Balancing v2 for deployment validation: the health of a target group's targets."""

from __future__ import annotations

from typing import Any, Protocol

from codereflex.aws.cloudwatch import call
from codereflex.validation.ports import TargetState


class Elbv2Client(Protocol):
    def describe_target_health(self, **kwargs: Any) -> dict[str, Any]: ...


class TargetHealth:
    def __init__(self, client: Elbv2Client) -> None:
        self._client = client

    def target_health(self, target_group_arn: str) -> list[TargetState]:
        response = call(self._client.describe_target_health, "DescribeTargetHealth", TargetGroupArn=target_group_arn)
        states = []
        for description in response.get("TargetHealthDescriptions") or []:
            target = description.get("Target") or {}
            health = description.get("TargetHealth") or {}
            name = f"{target.get('Id')}:{target.get('Port')}" if target.get("Port") else str(target.get("Id"))
            states.append(TargetState(name, str(health.get("State", "unavailable")), str(health.get("Reason", ""))))
        return states
