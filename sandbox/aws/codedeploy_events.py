"""The "CodeDeploy Deployment State-change Notification" event AWS sends when a deployment starts or ends.

Shaped as the EventBridge user guide's sample (tests/data/aws-samples/codedeploy-deployment-state-change.json):
`detail` has instanceGroupId (the deployment group's id), region, application, deploymentId, state and
deploymentGroup; `resources` are the application's and the deployment group's ARNs. The sample shows
`SUCCESS`; the sandbox also sends START, FAILURE and STOP (not confirmed from an AWS page).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.aws.envelope import envelope

DETAIL_TYPE = "CodeDeploy Deployment State-change Notification"
STATES = ("START", "SUCCESS", "FAILURE", "STOP", "READY")


def deployment_state_event(
    deployment: Any, state: str, *, region: str, account: str, now: datetime | None = None
) -> dict[str, Any]:
    """One envelope for moto's `DeploymentInfo` entering `state`."""
    if state not in STATES:
        raise ValueError(f"not a deployment state: {state}")
    application, group = deployment.application_name, deployment.deployment_group_name
    prefix = f"arn:aws:codedeploy:{region}:{account}"
    return envelope(
        source="aws.codedeploy",
        detail_type=DETAIL_TYPE,
        detail={
            "instanceGroupId": deployment.deployment_group.deployment_group_id,
            "region": region,
            "application": application,
            "deploymentId": deployment.deployment_id,
            "state": state,
            "deploymentGroup": group,
        },
        account=account,
        region=region,
        resources=[f"{prefix}:application:{application}", f"{prefix}:deploymentgroup:{application}/{group}"],
        time=now,
    )
