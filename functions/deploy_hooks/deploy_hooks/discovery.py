"""What is under test, found from CodeDeploy and ELBv2 (never configured): the context a spec's templates read."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from codereflex.aws.codedeploy import Deployment
from codereflex.aws.elbv2 import Listener
from codereflex.errors import ConfigurationError


class Deployments(Protocol):
    def deployment(self, deployment_id: str) -> Deployment: ...

    def group(self, application: str, group: str) -> dict[str, Any]: ...

    def targets(self, deployment_id: str) -> list[dict[str, Any]]: ...

    def appspec(self, application: str, revision: Mapping[str, Any]) -> str: ...


class Balancers(Protocol):
    def listener(self, listener_arn: str) -> Listener: ...

    def target_group_arns(self, names: list[str]) -> dict[str, str]: ...


class NotFound(ConfigurationError):
    """The deployment does not say what the hook must check (no target, no listener, no version)."""

    reason = "not-found"


class Found(NamedTuple):
    context: dict[str, Any]
    event_started_at: float | None  # when CodeDeploy started this hook's lifecycle event (its hour counts from it)


def find(deployment: Deployment, hook: str, execution_id: str, deployments: Deployments, balancers: Balancers) -> Found:
    group = deployments.group(deployment.application, deployment.group)
    targets = deployments.targets(deployment.deployment_id)
    if not targets:
        raise NotFound(f"deployment {deployment.deployment_id} has no target yet")
    alarms = group.get("alarmConfiguration") or {}
    common: dict[str, Any] = {
        "deployment": {
            "id": deployment.deployment_id,
            "application": deployment.application,
            "group": deployment.group,
            "alarms": [str(a["name"]) for a in alarms.get("alarms") or []] if alarms.get("enabled") else [],
        },
        "hook": hook,
        "hookExecutionId": execution_id,
    }
    target = targets[0]
    body = target.get("lambdaTarget") or target.get("ecsTarget") or {}
    started = _event_start(body, hook)
    if deployment.platform == "Lambda":
        return Found({**common, "lambda": _lambda(target, deployment, deployments)}, started)
    if deployment.platform == "ECS":
        return Found({**common, "ecs": _ecs(body, group, balancers)}, started)
    raise NotFound(f"deployment {deployment.deployment_id} is a {deployment.platform} deployment, not Lambda or ECS")


def event_status(targets: list[dict[str, Any]], hook: str) -> str | None:
    """The status of `hook`'s lifecycle event on the deployment's target, None if it is not listed."""
    for target in targets[:1]:
        body = target.get("lambdaTarget") or target.get("ecsTarget") or {}
        for event in body.get("lifecycleEvents") or []:
            if str(event.get("lifecycleEventName", "")).casefold() == hook.casefold():
                return str(event.get("status"))
    return None


def _event_start(body: Mapping[str, Any], hook: str) -> float | None:
    for event in body.get("lifecycleEvents") or []:
        if str(event.get("lifecycleEventName", "")).casefold() == hook.casefold() and event.get("startTime"):
            return float(event["startTime"].timestamp())
    return None


def _lambda(target: Mapping[str, Any], deployment: Deployment, deployments: Deployments) -> dict[str, Any]:
    info = (target.get("lambdaTarget") or {}).get("lambdaFunctionInfo") or {}
    found = {
        "functionName": info.get("functionName"),
        "alias": info.get("functionAlias"),
        "currentVersion": info.get("currentVersion"),
        "targetVersion": info.get("targetVersion"),
    }
    if not all(found.values()):
        # The target says it once the deployment runs; the AppSpec says it from the start.
        properties = _lambda_properties(deployments.appspec(deployment.application, deployment.revision))
        for key, appspec_key in (
            ("functionName", "name"),
            ("alias", "alias"),
            ("currentVersion", "currentversion"),
            ("targetVersion", "targetversion"),
        ):
            found[key] = found[key] or properties.get(appspec_key)
    missing = [key for key, value in found.items() if not value]
    if missing:
        raise NotFound(f"the deployment names no Lambda {', '.join(missing)} (target or AppSpec)")
    return {key: str(value) for key, value in found.items()}


def _lambda_properties(text: str) -> dict[str, Any]:
    """The AppSpec's function properties, keys lower-cased (the user guide writes them in either case)."""
    if not text.strip():
        return {}
    try:
        appspec: Any = json.loads(text)
    except ValueError:
        import yaml  # noqa: PLC0415 (a YAML AppSpec only: ~25 ms)

        appspec = yaml.safe_load(text)
    resources = _get(appspec, "resources") or [{}]
    first = resources[0] if isinstance(resources, list) and resources else {}
    resource: Any = next(iter(first.values()), {}) if isinstance(first, Mapping) else {}
    properties = _get(resource, "properties") or {}
    return {str(k).casefold(): v for k, v in properties.items()} if isinstance(properties, Mapping) else {}


def _get(mapping: Any, key: str) -> Any:
    if not isinstance(mapping, Mapping):
        return None
    return next((value for name, value in mapping.items() if str(name).casefold() == key), None)


def _ecs(body: Mapping[str, Any], group: Mapping[str, Any], balancers: Balancers) -> dict[str, Any]:
    pairs = (group.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or []
    if not pairs:
        raise NotFound("the deployment group has no target group pair (loadBalancerInfo)")
    pair = pairs[0]
    services = group.get("ecsServices") or [{}]
    found: dict[str, Any] = {
        "cluster": services[0].get("clusterName"),
        "service": services[0].get("serviceName"),
    }
    prod = _listener(pair.get("prodTrafficRoute"), balancers)
    if prod is None:
        raise NotFound("the deployment group has no production listener")
    found["prodListener"] = {"arn": prod.arn, "url": prod.url}
    test = _listener(pair.get("testTrafficRoute"), balancers)
    if test is not None:  # optional: without one, {{ ecs.testListener.url }} is unresolved and the spec fails
        found["testListener"] = {"arn": test.arn, "url": test.url}
    found["loadBalancer"] = {"dimension": prod.load_balancer_arn.split(":loadbalancer/")[-1]}
    names = [str(g["name"]) for g in pair.get("targetGroups") or []]
    arns = balancers.target_group_arns(names)
    for task_set in body.get("taskSetsInfo") or []:
        colour = str(task_set.get("taskSetLabel", "")).casefold()
        if colour not in ("blue", "green"):
            continue
        arn = arns.get(str((task_set.get("targetGroup") or {}).get("name")))
        found[colour] = {
            "taskSet": task_set.get("identifer"),  # botocore spells it so
            "targetGroupArn": arn,
            "targetGroupDimension": arn.split(":")[-1] if arn else None,
            "desiredCount": task_set.get("desiredCount"),
        }
    return found


def _listener(route: Mapping[str, Any] | None, balancers: Balancers) -> Listener | None:
    arns = (route or {}).get("listenerArns") or []
    return balancers.listener(str(arns[0])) if arns else None
