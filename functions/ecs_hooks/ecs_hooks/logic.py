"""One ECS lifecycle hook invocation: read, verify the carried state, load the spec, run the engine, answer ECS."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from codereflex.aws.ecs import BlueGreenService
from codereflex.errors import BadEvent, CodeReflexError
from codereflex.events.ecs_lifecycle import EcsLifecycleHookEvent
from codereflex.report import Count, Level, Line, Report
from codereflex.signing import Signer
from codereflex.validation import engine, publish, report
from codereflex.validation import ports as checks
from codereflex.validation.plan import HOOK_LIMIT_S, RUN_OVERHEAD_S
from codereflex.validation.semantics import HookVerdict, Measurement, failed, unanswered
from codereflex.validation.spec import Spec, SpecError, load

from .state import KEY, Carried, ForgedState, seal, unseal

# The CodeDeploy hook each native stage stands for, so a team's spec keeps its hook names. The stages
# ECS runs while traffic moves (and again on rollback) and RECONCILE_SERVICE have none: FAILED, named.
STAGE_HOOKS: Mapping[str, str] = {
    "PRE_SCALE_UP": "BeforeInstall",
    "POST_SCALE_UP": "AfterInstall",
    "POST_TEST_TRAFFIC_SHIFT": "AfterAllowTestTraffic",
    "PRE_PRODUCTION_TRAFFIC_SHIFT": "BeforeAllowTraffic",
    "POST_PRODUCTION_TRAFFIC_SHIFT": "AfterAllowTraffic",
}
MAX_CALLBACK_S = 900
PUBLISH_ATTEMPTS = 3  # a decided success whose report cannot be stored is asked again this often, then FAILED
RETRY_CALLBACK_S = 30


class SpecSource(Protocol):
    def get_bytes(self, key: str) -> bytes | None: ...


class Services(Protocol):
    def service(self, cluster: str, service: str) -> BlueGreenService: ...


class Ports(NamedTuple):
    specs: SpecSource
    services: Services
    checks: checks.Ports
    publishing: publish.Ports
    signer: Signer


class Outcome(NamedTuple):
    response: Mapping[str, Any]
    lines: tuple[Line, ...] = ()
    counts: tuple[Count, ...] = ()

    def report(self) -> Report:
        return Report(self.response, self.lines, self.counts)


def spec_keys(cluster: str, service: str) -> tuple[str, str]:
    """Where a service's spec is kept in the validation bucket (YAML first, then JSON)."""
    return f"specs/{cluster}/{service}.yaml", f"specs/{cluster}/{service}.json"


def handle(raw: Any, ports: Ports, remaining_s: float, run_seconds: float = 900) -> Outcome:
    """Answer ECS: SUCCEEDED only on a decided success; IN_PROGRESS with the signed state; FAILED with a reason."""
    try:
        event = EcsLifecycleHookEvent.read(raw)
    except BadEvent as error:
        line = Line("Event rejected", {"reason": error.reason, "error": str(error)}, "error")
        return Outcome(_failed(str(error)), (line,), (Count("Rejected"), Count(f"Rejected.{error.reason}")))
    return _Invocation(event, ports, remaining_s, run_seconds).run()


