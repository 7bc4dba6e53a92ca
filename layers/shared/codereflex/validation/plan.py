"""A hook's sampling plan and its time: how long it takes, whether it fits CodeDeploy's hour, its Lambda runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from codereflex.validation.aws_checks import AlarmRunner, LambdaRunner, MetricRunner, TargetRunner
from codereflex.validation.http_checks import CompareRunner, HttpRunner
from codereflex.validation.runner import Runner
from codereflex.validation.spec import Check, Spec

HOOK_LIMIT_S = 3600  # "considered to have failed if CodeDeploy is not notified ... within one hour"
LAMBDA_LIMIT_S = 900  # the longest one Lambda run may be
RUN_OVERHEAD_S = 15  # loading the spec, finding the deployment, reporting: taken from every run's budget

RUNNERS: Mapping[str, Runner] = {
    "http": HttpRunner(),
    "compare": CompareRunner(),
    "lambdaInvoke": LambdaRunner(),
    "cloudwatchMetric": MetricRunner(),
    "cloudwatchAlarm": AlarmRunner(),
    "targetHealth": TargetRunner(),
}


class CheckPlan(NamedTuple):
    check: str
    slots: int
    slot_s: float  # the most one slot can take
    interval_s: float
    grace_s: float
    retry_s: float  # one streak of retried errors (consecutiveErrorLimit slots)

    @property
    def pace_s(self) -> float:
        return max(self.interval_s, self.slot_s)

    @property
    def duration_s(self) -> float:
        """The longest the check can take: its grace, its slots at their pace, one streak of retries."""
        if self.slots <= 0:
            return 0.0
        return self.grace_s + (self.slots - 1) * self.pace_s + self.slot_s + self.retry_s


class Segment(NamedTuple):
    """Slots [first, last] of one check, run in one Lambda run."""

    check: str
    first: int
    last: int

    def as_dict(self) -> dict[str, object]:
        return {"check": self.check, "first": self.first, "last": self.last}


class HookPlan(NamedTuple):
    hook: str
    checks: tuple[CheckPlan, ...]

    @property
    def duration_s(self) -> float:
        return sum(check.duration_s for check in self.checks)


def plan_of(checks: tuple[Check, ...], hook: str) -> HookPlan:
    planned = []
    for check in checks:
        runner = RUNNERS[check.type]
        body = check.body
        retry = check.limits.consecutive_error_limit * max(runner.interval_s(body), runner.slot_s(body))
        planned.append(
            CheckPlan(
                check.name,
                runner.slots(body),
                runner.slot_s(body),
                runner.interval_s(body),
                runner.grace_s(body),
                retry,
            )
        )
    return HookPlan(hook, tuple(planned))


def fits(plan: HookPlan, hook_deadline_s: float = HOOK_LIMIT_S, margin_s: float = 300) -> bool:
    """Whether the whole plan ends before CodeDeploy's deadline less a margin (time to report, and slack)."""
    return plan.duration_s <= hook_deadline_s - margin_s


def run_budget_s(run_seconds: float = LAMBDA_LIMIT_S, run_margin_s: float = 30) -> float:
    """What one run may spend measuring: the run less the margin it reports within, less its own overhead."""
    return run_seconds - run_margin_s - RUN_OVERHEAD_S


def steps(plan: HookPlan, run_budget: float) -> list[list[Segment]]:
    """The plan cut into Lambda runs at slot boundaries, each within `run_budget` seconds (what a run does;
    the engine cuts the same way at run time, from the clock). ValueError when one slot is longer than a run."""
    runs: list[list[Segment]] = [[]]
    used = 0.0
    for check in plan.checks:
        if check.slot_s > run_budget:
            raise ValueError(
                f"check {check.check}: one slot takes {check.slot_s:g} s, more than a run's {run_budget:g} s"
            )
        used += check.grace_s  # a grace period is waiting: it may span runs
        while used > run_budget:
            runs.append([])
            used -= run_budget
        first = 0
        for slot in range(check.slots):
            cost = check.pace_s if slot < check.slots - 1 else check.slot_s
            if used + cost > run_budget:
                if slot > first:
                    runs[-1].append(Segment(check.check, first, slot - 1))
                runs.append([])
                used, first = 0.0, slot
            used += cost
        if check.slots:
            runs[-1].append(Segment(check.check, first, check.slots - 1))
        used += check.retry_s  # the reserve for one streak of retried errors
        while used > run_budget:
            runs.append([])
            used -= run_budget
    return [run for run in runs if run]


def plan_problems(
    spec: Spec, hook: str, *, hook_deadline_seconds: float = HOOK_LIMIT_S, run_seconds: float = LAMBDA_LIMIT_S
) -> list[str]:
    """Why the hook's plan cannot run in the time it will have: refused when the spec is loaded."""
    plan = plan_of(spec.for_hook(hook), hook)
    problems = []
    have = hook_deadline_seconds - spec.hook_margin_seconds
    if not fits(plan, hook_deadline_seconds, spec.hook_margin_seconds):
        problems.append(
            f"hook {hook}: the plan can take {plan.duration_s:.0f} s, more than the {have:.0f} s it has "
            f"(CodeDeploy's {hook_deadline_seconds:.0f} s less hookMarginSeconds {spec.hook_margin_seconds})"
        )
    budget = run_budget_s(run_seconds, spec.run_margin_seconds)
    problems += [
        f"hook {hook}: check {check.check}: one slot can take {check.slot_s:g} s, "
        f"more than one Lambda run's {budget:g} s"
        for check in plan.checks
        if check.slot_s > budget
    ]
    return problems
