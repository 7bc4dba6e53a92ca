"""CodeDeploy's side of a Lambda or ECS blue/green deployment: lifecycle events in order, hooks, traffic, the end.

`Deployer.run(deployment_id)` does what CodeDeploy does with a deployment created in the sandbox's
moto: it starts it (one target, its lifecycle events Pending), then runs each event in order (ECS:
BeforeInstall, Install, AfterInstall, AllowTestTraffic, AfterAllowTestTraffic, BeforeAllowTraffic,
AllowTraffic, AfterAllowTraffic; Lambda: BeforeAllowTraffic, AllowTraffic, AfterAllowTraffic). A hook
event invokes the function the AppSpec's `Hooks` names (or one a test gives) with exactly CodeDeploy's
payload, `{"DeploymentId", "LifecycleEventHookExecutionId"}`, and waits for its
PutLifecycleEventHookExecutionStatus up to the one-hour limit on the deployer's clock (a
`SimulatedClock` makes that hour instant). A hook that raises is invoked again, as Lambda retries an
asynchronous invocation (twice, one and two minutes later), unless it has reported. The traffic
events move what the stand-ins route: the Lambda alias (with RoutingConfig steps for canary and
linear configurations) and the ELBv2 listeners' forward weights. The deployment ends Succeeded, or
Failed (a hook failed or timed out) or Stopped (StopDeployment, or a deployment group alarm in ALARM),
rolled back when the group's autoRollbackConfiguration says so: traffic back to blue, and a rollback
deployment (creator `codeDeployRollback`) named in both deployments' rollbackInfo. Every start and end
is a "CodeDeploy Deployment State-change Notification" event given to `emit`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import yaml
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.models import DEFAULT_ACCOUNT_ID

from sandbox.aws.codedeploy_events import deployment_state_event
from sandbox.aws.moto_ext import codedeploy, elbv2, lambda_versions
from sandbox.aws.moto_ext.codedeploy import ECS_EVENTS, HOOK_TIMEOUT, LAMBDA_EVENTS, SCRIPTED, LifecycleEvent, Target

if TYPE_CHECKING:
    from sandbox.local import Sandbox

DEFAULT_REGION = "us-east-1"
HookTarget = str | Callable[[dict[str, Any]], Any]
Invoker = Callable[[str, dict[str, Any]], Any]
# Lambda's asynchronous invocation retries a function error twice, after about one and two minutes.
ASYNC_RETRY_DELAYS = (60.0, 120.0)
_STEPPED = re.compile(r"(?:Lambda|ECS)(Canary|Linear)(\d+)Percent(?:Every)?(\d+)Minutes?$")


class Clock(Protocol):
    def now(self) -> datetime: ...

    def wait(self, until: Callable[[], bool], seconds: float) -> bool:
        """Wait up to `seconds` of this clock's time for `until()`; return its last value."""
        ...


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait(self, until: Callable[[], bool], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not until():
            if time.monotonic() >= deadline:
                return until()
            time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        return True


class SimulatedClock:
    """Time that passes only when waited for or advanced: a one-hour hook limit takes milliseconds.

    A wait first gives other threads `grace` real seconds (a report may be in flight), then jumps.
    """

    def __init__(self, start: datetime | None = None, *, grace: float = 0.05) -> None:
        self._now = start or datetime.now(UTC)
        self._grace = grace
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def wait(self, until: Callable[[], bool], seconds: float) -> bool:
        if WallClock().wait(until, min(self._grace, seconds)):
            return True
        self.advance(seconds)
        return until()


@dataclass(frozen=True)
class HookCall:
    """One invocation of a hook function, and whether it raised."""

    event: str
    function: str
    payload: dict[str, str]
    error: str | None


@dataclass(frozen=True)
class Outcome:
    deployment_id: str
    status: str
    events: dict[str, str]
    calls: list[HookCall]
    error: dict[str, str] | None = None
    rollback: dict[str, str] | None = None
    rollback_deployment_id: str | None = None


@dataclass
class _Run:
    deployment_id: str
    platform: str
    appspec: dict[str, Any]
    hooks: dict[str, HookTarget]
    group: Any
    target: Target
    calls: list[HookCall] = field(default_factory=list)
    lambda_resource: dict[str, str] = field(default_factory=dict)
    blue_group: str = ""
    green_group: str = ""
    listeners: dict[str, str] = field(default_factory=dict)  # prod / test -> listener ARN


class Deployer:
    """Runs sandbox deployments as CodeDeploy would; `invoke(function_name, payload)` runs a named hook."""

    def __init__(
        self,
        invoke: Invoker | None = None,
        *,
        clock: Clock | None = None,
        emit: Callable[[dict[str, Any]], None] | None = None,
        copies: int = 1,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
    ) -> None:
        self.invoke = invoke
        self.clock = clock or WallClock()
        self.emit = emit or (lambda _event: None)
        self.copies = copies  # >1: each hook is delivered that many times at once (at-least-once delivery)
        self.account_id, self.region = account_id, region
        self.backend = codedeploy.backend_for(account_id, region)
        self.backend.sandbox_state.clock = self.clock.now

    def run(self, deployment_id: str, *, hooks: Mapping[str, HookTarget] | None = None) -> Outcome:
        """Run the deployment to its end; `hooks` (event name -> function name or callable) overrides the AppSpec's."""
        run = self._start(deployment_id, dict(hooks or {}))
        self._emit(run, "START")
        for event in run.target.events:
            ended = self._event(run, event.name)
            if ended is not None:
                return self._end(run, *ended)
        return self._end(run, "Succeeded", None)

    # - starting ---------------------------------------------------------------------------

    def _start(self, deployment_id: str, hooks: dict[str, HookTarget]) -> _Run:
        deployment = self.backend.sandbox_deployment(deployment_id)
        platform = deployment.application.compute_platform
        if platform not in ("Lambda", "ECS"):
            raise ValueError(f"the sandbox deploys Lambda and ECS applications, not {platform}")
        appspec = _appspec(self.backend, deployment)
        for entry in _get(appspec, "hooks") or []:
            for name, function in entry.items():
                hooks.setdefault(_event_name(name), str(function))
        names = LAMBDA_EVENTS if platform == "Lambda" else ECS_EVENTS
        target_events = [LifecycleEvent(name) for name in names]
        now = self.clock.now()
        group = deployment.deployment_group
        if platform == "Lambda":
            resource = _lambda_resource(appspec)
            name, alias = resource["name"], resource["alias"]
            arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}:{alias}"
            info = {
                "functionName": name,
                "functionAlias": alias,
                "currentVersion": resource["currentversion"],
                "targetVersion": resource["targetversion"],
                "targetVersionWeight": 0.0,
            }
            target = Target("lambdaTarget", f"{name}:{alias}", arn, target_events, now, lambda_function_info=info)
            run = _Run(deployment_id, platform, appspec, hooks, group, target, lambda_resource=resource)
        else:
            service = (group.ecs_services or [{}])[0]
            cluster, service_name = service.get("clusterName", "default"), service.get("serviceName", "service")
            arn = f"arn:aws:ecs:{self.region}:{self.account_id}:service/{cluster}/{service_name}"
            target = Target("ecsTarget", f"{cluster}:{service_name}", arn, target_events, now, task_sets=[])
            run = _Run(deployment_id, platform, appspec, hooks, group, target)
            self._find_traffic(run)
            target.task_sets = [_task_set("Blue", run.blue_group, 100.0, "PRIMARY")]
        self.backend.start_deployment(deployment_id, target)
        return run

    def _find_traffic(self, run: _Run) -> None:
        pair = (run.group.load_balancer_info.get("targetGroupPairInfoList") or [{}])[0]
        names = [g["name"] for g in pair.get("targetGroups", [])]
        run.listeners["prod"] = pair["prodTrafficRoute"]["listenerArns"][0]
        if pair.get("testTrafficRoute"):
            run.listeners["test"] = pair["testTrafficRoute"]["listenerArns"][0]
        by_name = {g.name: g.arn for g in elbv2.backend_for(self.account_id, self.region).target_groups.values()}
        serving = {arn for arn, weight in elbv2.forward_weights(run.listeners["prod"]) if weight > 0}
        # Blue is whichever of the pair production is routed to now; CodeDeploy swaps them every deployment.
        blue = next((name for name in names if by_name.get(name) in serving), None)
        green = next((name for name in names if name != blue and name in by_name), None)
        if blue is None or green is None:
            raise ValueError(f"the production listener forwards to neither target group of the pair {names}")
        run.blue_group, run.green_group = by_name[blue], by_name[green]

    # - one lifecycle event -------------------------------------------------------------------

    def _event(self, run: _Run, name: str) -> tuple[str, dict[str, str]] | None:
        """Run one event; a reason to end the deployment (status, errorInformation) or None to go on."""
        stopped = self._stop_reason(run)
        if stopped is not None:
            return stopped
        if name not in SCRIPTED:
            self.backend.begin_event(run.deployment_id, name, hook=False)
            stopped = self._traffic(run, name)
            if stopped is not None:
                self.backend.end_event(run.deployment_id, name, "Failed")
                return stopped
            self.backend.end_event(run.deployment_id, name, "Succeeded")
            return None
        hook = run.hooks.get(name)
        if hook is None:
            self.backend.begin_event(run.deployment_id, name, hook=False)
            self.backend.end_event(run.deployment_id, name, "Skipped")
            return None
        execution_id = self.backend.begin_event(run.deployment_id, name, hook=True)
        payload = {"DeploymentId": run.deployment_id, "LifecycleEventHookExecutionId": str(execution_id)}
        return self._hook(run, name, hook, payload)

    def _hook(
        self, run: _Run, name: str, hook: HookTarget, payload: dict[str, str]
    ) -> tuple[str, dict[str, str]] | None:
        started = self.clock.now()
        deadline = started + HOOK_TIMEOUT

        def settled() -> bool:
            return (
                self.backend.event_status(run.deployment_id, name) != "InProgress" or self._stop_reason(run) is not None
            )

        retries = list(ASYNC_RETRY_DELAYS)
        while True:
            errors = self._deliver(run, name, hook, payload)
            if not errors or not retries or settled():
                break
            self.clock.wait(settled, retries.pop(0))
        while not settled():
            remaining = (deadline - self.clock.now()).total_seconds()
            if remaining <= 0:
                break
            self.clock.wait(settled, remaining)
        status = self.backend.event_status(run.deployment_id, name)
        if status == "Succeeded":
            return None
        stopped = self._stop_reason(run)
        if stopped is not None:
            return stopped
        event = self.backend.sandbox_target(run.deployment_id).event(name)
        timed_out = (event.diagnostics or {}).get("errorCode") == "ScriptTimedOut"
        why = "timed out: no status was reported within one hour" if timed_out else "reported Failed"
        return "Failed", {
            "code": "HOOK_EXECUTION_FAILURE",
            "message": f"The deployment failed because the {name} lifecycle event hook {_name(hook)} {why}.",
        }

    def _deliver(self, run: _Run, name: str, hook: HookTarget, payload: dict[str, str]) -> list[str]:
        """Invoke the hook `copies` times at once; the errors they raised."""
        errors: list[str] = []
        lock = threading.Lock()

        def once() -> None:
            error: str | None = None
            try:
                if callable(hook):
                    hook(dict(payload))
                elif self.invoke is None:
                    raise LookupError(f"no invoker for hook function {hook}")
                else:
                    self.invoke(hook, dict(payload))
            except Exception as raised:  # a hook's crash is its function error, recorded and retried
                error = f"{type(raised).__name__}: {raised}"
            with lock:
                run.calls.append(HookCall(name, _name(hook), dict(payload), error))
                if error is not None:
                    errors.append(error)

        threads = [threading.Thread(target=once, name=f"hook-{name}-{i}") for i in range(self.copies)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return errors

    # - traffic -----------------------------------------------------------------------------------

    def _traffic(self, run: _Run, name: str) -> tuple[str, dict[str, str]] | None:
        if run.platform == "Lambda":
            return self._shift(run, self._lambda_weight) if name == "AllowTraffic" else None
        if name == "Install":
            run.target.task_sets = [*(run.target.task_sets or []), _task_set("Green", run.green_group, 0.0, "ACTIVE")]
        elif name == "AllowTestTraffic" and "test" in run.listeners:
            self._route(run.listeners["test"], run.green_group, run.blue_group, 100)
        elif name == "AllowTraffic":
            return self._shift(run, self._ecs_weight)
        return None

    def _shift(self, run: _Run, apply: Callable[[_Run, int], None]) -> tuple[str, dict[str, str]] | None:
        config = str(run.group.deployment_config_name)
        for percent, minutes in _steps(config):
            apply(run, percent)
            if minutes:
                self.clock.wait(lambda: self._stop_reason(run) is not None, minutes * 60.0)
                stopped = self._stop_reason(run)
                if stopped is not None:
                    return stopped
        return None

    def _lambda_weight(self, run: _Run, percent: int) -> None:
        resource = run.lambda_resource
        backend = lambda_versions.backend_for(self.account_id, self.region)
        alias = backend.get_alias(resource["alias"], resource["name"])
        if percent >= 100:
            backend.update_alias(alias.name, resource["name"], resource["targetversion"], alias.description, {})  # type: ignore[arg-type]
        else:
            weights = {"AdditionalVersionWeights": {resource["targetversion"]: percent / 100}}
            backend.update_alias(alias.name, resource["name"], resource["currentversion"], alias.description, weights)  # type: ignore[arg-type]
        if run.target.lambda_function_info is not None:
            run.target.lambda_function_info["targetVersionWeight"] = float(percent)

    def _ecs_weight(self, run: _Run, percent: int) -> None:
        self._route(run.listeners["prod"], run.green_group, run.blue_group, percent)
        for task_set in run.target.task_sets or []:
            green = task_set["taskSetLabel"] == "Green"
            task_set["trafficWeight"] = float(percent if green else 100 - percent)
            if percent >= 100:
                task_set["status"] = "PRIMARY" if green else "ACTIVE"

    def _route(self, listener_arn: str, green: str, blue: str, percent: int) -> None:
        groups = [{"TargetGroupArn": blue, "Weight": 100 - percent}, {"TargetGroupArn": green, "Weight": percent}]
        elbv2.backend_for(self.account_id, self.region).modify_listener(
            listener_arn, actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}]
        )

    # - ending ------------------------------------------------------------------------------------

    def _stop_reason(self, run: _Run) -> tuple[str, dict[str, str]] | None:
        state = self.backend.sandbox_state.deployments[run.deployment_id]
        if state.stop_requested is not None:
            return "Stopped", {"code": "MANUAL_STOP", "message": "The deployment was stopped by a user."}
        alarms = run.group.alarm_configuration or {}
        if not alarms.get("enabled"):
            return None
        names = [alarm["name"] for alarm in alarms.get("alarms", [])]
        cloudwatch = cloudwatch_backends[self.account_id][self.region]
        firing = [alarm.name for alarm in cloudwatch.get_alarms_by_alarm_names(names) if alarm.state_value == "ALARM"]
        if not firing:
            return None
        message = f"One or more alarms have been activated. The alarm or alarms activated are: {', '.join(firing)}"
        return "Stopped", {"code": "ALARM_ACTIVE", "message": message}

    def _end(self, run: _Run, status: str, error: dict[str, str] | None) -> Outcome:
        rollback: dict[str, str] | None = None
        rollback_id: str | None = None
        if status != "Succeeded" and self._rolls_back(run, status):
            rollback_id = self._roll_back(run)
            rollback = {
                "rollbackDeploymentId": rollback_id,
                "rollbackMessage": f"Rollback deployment {rollback_id} succeeded",
            }
        elif status == "Succeeded" and run.platform == "ECS":
            for task_set in run.target.task_sets or []:
                if task_set["taskSetLabel"] == "Blue":
                    task_set["status"] = "DRAINING"
        self.backend.finish_deployment(run.deployment_id, status, error=error, rollback=rollback)
        self._emit(run, {"Succeeded": "SUCCESS", "Failed": "FAILURE", "Stopped": "STOP"}[status])
        events = {event.name: event.status for event in run.target.events}
        return Outcome(run.deployment_id, status, events, run.calls, error, rollback, rollback_id)

    def _rolls_back(self, run: _Run, status: str) -> bool:
        deployment = self.backend.deployments[run.deployment_id]
        config = deployment.auto_rollback_configuration or run.group.auto_rollback_configuration or {}
        stop = self.backend.sandbox_state.deployments[run.deployment_id].stop_requested
        if stop is not None and stop.get("autoRollbackEnabled") is not None:
            return bool(stop["autoRollbackEnabled"])
        wanted = {"Failed": "DEPLOYMENT_FAILURE", "Stopped": "DEPLOYMENT_STOP_ON_ALARM"}[status]
        if stop is not None:
            wanted = "DEPLOYMENT_STOP_ON_REQUEST"
        return bool(config.get("enabled")) and wanted in (config.get("events") or [])

    def _roll_back(self, run: _Run) -> str:
        """Traffic back to blue, recorded as CodeDeploy records it: a finished rollback deployment."""
        if run.platform == "Lambda":
            backend = lambda_versions.backend_for(self.account_id, self.region)
            resource = run.lambda_resource
            alias = backend.get_alias(resource["alias"], resource["name"])
            backend.update_alias(alias.name, resource["name"], resource["currentversion"], alias.description, {})  # type: ignore[arg-type]
            if run.target.lambda_function_info is not None:
                run.target.lambda_function_info["targetVersionWeight"] = 0.0
        else:
            for listener in run.listeners.values():
                self._route(listener, run.green_group, run.blue_group, 0)
            for task_set in run.target.task_sets or []:
                blue = task_set["taskSetLabel"] == "Blue"
                task_set.update(trafficWeight=100.0 if blue else 0.0, status="PRIMARY" if blue else "DRAINING")
        deployment = self.backend.deployments[run.deployment_id]
        rollback_id = self.backend.create_deployment(
            deployment.application_name, deployment.deployment_group_name, deployment.revision
        )
        rollback = self.backend.deployments[rollback_id]
        rollback.creator = "codeDeployRollback"
        rollback.status, rollback.start_time, rollback.complete_time = "Succeeded", self.clock.now(), self.clock.now()
        self.backend.sandbox_state.deployments[rollback_id].rollback = {
            "rollbackTriggeringDeploymentId": run.deployment_id,
            "rollbackMessage": f"Rollback of deployment {run.deployment_id}",
        }
        return rollback_id

    def _emit(self, run: _Run, state: str) -> None:
        deployment = self.backend.deployments[run.deployment_id]
        self.emit(
            deployment_state_event(deployment, state, region=self.region, account=self.account_id, now=self.clock.now())
        )


