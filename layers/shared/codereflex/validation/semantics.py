"""What measurements mean: a check's status from its limits, and the hook's verdict (stricter than Argo/Flagger)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from codereflex.validation.spec import Check

Outcome = Literal["pass", "fail", "inconclusive", "error"]
Status = Literal["running", "succeeded", "failed", "inconclusive", "error"]
MAX_REASON = 256


class Measurement(NamedTuple):
    """One observation of a check, ended as exactly one outcome, with what was seen and what was wanted."""

    check: str
    i: int  # its place in the check (slot or sample number; aggregates after the samples)
    outcome: Outcome
    reason: str
    value: float | str | None = None
    threshold: str | None = None
    aggregate: bool = False  # a statistic over samples (a percentile, a comparison): it decides by itself
    warmup: bool = False  # taken, reported, never scored
    duration_ms: float | None = None
    at: float = 0.0
    data: Mapping[str, Any] = MappingProxyType({})

    def record(self) -> dict[str, Any]:
        """The JSON-able record (one log line, one row of the report)."""
        return {
            "check": self.check,
            "i": self.i,
            "outcome": self.outcome,
            "reason": self.reason,
            "value": self.value,
            "threshold": self.threshold,
            "aggregate": self.aggregate,
            "warmup": self.warmup,
            "durationMs": None if self.duration_ms is None else round(self.duration_ms, 3),
            "at": round(self.at, 3),
            "data": dict(self.data),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Measurement:
        if record["outcome"] not in ("pass", "fail", "inconclusive", "error"):
            raise ValueError(f"outcome {str(record['outcome'])[:20]!r} is not one")
        return cls(
            check=str(record["check"]),
            i=int(record["i"]),
            outcome=record["outcome"],
            reason=str(record["reason"]),
            value=record.get("value"),
            threshold=record.get("threshold"),
            aggregate=bool(record.get("aggregate")),
            warmup=bool(record.get("warmup")),
            duration_ms=record.get("durationMs"),
            at=float(record.get("at", 0.0)),
            data=dict(record.get("data") or {}),
        )


class Counts(NamedTuple):
    passed: int = 0
    failed: int = 0
    inconclusive: int = 0
    errors: int = 0
    warmup: int = 0
    aggregates: int = 0  # of passed/failed/inconclusive: statistics over samples, not samples

    def as_dict(self) -> dict[str, int]:
        return dict(self._asdict())


class CheckResult(NamedTuple):
    """A check's status, the reason in one line, the measurement that decided it, and what that means for the hook."""

    name: str
    status: Status
    reason: str
    counts: Counts
    deciding: Measurement | None = None
    # "person": inconclusive, and the spec asks a person (onInconclusive person); Failed until one decides.
    effective: Literal["running", "succeeded", "failed", "person"] = "running"
    gating: bool = True
    warning: str | None = None

    def record(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "status": self.status,
            "effective": self.effective,
            "gating": self.gating,
            "reason": self.reason,
            "counts": self.counts.as_dict(),
            "deciding": None if self.deciding is None else self.deciding.record(),
            "warning": self.warning,
        }


def evaluate(check: Check, measurements: Sequence[Measurement], *, complete: bool, missing: str = "") -> CheckResult:
    """The check's status after `measurements` (in order). `complete`: no more will come (the plan ran out,
    or the deadline came: `missing` says why some are absent). Ends at the first limit crossed."""
    tally = Tally(check)
    for m in measurements:
        ended = tally.add(m)
        if ended is not None:
            return ended
    if not complete:
        return tally.running()
    return _final(check, measurements, tally.counts(), missing)


