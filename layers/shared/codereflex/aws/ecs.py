"""ECS native blue/green: a service's target groups, listener rules and alarms, and the listeners' URLs (ELBv2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from codereflex.aws.errors import translate
from codereflex.errors import ConfigurationError, TargetGone

_GONE = frozenset({"ListenerNotFound", "LoadBalancerNotFound", "ServiceNotActiveException"})


class ListenerView(NamedTuple):
    arn: str
    url: str  # protocol://<load balancer DNS name>:<port>
    load_balancer_arn: str


class BlueGreenService(NamedTuple):
    """What a native blue/green service's configuration says is under test (green: the alternate target group)."""

    cluster: str
    service: str
    desired_count: int
    blue_target_group: str
    green_target_group: str
    production: ListenerView
    test: ListenerView | None
    alarms: tuple[str, ...]


class EcsBlueGreen:
    """DescribeServices, then DescribeListeners and DescribeLoadBalancers for the rules' listeners."""

    def __init__(self, ecs: Any, elbv2: Any) -> None:
        self._ecs, self._elbv2 = ecs, elbv2

    def service(self, cluster: str, service: str) -> BlueGreenService:
        try:
            response = self._ecs.describe_services(cluster=cluster, services=[service])
        except ClientError as error:
            raise translate(error, f"ecs DescribeServices {cluster}/{service}") from error
        found = [s for s in response.get("services") or [] if s.get("status") == "ACTIVE"]
        if not found:
            raise TargetGone(f"ecs service {cluster}/{service} is not active")
        described = found[0]
        balanced = [lb for lb in described.get("loadBalancers") or [] if lb.get("advancedConfiguration")]
        if not balanced:
            raise ConfigurationError(f"ecs service {cluster}/{service} has no blue/green advancedConfiguration")
        advanced = balanced[0]["advancedConfiguration"]
        if not advanced.get("productionListenerRule") or not advanced.get("alternateTargetGroupArn"):
            raise ConfigurationError(
                f"ecs service {cluster}/{service}: advancedConfiguration needs productionListenerRule and "
                "alternateTargetGroupArn"
            )
        rules = [advanced.get("productionListenerRule"), advanced.get("testListenerRule")]
        views = self._listeners([str(rule) for rule in rules if rule])
        alarms = (described.get("deploymentConfiguration") or {}).get("alarms") or {}
        return BlueGreenService(
            cluster=cluster,
            service=service,
            desired_count=int(described.get("desiredCount") or 0),
            blue_target_group=str(balanced[0].get("targetGroupArn") or ""),
            green_target_group=str(advanced.get("alternateTargetGroupArn") or ""),
            production=views[listener_of(str(rules[0]))],
            test=views.get(listener_of(str(rules[1]))) if rules[1] else None,
            alarms=tuple(alarms.get("alarmNames") or ()) if alarms.get("enable") else (),
        )

    def _listeners(self, rules: Sequence[str]) -> dict[str, ListenerView]:
        arns = sorted({listener_of(rule) for rule in rules})
        try:
            listeners = self._elbv2.describe_listeners(ListenerArns=arns)["Listeners"]
            balancers = {listener["LoadBalancerArn"] for listener in listeners}
            described = self._elbv2.describe_load_balancers(LoadBalancerArns=sorted(balancers))["LoadBalancers"]
        except ClientError as error:
            raise translate(error, "elbv2 DescribeListeners/DescribeLoadBalancers", gone=_GONE) from error
        dns = {lb["LoadBalancerArn"]: lb["DNSName"] for lb in described}
        if {listener["ListenerArn"] for listener in listeners} != set(arns):
            raise TargetGone(f"elbv2 listeners of the service's rules not found: {', '.join(arns)}")
        return {
            listener["ListenerArn"]: ListenerView(
                listener["ListenerArn"],
                f"{str(listener.get('Protocol', 'HTTP')).lower()}://{dns[listener['LoadBalancerArn']]}:{listener['Port']}",
                listener["LoadBalancerArn"],
            )
            for listener in listeners
        }


def listener_of(rule_arn: str) -> str:
    """The listener a rule belongs to: ELBv2 rule ARNs are the listener's ARN plus the rule's id."""
    if ":listener-rule/" not in rule_arn:
        return rule_arn  # a listener ARN already (or nothing ELBv2 knows, which DescribeListeners says)
    return rule_arn.replace(":listener-rule/", ":listener/", 1).rsplit("/", 1)[0]