class _Invocation:
    def __init__(self, event: EcsLifecycleHookEvent, ports: Ports, remaining_s: float, run_seconds: float) -> None:
        self.event, self.ports, self.run_seconds = event, ports, run_seconds
        self.started = ports.checks.clock.now()
        self.ends = self.started + remaining_s
        self.lines: list[Line] = []
        self.counts: list[Count] = []
        self.spec: Spec | None = None

    def run(self) -> Outcome:
        event = self.event
        hook = STAGE_HOOKS.get(event.stage)
        if hook is None:
            stages = ", ".join(STAGE_HOOKS)
            return self._fail(f"lifecycle stage {event.stage} has no CodeDeploy hook a spec can name (use {stages})")
        try:
            carried = unseal(self.ports.signer, event)
        except ForgedState as error:
            self.counts.append(Count("ForgedState"))
            return self._fail(str(error))
        if carried is None and KEY in event.hook_details:
            self.lines.append(Line("State of another execution ignored", {"for": event.hook_details[KEY].get("for")}))
        try:
            self.spec = self._load_spec()
            found = self.ports.services.service(event.cluster, event.service)
        except CodeReflexError as error:
            return self._fail(str(error))
        started_at = carried.state.started_at if carried else self.started
        result = engine.run(
            self.spec,
            hook,
            context_of(event, found, hook),
            self.ports.checks,
            run_deadline=self.ends - self.spec.run_margin_seconds - RUN_OVERHEAD_S,
            hook_deadline=started_at + HOOK_LIMIT_S - self.spec.hook_margin_seconds,
            state=carried.state if carried else None,
        )
        earlier = len(carried.state.measurements) if carried else 0
        if isinstance(result, engine.Continue):
            self._log_measurements(result.state.measurements[earlier:], result.state)
            wait = result.state.next_at - self.ports.checks.clock.now()
            return self._in_progress(Carried(result.state), _delay(wait))
        measured = result.state.measurements if result.state else ()
        self._log_measurements(measured[earlier:], result.state)
        verdict = result.verdict
        if verdict.asks:  # Failed already; said plainly, since nobody is asked here
            verdict = unanswered(verdict, "ECS native hooks cannot ask a person: only CodeDeploy's hooks can")
        return self._decided(verdict, measured, result.state, carried)

    def _load_spec(self) -> Spec:
        for key in spec_keys(self.event.cluster, self.event.service):
            text = self.ports.specs.get_bytes(key)
            if text is not None:
                try:
                    spec = load(text, run_seconds=self.run_seconds)
                except SpecError as error:
                    raise SpecError([f"{key}: {p}" for p in error.problems]) from None
                if spec.platform != "ecs":
                    raise SpecError([f"{key}: the spec is for platform {spec.platform}, not ecs"])
                return spec
        yaml_key, json_key = spec_keys(self.event.cluster, self.event.service)
        raise SpecError([f"the validation bucket has no spec at {yaml_key} or {json_key}"])

    def _decided(
        self,
        verdict: HookVerdict,
        measured: Sequence[Measurement],
        state: engine.State | None,
        carried: Carried | None,
    ) -> Outcome:
        document = report.report(verdict, measured, self._meta(state))
        summary = publish.redacted(report.summary(verdict, measured, self._meta(state)))
        self.lines.append(Line("Hook decided", summary, _level(verdict)))
        try:
            published = publish.publish(document, self._subject(), self.ports.publishing)
        except CodeReflexError as error:
            self.lines.append(Line("Report not published", {"error": str(error)}, "error"))
            self.counts.append(Count("ReportsNotPublished"))
            attempts = (carried.publish_attempts if carried else 0) + 1
            if verdict.status == "Succeeded" and state is not None and attempts < PUBLISH_ATTEMPTS:
                # The verdict is in the signed state: the next invocation decides it again and publishes.
                return self._in_progress(Carried(state, attempts), RETRY_CALLBACK_S)
            reason = verdict.reason if verdict.status == "Failed" else f"the report could not be stored: {error}"
            return self._answer(_failed(reason))
        self.lines.append(Line("Report published", {"json": published.json_key, "html": published.html_key}))
        # Both must say Succeeded: a stored report of this execution and this run's own verdict.
        if published.verdict == "Succeeded" and verdict.status == "Succeeded":
            return self._answer({"hookStatus": "SUCCEEDED"})
        return self._answer(_failed(published.reason if published.verdict != "Succeeded" else verdict.reason))

    def _fail(self, reason: str) -> Outcome:
        """Every path without a verdict from the checks: a Failed report with the reason, published, and FAILED."""
        return self._decided(failed(reason), (), None, None)

    def _in_progress(self, carried: Carried, delay: int) -> Outcome:
        try:
            details = {"codereflex": seal(self.ports.signer, self.event, carried)}
        except ValueError as error:
            return self._fail(str(error))
        self.lines.append(Line("Hook continues", {"callBackDelay": delay, "runs": carried.state.runs}))
        return self._answer({"hookStatus": "IN_PROGRESS", "callBackDelay": delay, "hookDetails": details})

    def _answer(self, response: Mapping[str, Any]) -> Outcome:
        return Outcome(response, tuple(self.lines), tuple(self.counts))

    def _meta(self, state: engine.State | None) -> report.Meta:
        spec = self.spec
        return report.Meta(
            deployment_id=self.event.deployment_id,
            hook_execution_id=self.event.execution_id,
            hook=self.event.stage,
            spec_name=spec.name if spec else "",
            spec_sha256=spec.sha256 if spec else "",
            started_at=state.started_at if state else self.started,
            ended_at=self.ports.checks.clock.now(),
            runs=state.runs if state else 1,
        )

    def _subject(self) -> publish.Subject:
        event = self.event
        execution = event.execution_id
        weight = event.production_weights.get(event.target_revision_arn)
        if weight is not None:  # one report per traffic step, whatever ids ECS gives the steps
            execution += f"-at{weight:g}"
        return publish.Subject.ecs_native(event.cluster, event.service, event.deployment_id, event.stage, execution)

    def _log_measurements(self, measured: Sequence[Measurement], state: engine.State | None) -> None:
        for line in report.measurement_lines(measured, self._meta(state)):
            self.lines.append(Line("Measurement", publish.redacted(line)))


def context_of(event: EcsLifecycleHookEvent, found: BlueGreenService, hook: str) -> dict[str, Any]:
    """What a spec's templates resolve from: the deployment, the listeners, blue's and green's target groups."""
    fleet = {"desiredCount": found.desired_count}
    listeners: dict[str, Any] = {"prodListener": {"arn": found.production.arn, "url": found.production.url}}
    if found.test is not None:
        listeners["testListener"] = {"arn": found.test.arn, "url": found.test.url}
    return {
        "deployment": {
            "id": event.deployment_id,
            "application": event.cluster,
            "group": event.service,
            "alarms": list(found.alarms),
        },
        "hook": hook,
        "hookExecutionId": event.execution_id,
        "ecs": {
            "cluster": event.cluster,
            "service": event.service,
            **listeners,
            "loadBalancer": {"dimension": found.production.load_balancer_arn.split(":loadbalancer/")[-1]},
            "blue": {**fleet, **_group(found.blue_target_group)},
            "green": {**fleet, **_group(found.green_target_group)},
        },
    }


def _group(arn: str) -> dict[str, str]:
    # CloudWatch's TargetGroup dimension is the ARN's resource part: targetgroup/<name>/<id>.
    return {"targetGroupArn": arn, "targetGroupDimension": arn.rsplit(":", maxsplit=1)[-1]} if arn else {}


def _failed(reason: str) -> dict[str, Any]:
    # ECS reads hookStatus; hookDetails is the documented place for data, so the reason rides there.
    return {"hookStatus": "FAILED", "hookDetails": {"codereflex": {"reason": reason}}}


def _delay(seconds: float) -> int:
    return max(1, min(MAX_CALLBACK_S, math.ceil(seconds)))


def _level(verdict: HookVerdict) -> Level:
    return "info" if verdict.status == "Succeeded" else "warning"