class Tally:
    """A check's counts and streaks, one measurement at a time (the engine adds each as it comes: linear)."""

    def __init__(self, check: Check) -> None:
        self.check = check
        self.passed = self.failed = self.inconclusive = self.errors = self.warmup = self.aggregates = 0
        self.fail_streak = self.error_streak = 0

    def counts(self) -> Counts:
        return Counts(self.passed, self.failed, self.inconclusive, self.errors, self.warmup, self.aggregates)

    def running(self) -> CheckResult:
        return CheckResult(self.check.name, "running", "measuring", self.counts(), gating=self.check.gating)

    def add(self, m: Measurement) -> CheckResult | None:  # noqa: C901, PLR0911 - one branch per outcome and limit
        """The check's end if `m` ends it, else None."""
        check, limits = self.check, self.check.limits
        if m.warmup:
            self.warmup += 1
            return None
        if m.aggregate and m.outcome != "error":
            self.aggregates += 1
        if m.outcome == "error":
            self.errors += 1
            self.error_streak += 1
            if self.error_streak > limits.consecutive_error_limit:
                why = f"{self.error_streak} errors in a row > consecutiveErrorLimit {limits.consecutive_error_limit}"
                return _result(check, "error", m, why, self.counts())
            return None
        self.error_streak = 0
        if m.outcome == "pass":
            self.passed += 1
            self.fail_streak = 0
            return None
        if m.outcome == "inconclusive":
            self.inconclusive += 1
            if m.aggregate or limits.on_inconclusive != "succeed":
                # Without this evidence the check cannot succeed: say so now instead of measuring on.
                return _result(check, "inconclusive", m, "", self.counts())
            return None
        self.failed += 1
        self.fail_streak += 1
        if m.aggregate:
            return _result(check, "failed", m, "", self.counts())
        if self.failed > limits.failure_limit:
            why = f"{self.failed} failures > failureLimit {limits.failure_limit}"
            return _result(check, "failed", m, why, self.counts())
        if limits.consecutive_failure_limit is not None and self.fail_streak >= limits.consecutive_failure_limit:
            why = f"{self.fail_streak} failures in a row, consecutiveFailureLimit {limits.consecutive_failure_limit}"
            return _result(check, "failed", m, why, self.counts())
        scored = self.passed + self.failed
        rate_judged = limits.max_failure_rate is not None and scored >= (limits.min_samples or check.planned)
        if rate_judged and self.failed / scored > float(limits.max_failure_rate or 0):
            why = f"failure rate {self.failed}/{scored} > maxFailureRate {limits.max_failure_rate:g}"
            return _result(check, "failed", m, why, self.counts())
        return None


def _final(check: Check, measurements: Sequence[Measurement], counts: Counts, missing: str) -> CheckResult:
    limits = check.limits
    existing = counts.passed + counts.failed + counts.inconclusive
    last = next((m for m in reversed(measurements) if not m.warmup), None)
    if check.planned <= 0:
        return _result(check, "inconclusive", None, "no measurements were planned", counts)
    if existing < check.planned:
        why = f"only {existing} of {check.planned} planned measurements" + (f" ({missing})" if missing else "")
        status: Status = "error" if last is not None and last.outcome == "error" and not missing else "inconclusive"
        return _result(check, status, None, why, counts)
    if counts.inconclusive:
        deciding = next(m for m in measurements if m.outcome == "inconclusive" and not m.warmup)
        return _result(check, "inconclusive", deciding, f"{counts.inconclusive} inconclusive", counts)
    scored = counts.passed + counts.failed
    if limits.min_samples is not None and scored < limits.min_samples:
        return _result(check, "inconclusive", None, f"{scored} samples < minSamples {limits.min_samples}", counts)
    if counts.passed == 0:
        return _result(check, "inconclusive", None, "no measurement passed", counts)
    tolerated = f", {counts.failed} failure(s) within failureLimit {limits.failure_limit}" if counts.failed else ""
    return _result(check, "succeeded", None, f"{counts.passed} of {check.planned} passed{tolerated}", counts)


def _result(check: Check, status: Status, deciding: Measurement | None, why: str, counts: Counts) -> CheckResult:
    samples = counts.passed + counts.failed + counts.inconclusive - counts.aggregates
    detail = f"check {check.name}, {samples} sample{'s' if samples != 1 else ''}"
    sides = _sides(deciding)
    if sides is not None:  # a comparison's evidence is its two sides, not samples of its own
        detail = f"check {check.name}, green {sides[0]} vs blue {sides[1]} samples"
    if deciding is not None and why:
        reason = f"{deciding.reason} ({detail}: {why})"
    elif deciding is not None:
        reason = f"{deciding.reason} ({detail})"
    else:
        reason = f"{why} ({detail})"
    effective, warning = _effective(check, status)
    return CheckResult(check.name, status, _bounded(reason), counts, deciding, effective, check.gating, warning)


def _sides(deciding: Measurement | None) -> tuple[Any, Any] | None:
    if deciding is None or not deciding.aggregate:
        return None
    for green, blue in (("green", "blue"), ("greenTotal", "blueTotal")):
        if green in deciding.data and blue in deciding.data:
            return deciding.data[green], deciding.data[blue]
    return None