def router_invoker(sandbox: Sandbox) -> Invoker:
    """Hooks named by FunctionName (or logical id) run as the template's functions, through the sandbox's router.

    The handler's error is raised (a function error: the deployer retries it); each delivery is kept
    in `sandbox.deliveries`. With `Deployer(router_invoker(sandbox), emit=sandbox.deliver)` the
    deployment's state-change events also reach the template's rules.
    """

    def invoke(function: str, payload: dict[str, Any]) -> Any:
        specs = [s for s in sandbox.router.enabled_functions if function in (s.function_name, s.logical_id)]
        if not specs:
            raise LookupError(f"no deployed function named {function} in the template")
        invocation = sandbox.router.invoke_recorded(specs[0].logical_id, payload, env_overrides=sandbox.function_env())
        sandbox.deliveries.append(invocation)
        if invocation.error is not None:
            raise invocation.error
        return invocation.result

    return invoke


def _appspec(backend: codedeploy.SandboxCodeDeployBackend, deployment: Any) -> dict[str, Any]:
    """The deployment's AppSpec (YAML or JSON), from the revision CodeDeploy stored."""
    revision = backend.get_application_revision(deployment.application_name, deployment.revision).location
    body = revision.get("appSpecContent") or revision.get("string") or {}
    loaded = yaml.safe_load(str(body.get("content") or "{}"))
    if not isinstance(loaded, dict):
        raise ValueError("the deployment's AppSpec is not a mapping")
    return loaded


