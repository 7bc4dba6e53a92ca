"""A check's status and the hook's verdict: the cases where Argo, Flagger and Kayenta fail open must fail here."""

from __future__ import annotations

from typing import Any

import pytest

from codereflex.validation.semantics import Measurement, Outcome, decide, evaluate
from codereflex.validation.spec import Check

from .fakes import http_check, spec


def check(count: int = 5, **fields: Any) -> Check:
    return spec([http_check(count=count, **fields)]).checks[0]


def measured(*outcomes: Outcome, name: str = "smoke") -> list[Measurement]:
    return [Measurement(name, i, outcome, f"sample {i} {outcome}") for i, outcome in enumerate(outcomes)]


def test_all_planned_measurements_passing_succeed() -> None:
    result = evaluate(check(3), measured("pass", "pass", "pass"), complete=True)
    assert (result.status, result.effective) == ("succeeded", "succeeded")
    assert "3 of 3 passed" in result.reason


def test_argo_4479_only_errors_and_failures_never_succeed() -> None:
    # Argo ends such a metric Successful when count is reached and no limit tripped (#4479, #2026).
    tolerant = check(4, failureLimit=3, consecutiveErrorLimit=5)
    result = evaluate(tolerant, measured("error", "fail", "error", "fail", "error", "fail"), complete=True)
    assert result.status != "succeeded"
    assert result.effective == "failed"


def test_failures_within_the_limit_still_need_every_planned_measurement() -> None:
    result = evaluate(check(4, failureLimit=1), measured("pass", "fail", "pass"), complete=True)
    assert result.status == "inconclusive"
    assert "only 3 of 4 planned measurements" in result.reason


def test_tolerated_failures_are_said() -> None:
    result = evaluate(check(4, failureLimit=1), measured("pass", "fail", "pass", "pass"), complete=True)
    assert result.status == "succeeded"
    assert "1 failure(s) within failureLimit 1" in result.reason


def test_all_inconclusive_fails_the_hook() -> None:
    result = evaluate(check(3), measured("inconclusive", "inconclusive", "inconclusive"), complete=True)
    assert (result.status, result.effective) == ("inconclusive", "failed")


def test_one_inconclusive_measurement_ends_the_check_at_once() -> None:
    result = evaluate(check(3), measured("pass", "inconclusive"), complete=False)
    assert result.status == "inconclusive"
    assert result.deciding is not None and result.deciding.i == 1


def test_partial_data_is_never_a_success() -> None:
    result = evaluate(check(5), measured("pass", "pass"), complete=True, missing="the hook's deadline came first")
    assert result.status == "inconclusive"
    assert result.effective == "failed"
    assert "deadline" in result.reason


def test_zero_samples_is_inconclusive() -> None:
    result = evaluate(check(5), [], complete=True)
    assert (result.status, result.effective) == ("inconclusive", "failed")
    assert "only 0 of 5" in result.reason


def test_a_check_with_no_measurements_planned_cannot_succeed() -> None:
    nothing = check(1)._replace(planned=0)
    result = evaluate(nothing, [], complete=True)
    assert (result.status, result.effective) == ("inconclusive", "failed")
    assert "no measurements were planned" in result.reason


def test_warmup_measurements_are_never_scored() -> None:
    samples = [Measurement("smoke", 0, "fail", "cold", warmup=True), *measured("pass", "pass")]
    assert evaluate(check(2), samples, complete=True).status == "succeeded"
    only_warmup = [Measurement("smoke", i, "pass", "warm", warmup=True) for i in range(5)]
    assert evaluate(check(2), only_warmup, complete=True).status == "inconclusive"


def test_failure_limit_is_crossed_by_the_next_failure() -> None:
    result = evaluate(check(10, failureLimit=2), measured("fail", "pass", "fail", "fail"), complete=False)
    assert result.status == "failed"
    assert "3 failures > failureLimit 2" in result.reason
    assert result.deciding is not None and result.deciding.i == 3


