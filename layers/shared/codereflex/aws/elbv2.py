"""Elastic Load Balancing v2 for deployment validation: target health, listener URLs, target group ARNs."""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from codereflex.aws.cloudwatch import call
from codereflex.validation.ports import TargetState, ToolError


class Elbv2Client(Protocol):
    def describe_target_health(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_listeners(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_load_balancers(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_target_groups(self, **kwargs: Any) -> dict[str, Any]: ...


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


class Listener(NamedTuple):
    arn: str
    url: str  # what a client of the listener requests: scheme, the load balancer's DNS name, the port
    load_balancer_arn: str


class LoadBalancers:
    """Where an ECS deployment's traffic goes: listener URLs and target group ARNs, found from ELBv2."""

    def __init__(self, client: Elbv2Client) -> None:
        self._client = client

    def listener(self, listener_arn: str) -> Listener:
        found = call(self._client.describe_listeners, "DescribeListeners", ListenerArns=[listener_arn])
        (listener,) = found.get("Listeners") or [None]
        if listener is None:
            raise ToolError(f"DescribeListeners: no listener {listener_arn}")
        lb_arn = str(listener["LoadBalancerArn"])
        balancers = call(self._client.describe_load_balancers, "DescribeLoadBalancers", LoadBalancerArns=[lb_arn])
        (balancer,) = balancers.get("LoadBalancers") or [None]
        if balancer is None:
            raise ToolError(f"DescribeLoadBalancers: no load balancer {lb_arn}")
        scheme = "https" if str(listener.get("Protocol", "HTTP")).upper() in {"HTTPS", "TLS"} else "http"
        return Listener(listener_arn, f"{scheme}://{balancer['DNSName']}:{listener['Port']}", lb_arn)

    def target_group_arns(self, names: list[str]) -> dict[str, str]:
        """Target group ARN by name (CodeDeploy names the pair's groups; ELBv2 keys them by ARN)."""
        if not names:
            return {}
        found = call(self._client.describe_target_groups, "DescribeTargetGroups", Names=list(names))
        return {str(g["TargetGroupName"]): str(g["TargetGroupArn"]) for g in found.get("TargetGroups") or []}