def _get(mapping: Mapping[str, Any], key: str) -> Any:
    """An AppSpec key in any case: the user guide writes them both capitalised and in lower case."""
    return next((value for name, value in mapping.items() if str(name).lower() == key.lower()), None)


def _lambda_resource(appspec: Mapping[str, Any]) -> dict[str, str]:
    resources = _get(appspec, "resources") or [{}]
    (spec,) = resources[0].values()
    properties = _get(spec, "properties") or {}
    wanted = ("name", "alias", "currentversion", "targetversion")
    return {key: str(_get(properties, key)) for key in wanted}


def _event_name(name: str) -> str:
    for known in SCRIPTED:
        if known.lower() == str(name).lower():
            return known
    return str(name)


def _steps(config_name: str) -> list[tuple[int, int]]:
    """(percent to green, minutes to wait) for a predefined configuration; AllAtOnce and custom: one step."""
    match = _STEPPED.search(config_name)
    if match is None:
        return [(100, 0)]
    kind, percent, minutes = match[1], int(match[2]), int(match[3])
    if kind == "Canary":
        return [(percent, minutes), (100, 0)]
    return [(p, minutes) for p in range(percent, 100, percent)] + [(100, 0)]


def _task_set(label: str, target_group_arn: str, weight: float, status: str) -> dict[str, Any]:
    name = target_group_arn.split("/")[-2] if "/" in target_group_arn else target_group_arn
    return {
        "identifer": f"ecs-svc/{abs(hash((label, target_group_arn))) % 10**19:019d}",
        "desiredCount": 2,
        "pendingCount": 0,
        "runningCount": 2,
        "status": status,
        "trafficWeight": weight,
        "targetGroup": {"name": name},
        "taskSetLabel": label,
    }


def _name(hook: HookTarget) -> str:
    return hook if isinstance(hook, str) else getattr(hook, "__name__", type(hook).__name__)
