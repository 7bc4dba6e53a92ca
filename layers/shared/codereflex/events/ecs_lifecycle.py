"""The payload ECS native blue/green sends a Lambda lifecycle hook (deployment-lifecycle-hooks in ECS's guide)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from codereflex.events.reading import Fields, shape_error

STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
)
# arn:aws:ecs:us-west-2:123456789012:service-deployment/my-cluster/my-service/EZe5RNVLH6PPzHXINuP28
_DEPLOYMENT = re.compile(
    r"^arn:aws[a-z-]*:ecs:([a-z0-9-]+):(\d{12}):service-deployment/([A-Za-z0-9_-]{1,255})/([A-Za-z0-9_-]{1,255})/"
    r"([A-Za-z0-9_-]{1,64})$"
)
_EXECUTION = re.compile(r"^[A-Za-z0-9-]{1,128}$")


class EcsLifecycleHookEvent(NamedTuple):
    execution_id: str
    stage: str
    resource_arn: str  # the service deployment
    service_arn: str
    target_revision_arn: str  # green, also while a rollback shifts traffic away from it
    region: str
    cluster: str
    service: str
    deployment_id: str
    test_weights: Mapping[str, float]
    production_weights: Mapping[str, float]
    hook_details: Mapping[str, Any]  # the service's configured details merged with what the last run returned

    @classmethod
    def read(cls, event: Any) -> EcsLifecycleHookEvent:
        raw = Fields(event, "")
        execution_id = raw.required_text("executionId", non_empty=True)
        if not _EXECUTION.match(execution_id):
            raise shape_error("executionId", "must be an id (letters, digits, hyphens)")
        resource_arn = raw.required_text("resourceArn", non_empty=True)
        matched = _DEPLOYMENT.match(resource_arn)
        if not matched:
            raise shape_error("resourceArn", "must be an ECS service-deployment ARN")
        region, _account, cluster, service, deployment_id = matched.groups()
        details = raw.child("executionDetails", lambda f: f)
        service_arn = details.required_text("serviceArn", non_empty=True)
        if not service_arn.endswith(f":service/{cluster}/{service}"):
            raise shape_error("executionDetails.serviceArn", "must be the service the deployment names")
        hook_details = raw.value("hookDetails")
        if hook_details is not None and not isinstance(hook_details, Mapping):
            raise shape_error("hookDetails", "must be an object")
        return cls(
            execution_id=execution_id,
            stage=raw.choice("lifecycleStage", STAGES),
            resource_arn=resource_arn,
            service_arn=service_arn,
            target_revision_arn=details.required_text("targetServiceRevisionArn", non_empty=True),
            region=region,
            cluster=cluster,
            service=service,
            deployment_id=deployment_id,
            test_weights=_weights(details, "testTrafficWeights"),
            production_weights=_weights(details, "productionTrafficWeights"),
            hook_details=MappingProxyType(dict(hook_details or {})),
        )

    def rolling_back(self) -> bool:
        """ECS's documented sign of a rollback: green (the target) at 0 % of production while another has traffic."""
        weights = self.production_weights
        return weights.get(self.target_revision_arn) == 0 and any(v > 0 for v in weights.values())


def _weights(details: Fields, key: str) -> Mapping[str, float]:
    value = details.value(key)
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise shape_error(details.where(key), "must be an object")
    weights: dict[str, float] = {}
    for revision, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
            raise shape_error(details.where(key), "weights must be numbers")
        weights[str(revision)] = float(weight)
    return MappingProxyType(weights)
