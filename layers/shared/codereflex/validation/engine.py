"""Run a hook's checks against its deployment: slot by slot, fail fast, resumable across Lambda runs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from codereflex.errors import CodeReflexError, ConfigurationError
from codereflex.validation.plan import RUNNERS
from codereflex.validation.ports import Ports
from codereflex.validation.runner import Env, Runner, Step
from codereflex.validation.semantics import (
    CheckResult,
    Counts,
    HookVerdict,
    Measurement,
    Tally,
    decide,
    evaluate,
    failed,
)
from codereflex.validation.spec import Check, Spec, canonical_hook
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
        """The state a run left; ValueError (never another exception) for anything that is not one."""
        try:
            return cls._read(json.loads(text))
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not a validation state ({type(error).__name__}: {str(error)[:80]})") from None

    @classmethod
    def _read(cls, raw: Any) -> State:
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


class _Prepared(NamedTuple):
    hook: str
    checks: tuple[Check, ...]
    context: Mapping[str, Any]
    bodies: list[Mapping[str, Any]]


def _prepare(spec: Spec, hook: str, context: Mapping[str, Any]) -> _Prepared | HookVerdict:
    """The hook's checks with their templates resolved, or the Failed verdict saying why they cannot run."""
    try:
        hook = canonical_hook(hook)
    except ConfigurationError as error:
        return failed(str(error))
    checks = spec.for_hook(hook)
    if not checks:
        return failed(f"the spec has no checks for {hook}")
    try:
        known = {**context, **resolve(dict(spec.vars), context, "$.vars")}
        bodies = [resolve(dict(check.body), known, f"$.checks.{check.name}") for check in checks]
    except UnresolvedTemplate as error:
        return failed(str(error))
    problems = [
        f"check {c.name}: {p}" for c, b in zip(checks, bodies, strict=True) for p in RUNNERS[c.type].problems(b)
    ]
    if problems:
        return failed("; ".join(problems))
    return _Prepared(hook, checks, known, bodies)


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
    prepared = _prepare(spec, hook, context)
    if isinstance(prepared, HookVerdict):
        return Done(prepared, state)
    checks = prepared.checks
    state = state or State(spec.sha256, prepared.hook, ports.clock.now())
    if state.spec_sha256 != spec.sha256 or state.hook != prepared.hook:
        return Done(failed("the spec changed while this hook was being validated"), state)
    walk = _Walk(state._replace(runs=state.runs + 1), ports, prepared.context, run_deadline, hook_deadline)
    for index in range(state.check_index, len(checks)):
        result = walk.check(index, checks[index], prepared.bodies[index])
        if isinstance(result, Continue):
            return result
        walk.results.append(result)
        if result.gating and result.effective == "failed":
            break  # the first failed gating check ends the hook at once
    return Done(decide(walk.results, sum(1 for c in checks if c.gating)), walk.cursor(len(checks), 0, None, 0.0))


class _Walk:
    """One run's progress through a hook's checks."""

    def __init__(
        self, state: State, ports: Ports, context: Mapping[str, Any], run_deadline: float, hook_deadline: float
    ) -> None:
        self.state, self.ports, self.context = state, ports, context
        self.run_deadline, self.hook_deadline = run_deadline, hook_deadline
        self.samples: dict[str, Any] = json.loads(json.dumps(dict(state.samples)))
        self.results = list(state.results)
        self.measured = list(state.measurements)
        self.progressed = False  # whether this run has measured anything yet

    def cursor(self, index: int, slot: int, started: float | None, next_at: float) -> State:
        return self.state._replace(
            check_index=index,
            slot=slot,
            check_started_at=started,
            next_at=next_at,
            measurements=tuple(self.measured),
            results=tuple(self.results),
            samples=self.samples,
        )

    def _resume(self, index: int, check: Check) -> tuple[int, float, float, list[Measurement], Tally]:
        """Where the check stands: from the state when this run continues it, else from its start now."""
        own = [m for m in self.measured if m.check == check.name]
        tally = Tally(check)
        for m in own:  # counted again once per run: linear, however many slots
            tally.add(m)
        if index == self.state.check_index and self.state.check_started_at is not None:
            return self.state.slot, float(self.state.check_started_at), self.state.next_at, own, tally
        return 0, self.ports.clock.now(), 0.0, own, tally

    def _out_of_time(self, check: Check, own: list[Measurement], slot_s: float, wait: float) -> CheckResult | bool:
        """Whether the next slot (after `wait`) can still end in time: the hook's deadline ends the check
        (inconclusive: Failed); True: this run's deadline hands the rest to the next run."""
        now = self.ports.clock.now()
        if now + wait + slot_s > self.hook_deadline:
            return evaluate(check, own, complete=True, missing="the hook's deadline came first")
        if now + slot_s > self.run_deadline and not self.progressed:
            # A run too short for even one slot: every later run would be too, until the hour is up.
            return evaluate(check, own, complete=True, missing=f"one slot needs {slot_s:g} s, more than a run has")
        return now + wait + slot_s > self.run_deadline

    def check(self, index: int, check: Check, body: Mapping[str, Any]) -> CheckResult | Continue:
        runner, clock = RUNNERS[check.type], self.ports.clock
        slot, started, next_at, own, tally = self._resume(index, check)
        env = Env(self.ports, self.context, started, self.samples)
        while slot < runner.slots(body):
            wait = max(0.0, next_at - clock.now())
            stop = self._out_of_time(check, own, runner.slot_s(body), wait)
            if isinstance(stop, CheckResult):
                return stop
            if stop:
                return Continue(self.cursor(index, slot, started, next_at))
            if wait:
                clock.sleep(wait)
            began = clock.now()
            step = _measure(runner, check, body, slot, env, began)
            self.progressed = True
            # Within a grace period the same slot is polled again, at least a second apart (never a spin).
            next_at = began + (max(runner.interval_s(body), 1.0) if step.pending else runner.interval_s(body))
            if step.pending:
                continue
            own += step.measurements
            self.measured += step.measurements
            for m in step.measurements:
                ended = tally.add(m)
                if ended is not None:
                    return ended
            if not (step.measurements and all(m.outcome == "error" for m in step.measurements)):
                slot += 1  # an error is measured again (up to consecutiveErrorLimit in a row), a slot it is not
        try:
            extra = runner.finish(check, body, own, env)
        except (CodeReflexError, ValueError) as error:
            extra = [Measurement(check.name, len(own), "error", _error_text(error), aggregate=True, at=clock.now())]
        self.measured += extra
        return evaluate(check, own + extra, complete=True)


def _measure(runner: Runner, check: Check, body: Mapping[str, Any], slot: int, env: Env, at: float) -> Step:  # noqa: PLR0917
    try:
        step: Step = runner.measure(check, body, slot, env)
    except (CodeReflexError, OSError, ValueError) as error:
        # Our tooling failed (after the adapter's bounded retries): an error, measured again if the limit allows.
        return Step((Measurement(check.name, slot, "error", _error_text(error), at=at),))
    return step


def _error_text(error: Exception) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 1] + "…"
