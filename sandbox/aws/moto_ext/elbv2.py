"""ELBv2 target health a test decides, grafted onto moto, and what a listener routes to.

moto reports every registered IP target `healthy` for ever. `set_target_health` pins a target's
state (`unhealthy`, `initial`, `draining`, ...) with the reason and description ELBv2 would give;
DescribeTargetHealth then answers it, and the sandbox's listeners route around it as an ALB does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup, elbv2_backends

from sandbox.aws.moto_ext._support import graft

if TYPE_CHECKING:
    from moto.ec2.models import EC2Backend

DEFAULT_REGION = "us-east-1"
TARGET_STATES = ("initial", "healthy", "unhealthy", "unhealthy.draining", "unused", "draining", "unavailable")
# The reasons ELBv2 gives with each state (DescribeTargetHealth's TargetHealth.Reason).
_REASONS = {
    "initial": ("Elb.InitialHealthChecking", "Initial health checks in progress"),
    "unhealthy": ("Target.ResponseCodeMismatch", "Health checks failed with these codes: [500]"),
    "unhealthy.draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
    "draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
    "unused": ("Target.NotInUse", "Target group is not configured to receive traffic from the load balancer"),
    "unavailable": ("Elb.InternalError", "Health checks failed due to an internal error"),
}
_STATE = "_sandbox_target_health"
_moto_health_for = FakeTargetGroup.health_for


class SandboxTargetGroup(FakeTargetGroup):
    def health_for(self, target: dict[str, Any], ec2_backend: EC2Backend) -> FakeHealthStatus:
        status = _moto_health_for(self, target, ec2_backend)
        pinned = cast(dict[str, tuple[str, str | None, str | None]], self.__dict__.get(_STATE, {}))
        if target["Id"] in self.targets and target["Id"] in pinned:
            status.status, status.reason, status.description = pinned[target["Id"]]
        return status


def patch() -> None:
    """Graft the pinned health onto moto's target groups (idempotent)."""
    graft(FakeTargetGroup, SandboxTargetGroup)


def backend_for(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> ELBv2Backend:
    patch()
    return elbv2_backends[account_id][region]


def set_target_health(
    target_group_arn: str,
    target_id: str,
    state: str,
    *,
    reason: str | None = None,
    description: str | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
    region: str = DEFAULT_REGION,
) -> None:
    """Pin a registered target's health (`healthy` again to undo); DescribeTargetHealth reports it from now on."""
    if state not in TARGET_STATES:
        raise ValueError(f"not a target health state: {state}")
    group = backend_for(account_id, region).target_groups[target_group_arn]
    default_reason, default_description = _REASONS.get(state, (None, None))
    pinned = group.__dict__.setdefault(_STATE, {})
    pinned[target_id] = (state, reason or default_reason, description or default_description)


def forward_weights(
    listener_arn: str, *, account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION
) -> list[tuple[str, int]]:
    """The listener's default forward action as (target group ARN, weight) pairs."""
    backend = backend_for(account_id, region)
    listener = backend.describe_listeners(load_balancer_arn=None, listener_arns=[listener_arn])[0]
    for action in listener.default_actions:
        if action.data.get("Type") != "forward":
            continue
        if "ForwardConfig" in action.data:
            return [
                (g["TargetGroupArn"], int(g.get("Weight", 1))) for g in action.data["ForwardConfig"]["TargetGroups"]
            ]
        return [(action.data["TargetGroupArn"], 1)]
    return []


def target_states(
    target_group_arn: str, *, account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION
) -> list[tuple[str, int, str]]:
    """(ip, port, state) of each registered target, as DescribeTargetHealth reports them."""
    backend = backend_for(account_id, region)
    return [
        (status.instance_id, int(status.port), status.status)
        for status in backend.describe_target_health(target_group_arn, [])
    ]
