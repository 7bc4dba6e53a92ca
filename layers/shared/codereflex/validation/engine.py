"""Run a hook's checks against its deployment: slot by slot, fail fast, resumable across Lambda runs."""

from __future__ import annotations

import json
from types import MappingProxyType
from collections.abc import Mapping
from typing import Any, NamedTuple

from codereflex.errors import CodeReflexError
from codereflex.validation.plan import RUNNERS
from codereflex.validation.ports import Ports
from codereflex.validation.runner import Env, Step
from codereflex.validation.semantics import CheckResult, Counts, HookVerdict, Measurement, decide, evaluate, failed
from codereflex.validation.spec import Spec, canonical_hook
from codereflex.validation.templates import UnresolvedTemplate, resolve

STATE_VERSION = 1
MAX_ERROR_TEXT = 200


class State(NamedTuple):
    """Where a hook's validation stands, JSON-able: what a later run needs to continue exactly where this stopped."""

    spec_sha256: str
    hook: str
    started_at: float
    check_index: int = 0
    slot: int = 0
    check_started_at: float | None = None
    next_at: float = 0.0
    measurements: tuple[Measurement, ...] = ()
    results: tuple[CheckResult, ...] = ()
    samples: Mapping[str, Any] = MappingProxyType({})
    runs: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": STATE_VERSION,
                "specSha256": self.spec_sha256,
                "hook": self.hook,
                "startedAt": self.started_at,
                "checkIndex": self.check_index,
                "slot": self.slot,
                "checkStartedAt": self.check_started_at,
                "nextAt": self.next_at,
                "measurements": [m.record() for m in self.measurements],
                "results": [r.record() for r in self.results],
                "samples": dict(self.samples),
                "runs": self.runs,
            },
            separators=(",", ":"),
            allow_nan=False,
        )

    @classmethod
    def from_json(cls, text: str) -> State:
        raw = json.loads(text)
        if raw.get("version") != STATE_VERSION:
            raise ValueError(f"state version {raw.get('version')!r} is not {STATE_VERSION}")
        return cls(
            spec_sha256=str(raw["specSha256"]),
            hook=str(raw["hook"]),
            started_at=float(raw["startedAt"]),
            check_index=int(raw["checkIndex"]),
            slot=int(raw["slot"]),
            check_started_at=raw.get("checkStartedAt"),
            next_at=float(raw.get("nextAt", 0.0)),
            measurements=tuple(Measurement.from_record(m) for m in raw["measurements"]),
            results=tuple(_result_from(r) for r in raw["results"]),
            samples=dict(raw.get("samples") or {}),
            runs=int(raw.get("runs", 0)),
        )


def _result_from(record: Mapping[str, Any]) -> CheckResult:
    deciding = record.get("deciding")
    return CheckResult(
        name=str(record["check"]),
        status=record["status"],
        reason=str(record["reason"]),
        counts=Counts(**record["counts"]),
        deciding=None if deciding is None else Measurement.from_record(deciding),
        effective=record["effective"],
        gating=bool(record["gating"]),
        warning=record.get("warning"),
    )


class Done(NamedTuple):
    verdict: HookVerdict
    state: State | None


class Continue(NamedTuple):
    """The run's time is up before the plan is: hand `state` to the next run."""

    state: State


def run(
    spec: Spec,
    hook: str,
    context: Mapping[str, Any],
    ports: Ports,
    *,
    run_deadline: float,
    hook_deadline: float,
    state: State | None = None,
) -> Done | Continue:
    """Measure until the verdict is decided or this run's deadline; every undecided path is a Failed verdict."""
    hook = canonical_hook(hook)
    checks = spec.for_hook(hook)
    if not checks:
        return Done(failed(f"the spec has no checks for {hook}"), state)
    try:
        known = {**context, **resolve(dict(spec.vars), context, "$.vars")}
        bodies = [resolve(dict(check.body), known, f"$.checks.{check.name}") for check in checks]
    except UnresolvedTemplate as error:
        return Done(failed(str(error)), state)
    problems = [f"check {c.name}: {p}" for c, b in zip(checks, bodies, strict=True) for p in RUNNERS[c.type].problems(b)]
    if problems:
        return Done(failed("; ".join(problems)), state)
    now = ports.clock.now()
    state = state or State(spec.sha256, hook, now)
    if state.spec_sha256 != spec.sha256 or state.hook != hook:
        return Done(failed("the spec changed while this hook was being validated"), state)
    state = state._replace(runs=state.runs + 1)
    samples: dict[str, Any] = json.loads(json.dumps(dict(state.samples)))
    results = list(state.results)
    measured = list(state.measurements)
    for index in range(state.check_index, len(checks)):
        check, body, runner = checks[index], bodies[index], RUNNERS[checks[index].type]
        fresh = index != state.check_index or state.check_started_at is None
        slot = 0 if fresh else state.slot
        started = ports.clock.now() if fresh else float(state.check_started_at or 0)
        next_at = 0.0 if fresh else state.next_at
        own = [m for m in measured if m.check == check.name]
        env = Env(ports, known, started, samples)
        result: CheckResult | None = None
        while slot < runner.slots(body):
            now = ports.clock.now()
            wait = max(0.0, next_at - now)
            if now + wait + runner.slot_s(body) > hook_deadline:
                result = evaluate(check, own, complete=True, missing="the hook's deadline came first")
                break
            if now + wait + runner.slot_s(body) > run_deadline:
                cursor = state._replace(check_index=index, slot=slot, check_started_at=started, next_at=next_at,
                                        measurements=tuple(measured), results=tuple(results), samples=samples)  # fmt: skip
                return Continue(cursor)
            if wait:
                ports.clock.sleep(wait)
            began = ports.clock.now()
            step = _measure(runner, check, body, slot, env, began)
            next_at = began + runner.interval_s(body)
            if step.pending:
                next_at = began + max(runner.interval_s(body), 1.0)  # within a grace period: poll, never spin
                continue
            own += step.measurements
            measured += step.measurements
            result = evaluate(check, own, complete=False)
            if result.status != "running":
                break
            result = None
            if not (step.measurements and all(m.outcome == "error" for m in step.measurements)):
                slot += 1  # an error is measured again (up to consecutiveErrorLimit in a row), a slot it is not
        if result is None:
            try:
                extra = runner.finish(check, body, own, env)
            except (CodeReflexError, ValueError) as error:
                extra = [Measurement(check.name, len(own), "error", _error_text(error), aggregate=True, at=ports.clock.now())]
            own += extra
            measured += extra
            result = evaluate(check, own, complete=True)
        results.append(result)
        if result.gating and result.effective == "failed":
            break  # the first failed gating check ends the hook at once
    final = state._replace(check_index=len(checks), slot=0, check_started_at=None, measurements=tuple(measured),
                           results=tuple(results), samples=samples)  # fmt: skip
    return Done(decide(results, sum(1 for c in checks if c.gating)), final)


def _measure(runner: Any, check: Any, body: Mapping[str, Any], slot: int, env: Env, at: float) -> Step:
    try:
        step: Step = runner.measure(check, body, slot, env)
    except (CodeReflexError, OSError, ValueError) as error:
        # Our tooling failed (after the adapter's bounded retries): an error, measured again if the limit allows.
        return Step((Measurement(check.name, slot, "error", _error_text(error), at=at),))
    return step


def _error_text(error: Exception) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 1] + "…"
