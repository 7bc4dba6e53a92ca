"""A plan's time: worst-case durations, whether it fits CodeDeploy's hour, and its cut into Lambda runs."""

from __future__ import annotations

import json

import pytest

from codereflex.validation.plan import CheckPlan, HookPlan, fits, plan_of, run_budget_s, steps

from .fakes import http_check, spec

HOOK = "AfterAllowTestTraffic"


def test_an_http_check_takes_its_rounds_at_the_slower_of_interval_and_timeout() -> None:
    checked = http_check(
        sampling={"count": 30, "intervalMs": 500, "concurrency": 4, "warmup": 2},
        request={"url": "{{ ecs.testListener.url }}", "timeoutMs": 2000},
    )
    (check,) = plan_of(spec([checked]).for_hook(HOOK), HOOK).checks
    assert (check.slots, check.slot_s, check.interval_s) == (8, 2.0, 0.5)  # 32 samples, 4 at a time
    assert check.retry_s == 4.0  # two retried errors (the default consecutiveErrorLimit) at its pace
    assert check.duration_s == 7 * 2.0 + 2.0 + 4.0


def test_grace_periods_count() -> None:
    alarms = {
        "name": "a",
        "type": "cloudwatchAlarm",
        "alarms": {"names": ["x"]},
        "insufficientDataGraceSeconds": 120,
        "sampling": {"count": 3, "intervalMs": 20000},
    }
    (check,) = plan_of(spec([alarms]).for_hook(HOOK), HOOK).checks
    assert check.duration_s == 120 + 2 * 20 + 20 + 2 * 20


def test_fits_leaves_the_margin() -> None:
    plan = HookPlan(HOOK, (CheckPlan("c", 1, 3300, 0, 0, 0),))
    assert fits(plan, 3600, 300)
    assert not fits(plan, 3600, 301)


def test_steps_cut_at_slot_boundaries_within_the_budget() -> None:
    plan = HookPlan(HOOK, (CheckPlan("a", 10, 10, 60, 0, 0), CheckPlan("b", 3, 100, 0, 0, 0)))
    runs = steps(plan, 200)
    assert [[s.as_dict() for s in run] for run in runs] == [
        [{"check": "a", "first": 0, "last": 2}],
        [{"check": "a", "first": 3, "last": 5}],
        [{"check": "a", "first": 6, "last": 9}],  # the last slot need not wait out its interval
        [{"check": "b", "first": 0, "last": 1}],
        [{"check": "b", "first": 2, "last": 2}],
    ]
    json.dumps([[s.as_dict() for s in run] for run in runs])  # what a later run is handed


def test_a_slot_longer_than_a_run_cannot_be_cut() -> None:
    with pytest.raises(ValueError, match="one slot takes 900 s"):
        steps(HookPlan(HOOK, (CheckPlan("a", 1, 900, 0, 0, 0),)), run_budget_s())


def test_a_run_budget_keeps_the_reporting_margin() -> None:
    assert run_budget_s(900, 30) == 855
