"""Runners of the lambdaInvoke, cloudwatchMetric, cloudwatchAlarm and targetHealth checks."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from codereflex.redact import redact
from codereflex.validation import stats
from codereflex.validation.assertions import comparison, remove_paths, text_assertion
from codereflex.validation.runner import Env, Step, no_data
from codereflex.validation.semantics import Measurement, Outcome
from codereflex.validation.spec import Check

CALL_S = 10.0  # the most one AWS read may take, its bounded retries included (the client's timeouts)
_CONDITION = re.compile(
    r"^\s*(max|min|avg|sum|last|count|p[0-9]{1,2})\(\s*([A-Za-z0-9_]+)\s*\)\s*((?:<=|<|>=|>|==|!=)\s*-?[0-9.]+)\s*$"
)
_VERSION = re.compile(r"^[1-9][0-9]*$")


class LambdaRunner:
    """Each slot is one (case, repeat): the target version invoked (never the alias), and optionally the current one."""

    def problems(self, body: Mapping[str, Any]) -> list[str]:
        found = []
        for key, value in (
            ("qualifier", body["qualifier"]),
            ("differential.qualifier", body.get("differential", {}).get("qualifier")),
        ):
            if value is not None and not _VERSION.match(str(value)):
                found.append(f"{key} {str(value)[:64]!r} is not a version number (an alias could run another version)")
        return found

    def slots(self, body: Mapping[str, Any]) -> int:
        return len(body["cases"]) * int(body.get("repeat", 1))

    def interval_s(self, body: Mapping[str, Any]) -> float:
        return int(body.get("intervalMs", 0)) / 1000

    def slot_s(self, body: Mapping[str, Any]) -> float:
        calls = 2 if "differential" in body else 1
        return max(self.interval_s(body), calls * int(body.get("timeoutMs", 30000)) / 1000)

    def grace_s(self, body: Mapping[str, Any]) -> float:
        return 0.0

    def measure(self, check: Check, body: Mapping[str, Any], slot: int, env: Env) -> Step:
        case = body["cases"][slot % len(body["cases"])]
        payload = json.dumps(case.get("payload", {})).encode()
        target = str(body["qualifier"])
        at = env.ports.clock.now()
        per_slot = 2 if "differential" in body else 1
        index = slot * per_slot
        got = env.ports.lambdas.invoke(str(body["function"]), target, payload)
        data = {"case": case["name"], "qualifier": target, "executedVersion": got.executed_version}
        broken = _broken(case.get("expect", {}), got, target)
        reason = None if broken is None else redact(broken)  # it may quote the response
        outcome: Outcome = "fail" if reason else "pass"
        first = Measurement(
            check.name,
            index,
            outcome,
            f"case {case['name']}: {reason or 'as expected'}",
            got.executed_version,
            None,
            False,
            False,
            got.duration_ms,
            at,
            data,
        )
        if "differential" not in body:
            return Step((first,))
        current = str(body["differential"]["qualifier"])
        base = env.ports.lambdas.invoke(str(body["function"]), current, payload)
        ignore = [str(p) for p in body["differential"].get("ignore", [])]
        second = _differ(check, index + 1, case["name"], got.payload, base, current, ignore, at)
        return Step((first, second))

    def finish(
        self, check: Check, body: Mapping[str, Any], measured: Sequence[Measurement], env: Env
    ) -> list[Measurement]:
        return []


def _broken(expect: Mapping[str, Any], got: Any, target: str) -> str | None:
    if got.executed_version != target:
        return f"ExecutedVersion {got.executed_version}, not {target}"
    if got.function_error:
        return f"FunctionError {got.function_error}"
    if "durationMs" in expect:
        bound = comparison(expect["durationMs"])
        if not bound.holds(got.duration_ms):
            return f"duration {got.duration_ms:.0f} ms {bound.broken()} ms"
    text = got.payload.decode("utf-8", errors="replace")
    for assertion in expect.get("body", []):
        broken = text_assertion(assertion, text, "response")
        if broken:
            return broken
    return None


def _differ(  # noqa: PLR0917 - one call site, every argument named there
    check: Check, index: int, case: str, green: bytes, base: Any, version: str, ignore: list[str], at: float
) -> Measurement:
    if base.executed_version != version or base.function_error:
        why = (
            f"case {case}: baseline version {version} gave ExecutedVersion {base.executed_version}, "
            f"FunctionError {base.function_error}"
        )
        return Measurement(check.name, index, "error", why, at=at)
    try:
        same = remove_paths(json.loads(green), ignore) == remove_paths(json.loads(base.payload), ignore)
    except ValueError:
        same = green == base.payload
    if same:
        return Measurement(check.name, index, "pass", f"case {case}: same response as version {version}", at=at)
    return Measurement(check.name, index, "fail", f"case {case}: response differs from version {version}", at=at)


def metric_window(window: Mapping[str, Any], now: float) -> tuple[datetime, datetime]:
    """[start, end) aligned to the period, ending `endOffsetSeconds` ago (the still-filling minute is skipped)."""
    period = int(window["periodSeconds"])
    end_s = now - int(window.get("endOffsetSeconds", 60))
    end_s -= end_s % period
    end = datetime.fromtimestamp(end_s, UTC)
    return end - timedelta(seconds=int(window["lookbackSeconds"])), end


def query_of(query: Mapping[str, Any], period: int, return_data: bool | None = None) -> dict[str, Any]:
    """The spec's friendlier query as GetMetricData's MetricDataQuery."""
    shaped: dict[str, Any] = {
        "Id": str(query["id"]),
        "ReturnData": bool(query.get("returnData", True) if return_data is None else return_data),
    }
    if "expression" in query:
        shaped["Expression"] = str(query["expression"])
        shaped["Period"] = period
        return shaped
    metric = query["metric"]
    dimensions = [{"Name": str(k), "Value": str(v)} for k, v in (metric.get("dimensions") or {}).items()]
    shaped["MetricStat"] = {
        "Metric": {"Namespace": str(metric["namespace"]), "MetricName": str(metric["name"]), "Dimensions": dimensions},
        "Period": period,
        "Stat": str(query["stat"]),
    }
    return shaped


_STATISTICS: Mapping[str, Callable[[Sequence[float]], float]] = {
    "max": max,
    "min": min,
    "avg": lambda values: sum(values) / len(values),
    "sum": lambda values: float(sum(values)),
    "last": lambda values: values[-1],  # the window is read oldest first
    "count": lambda values: float(len(values)),
}


def statistic(name: str, values: Sequence[float]) -> float:
    """A statistic of the window's datapoints: max, min, avg, sum, last, count or pNN (numpy's linear percentile)."""
    if name in _STATISTICS:
        return float(_STATISTICS[name](values))
    return stats.percentile(values, float(name[1:]))


class SampledRunner:
    """What the AWS reads share: `sampling.count` slots `sampling.intervalMs` apart (the check type's default),
    each slot one read that can take up to CALL_S, no aggregate after the slots, and no grace unless said."""

    default_interval_ms = 10000

    def problems(self, body: Mapping[str, Any]) -> list[str]:
        return []

    def slots(self, body: Mapping[str, Any]) -> int:
        return int(body["sampling"]["count"])

    def interval_s(self, body: Mapping[str, Any]) -> float:
        return int(body["sampling"].get("intervalMs", self.default_interval_ms)) / 1000

    def slot_s(self, body: Mapping[str, Any]) -> float:
        return max(self.interval_s(body), CALL_S)

    def grace_s(self, body: Mapping[str, Any]) -> float:
        return 0.0

    def finish(
        self, check: Check, body: Mapping[str, Any], measured: Sequence[Measurement], env: Env
    ) -> list[Measurement]:
        return []


class MetricRunner(SampledRunner):
    """Each slot reads the window once (every page) and judges the condition; partial data is never decided on."""

    default_interval_ms = 60000

    def measure(self, check: Check, body: Mapping[str, Any], slot: int, env: Env) -> Step:
        at = env.ports.clock.now()
        start, end = metric_window(body["window"], at)
        period = int(body["window"]["periodSeconds"])
        data = env.ports.metrics.metric_data([query_of(q, period) for q in body["queries"]], start, end)
        match = _CONDITION.match(str(body["condition"]))
        if match is None:  # the schema's pattern admits only what this matches
            raise ValueError(f"condition {body['condition']!r} does not parse")
        stat, query_id, bound = match.group(1), match.group(2), comparison(match.group(3))
        label = f"{stat}({query_id})"
        if not data.complete:
            return Step(
                (
                    Measurement(
                        check.name, slot, "error", f"{label}: GetMetricData returned {data.status}, not deciding", at=at
                    ),
                )
            )
        values = [value for _, value in data.series.get(query_id, ())]
        if any(not math.isfinite(v) for v in values):
            return Step(
                (Measurement(check.name, slot, "inconclusive", f"{label}: a datapoint is not a finite number", at=at),)
            )
        minimum = int(body.get("minDatapoints", 1))
        if len(values) < minimum:
            return Step((no_data(check, slot, f"{label}: {len(values)} datapoint(s) < minDatapoints {minimum}", at),))
        observed = statistic(stat, values)
        fields = {"datapoints": len(values), "window": [start.isoformat(), end.isoformat()]}
        if bound.holds(observed):
            return Step(
                (
                    Measurement(
                        check.name,
                        slot,
                        "pass",
                        f"{label} {observed:g} {bound}",
                        observed,
                        str(bound),
                        at=at,
                        data=fields,
                    ),
                )
            )
        reason = f"{label} {observed:g} {bound.broken()}"
        return Step((Measurement(check.name, slot, "fail", reason, observed, str(bound), at=at, data=fields),))


class AlarmRunner(SampledRunner):
    """Each slot reads every alarm's state: one outside acceptStates fails; INSUFFICIENT_DATA waits out its grace."""

    def grace_s(self, body: Mapping[str, Any]) -> float:
        return float(body.get("insufficientDataGraceSeconds", 0))

    def measure(self, check: Check, body: Mapping[str, Any], slot: int, env: Env) -> Step:
        at = env.ports.clock.now()
        names = alarm_names(body, env.context)
        if not names:
            return Step((no_data(check, slot, "no alarms to watch (the deployment group has none, none named)", at),))
        states = env.ports.alarms.alarm_states(names)
        missing = [name for name in names if name not in states]
        if missing:
            return Step((Measurement(check.name, slot, "error", f"alarm {missing[0]} does not exist", at=at),))
        accepted = set(body.get("acceptStates", ["OK"]))
        data = {"states": {name: states[name].state for name in names}}
        for name in names:
            state = states[name].state
            if state in accepted:
                continue
            if state == "INSUFFICIENT_DATA":
                grace = self.grace_s(body)
                if at - env.started_at < grace:
                    return Step(pending=True, note=f"alarm {name} INSUFFICIENT_DATA within its {grace:g} s grace")
                why = f"alarm {name} is INSUFFICIENT_DATA after {grace:g} s grace"
                return Step((no_data(check, slot, why, at, value=state, threshold="OK", data=data),))
            return Step(
                (
                    Measurement(
                        check.name,
                        slot,
                        "fail",
                        f"alarm {name} is {state}",
                        state,
                        " or ".join(sorted(accepted)),
                        at=at,
                        data=data,
                    ),
                )
            )
        return Step(
            (
                Measurement(
                    check.name, slot, "pass", f"{len(names)} alarm(s) {' or '.join(sorted(accepted))}", at=at, data=data
                ),
            )
        )


def alarm_names(body: Mapping[str, Any], context: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    if body["alarms"].get("fromDeploymentGroup"):
        deployment: Mapping[str, Any] = next((v for k, v in context.items() if k.casefold() == "deployment"), {})
        names += [str(n) for n in (deployment.get("alarms") or [])]
    names += [str(n) for n in body["alarms"].get("names", [])]
    return list(dict.fromkeys(names))


class TargetRunner(SampledRunner):
    """Each slot reads the target group's health: enough healthy targets, and `initial` only within its grace."""

    def problems(self, body: Mapping[str, Any]) -> list[str]:
        minimum = body.get("minTargets", 1)
        if not isinstance(minimum, int) and not str(minimum).isdigit():
            return [f"minTargets {str(minimum)[:32]!r} is not a number"]
        return []

    def grace_s(self, body: Mapping[str, Any]) -> float:
        return float(body.get("initialGraceSeconds", 0))

    def measure(self, check: Check, body: Mapping[str, Any], slot: int, env: Env) -> Step:
        at = env.ports.clock.now()
        targets = env.ports.targets.target_health(str(body["targetGroup"]))
        if not targets:
            return Step((no_data(check, slot, "no targets registered in the target group", at),))
        data = {"targets": {t.target: t.state for t in targets}}
        starting = [t for t in targets if t.state == "initial"]
        grace = self.grace_s(body)
        if starting and at - env.started_at < grace:
            return Step(pending=True, note=f"{len(starting)} target(s) initial within the {grace:g} s grace")
        healthy = sum(1 for t in targets if t.state == "healthy")
        share = 100 * healthy / len(targets)
        minimum = int(body.get("minTargets", 1))
        wanted = float(body.get("minHealthyPercent", 100))
        shown = f"{healthy} of {len(targets)} targets healthy"
        if healthy >= minimum and share >= wanted:
            return Step((Measurement(check.name, slot, "pass", shown, share, f">= {wanted:g}%", at=at, data=data),))
        worst = next((t for t in targets if t.state != "healthy"), targets[0])
        why = f"{shown} (< {minimum} or < {wanted:g}%): {worst.target} {worst.state}" + (
            f" {worst.reason}" if worst.reason else ""
        )
        return Step(
            (Measurement(check.name, slot, "fail", why, share, f">= {wanted:g}% and >= {minimum}", at=at, data=data),)
        )