def _effective(check: Check, status: Status) -> tuple[Literal["running", "succeeded", "failed", "person"], str | None]:
    """Error and inconclusive fail the hook unless the spec loosened them (said as a warning) or asks a person."""
    limits = check.limits
    if status == "succeeded":
        return "succeeded", None
    if status == "failed":
        return "failed", None
    if status == "error" and limits.on_error == "fail":
        return "failed", None
    if limits.on_inconclusive == "succeed":
        return "succeeded", f"check {check.name} was {status}; the spec lets that pass (onInconclusive succeed)"
    if limits.on_inconclusive == "person":
        return "person", None
    return "failed", None


class HookVerdict(NamedTuple):
    status: Literal["Succeeded", "Failed"]
    reason: str
    deciding_check: str | None
    checks: tuple[CheckResult, ...]
    warnings: tuple[str, ...]
    # Gating checks that ended inconclusive for a person to decide (onInconclusive person). The verdict
    # stays Failed: only a person's recorded approval (`decided_by`) makes it a success.
    asks: tuple[str, ...] = ()
    deciders: tuple[str, ...] = ()  # the people whose recorded answer decided it, when people did


def decide(results: Sequence[CheckResult], expected_gating: int) -> HookVerdict:
    """Succeeded only when every gating check (all `expected_gating` of them) ended succeeded.

    A failed gating check decides before any check a person is asked about: nobody is asked to
    overrule evidence of a failure. When the rest succeeded, the verdict is Failed with `asks`.
    """
    warnings = tuple(r.warning for r in results if r.warning)
    gating = [r for r in results if r.gating]
    for result in gating:
        if result.effective not in ("succeeded", "person"):
            return HookVerdict("Failed", result.reason, result.name, tuple(results), warnings)
    if expected_gating <= 0:
        return HookVerdict("Failed", "no gating check for this hook", None, tuple(results), warnings)
    if len(gating) < expected_gating:
        why = f"only {len(gating)} of {expected_gating} gating checks ran"
        return HookVerdict("Failed", why, None, tuple(results), warnings)
    asked = [r for r in gating if r.effective == "person"]
    if asked:
        why = f"{asked[0].reason}; a person decides (onInconclusive person)"
        return HookVerdict(
            "Failed", _bounded(why), asked[0].name, tuple(results), warnings, tuple(r.name for r in asked)
        )
    loosened = f"; {len(warnings)} loosened" if warnings else ""
    why = f"all {len(gating)} gating check{'s' if len(gating) != 1 else ''} succeeded{loosened}"
    return HookVerdict("Succeeded", why, None, tuple(results), warnings)


def decided_by(
    verdict: HookVerdict, status: Literal["Approved", "Rejected"], by: Sequence[str], reason: str
) -> HookVerdict:
    """A person's answer to a verdict that asked one: Approved succeeds, Rejected fails; the reason says who."""
    if not verdict.asks:
        return failed("no check of this hook asked a person")
    asked = ", ".join(verdict.asks)
    said = f": {' '.join(reason.split())}" if reason.strip() else ""
    why = f"inconclusive check{'s' * (len(verdict.asks) > 1)} {asked} {status.lower()} by {', '.join(by)}{said}"
    evidence = _evidence(verdict)
    why = f"{why} (evidence: {evidence})" if evidence else why
    return HookVerdict(
        "Succeeded" if status == "Approved" else "Failed",
        _bounded(why),
        verdict.asks[0],
        verdict.checks,
        verdict.warnings,
        deciders=tuple(by),
    )


def unanswered(verdict: HookVerdict, why: str) -> HookVerdict:
    """Failed: the people asked about `verdict` did not approve (`why`: nobody in time, or a decision that
    does not count); the checks stay in the report, the reason names the inconclusive check's evidence."""
    evidence = _evidence(verdict) or verdict.reason
    deciding = verdict.asks[0] if verdict.asks else verdict.deciding_check
    return HookVerdict("Failed", _bounded(f"{evidence}; {why}"), deciding, verdict.checks, verdict.warnings)


def _evidence(verdict: HookVerdict) -> str:
    """The reason of the first check a person was asked about (what they decide on), or ""."""
    return next((c.reason for c in verdict.checks if verdict.asks and c.name == verdict.asks[0]), "")


def failed(reason: str) -> HookVerdict:
    """The verdict of every path that is not a decided success: a bad spec, a template, a crash, the deadline."""
    return HookVerdict("Failed", _bounded(reason), None, (), ())


def _bounded(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= MAX_REASON else one_line[: MAX_REASON - 1] + "…"