def test_consecutive_failure_limit() -> None:
    tolerant = check(10, failureLimit=5, consecutiveFailureLimit=2)
    assert evaluate(tolerant, measured("fail", "pass", "fail", "pass"), complete=False).status == "running"
    result = evaluate(tolerant, measured("fail", "pass", "fail", "fail"), complete=False)
    assert result.status == "failed"
    assert "2 failures in a row" in result.reason


def test_max_failure_rate_is_judged_only_from_min_samples() -> None:
    rated = check(10, failureLimit=9, maxFailureRate=0.2, minSamples=5)
    assert evaluate(rated, measured("fail", "pass", "pass", "pass"), complete=False).status == "running"
    result = evaluate(rated, measured("fail", "pass", "pass", "pass", "fail"), complete=False)
    assert result.status == "failed"
    assert "failure rate 2/5 > maxFailureRate 0.2" in result.reason


def test_consecutive_errors_beyond_the_limit_are_an_error_that_fails() -> None:
    limited = check(5, consecutiveErrorLimit=1)
    assert evaluate(limited, measured("pass", "error", "pass"), complete=False).status == "running"
    result = evaluate(limited, measured("pass", "error", "error"), complete=False)
    assert (result.status, result.effective) == ("error", "failed")
    assert "2 errors in a row > consecutiveErrorLimit 1" in result.reason


def test_an_aggregate_failure_decides_whatever_the_failure_limit() -> None:
    tolerant = check(3, failureLimit=2)
    p99 = Measurement("smoke", 3, "fail", "p99 latency 812 ms > 500 ms", 812.0, "<= 500", aggregate=True)
    result = evaluate(tolerant, [*measured("pass", "pass", "pass"), p99], complete=True)
    assert result.status == "failed"
    assert result.reason == "p99 latency 812 ms > 500 ms (check smoke, 3 samples)"


@pytest.mark.parametrize(
    ("fields", "outcomes", "effective", "warned"),
    [
        ({"onInconclusive": "succeed"}, ("pass", "inconclusive", "pass"), "succeeded", True),
        ({"onError": "inconclusive", "consecutiveErrorLimit": 0}, ("error",), "failed", False),
        (
            {"onError": "inconclusive", "onInconclusive": "succeed", "consecutiveErrorLimit": 0},
            ("error",),
            "succeeded",
            True,
        ),
    ],
)
def test_loosening_is_explicit_and_warned(
    fields: dict[str, Any], outcomes: tuple[Outcome, ...], effective: str, warned: bool
) -> None:
    loosened = check(3, **fields)
    result = evaluate(loosened, measured(*outcomes), complete=True)
    assert result.effective == effective
    assert (result.warning is not None) is warned


def test_a_loosened_check_still_fails_on_a_failure() -> None:
    loosened = check(3, onInconclusive="succeed")
    result = evaluate(loosened, measured("inconclusive", "fail"), complete=False)
    assert result.effective == "failed"


def test_hook_succeeds_only_when_every_gating_check_succeeded() -> None:
    two = spec([http_check("a", 1), http_check("b", 1)])
    a = evaluate(two.checks[0], measured("pass", name="a"), complete=True)
    b = evaluate(two.checks[1], measured("pass", name="b"), complete=True)
    assert decide([a, b], 2).status == "Succeeded"
    assert decide([a], 2).status == "Failed"  # one never ran
    assert decide([], 0).status == "Failed"


def test_dry_run_checks_never_decide() -> None:
    both = spec([http_check("gate", 1), http_check("dry", 1, gating=False)])
    gate_ok = evaluate(both.checks[0], measured("pass", name="gate"), complete=True)
    dry_bad = evaluate(both.checks[1], measured("fail", name="dry"), complete=True)
    assert decide([gate_ok, dry_bad], 1).status == "Succeeded"
    gate_bad = evaluate(both.checks[0], measured("fail", name="gate"), complete=True)
    dry_ok = evaluate(both.checks[1], measured("pass", name="dry"), complete=True)
    verdict = decide([gate_bad, dry_ok], 1)
    assert (verdict.status, verdict.deciding_check) == ("Failed", "gate")


def test_records_round_trip() -> None:
    m = Measurement("smoke", 4, "fail", "status 503", 503, None, False, False, 12.5, 1.0, {"status": 503})
    assert Measurement.from_record(m.record()) == m
