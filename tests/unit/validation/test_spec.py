"""Loading a spec: every problem named at once, templates known, rules a schema cannot say, the plan's time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codereflex.validation.spec import MAX_SPEC_BYTES, SpecError, load

from .fakes import http_check

DATA = Path(__file__).parents[2] / "data" / "validation"


def document(checks: list[dict[str, Any]], **top: Any) -> str:
    return json.dumps(
        {
            "version": 1,
            "kind": "HookValidation",
            "name": "t",
            "platform": "ecs",
            "hooks": ["AfterAllowTestTraffic"],
            "checks": checks,
            **top,
        }
    )


def problems(text: str | bytes) -> tuple[str, ...]:
    with pytest.raises(SpecError) as raised:
        load(text)
    return raised.value.problems


def test_the_examples_load() -> None:
    ecs = load((DATA / "orders-ecs.yaml").read_text())
    assert [c.name for c in ecs.for_hook("afterallowtesttraffic")][:2] == ["smoke-health", "api-latency"]
    assert ecs.for_hook("AfterAllowTraffic") == ()
    lam = load((DATA / "checkout-lambda.json").read_bytes())
    assert [c.name for c in lam.for_hook("BeforeAllowTraffic")] == ["contract"]
    assert lam.checks[0].planned == 2 * 2 * 2  # cases x repeat x (target + differential)


def test_hook_names_in_any_case_as_the_appspec() -> None:
    spec = load(document([http_check()], hooks=["afterALLOWtesttraffic"]))
    assert spec.checks[0].hooks == ("AfterAllowTestTraffic",)


def test_yaml_and_json_give_the_same_spec() -> None:
    text = (DATA / "orders-ecs.yaml").read_text()
    import yaml

    assert load(text).sha256 == load(json.dumps(yaml.safe_load(text))).sha256


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"\xff\xfe", "not UTF-8"),
        ("checks: [unclosed", "neither JSON nor YAML at line 1"),
        ("- just\n- a list\n", "must be object"),
        (" " * (MAX_SPEC_BYTES + 1), "more than"),
    ],
)
def test_unreadable_specs_say_why(text: str | bytes, expected: str) -> None:
    assert any(expected in p for p in problems(text))


def test_every_problem_at_once() -> None:
    bad = document(
        [
            http_check("a", count=3, failureLimit=3),
            http_check("a", count=3, request={"url": "{{ lambda.targetVersion }}"}),
            http_check("c", count=3, request={"url": "{{ ecs.testListener.url }}/{ {x}}"}),
        ]
    )
    found = problems(bad)
    assert any("failureLimit 3 tolerates all 3 measurements: it could never fail" in p for p in found)
    assert any("a second check named a" in p for p in found)
    assert any("{{ lambda.targetVersion }} is not known for ecs deployments" in p for p in found)
    assert any("braces that are not a {{ name }} template" in p for p in found)


def test_a_hook_without_a_gating_check_is_refused() -> None:
    assert any("no gating check" in p for p in problems(document([http_check(gating=False)])))


def test_hooks_must_belong_to_the_platform() -> None:
    found = problems(document([http_check()], platform="lambda", hooks=["AfterInstall"]))
    assert any("AfterInstall is not a hook of lambda deployments" in p for p in found)


def test_compare_needs_an_earlier_http_check() -> None:
    compare = {
        "name": "cmp",
        "type": "compare",
        "test": "mannWhitney",
        "experiment": {"check": "later"},
        "control": {"request": {"url": "{{ ecs.prodListener.url }}"}},
    }
    found = problems(document([compare, http_check("later")]))
    assert any("names later, which is not an earlier http check" in p for p in found)
    assert any("control probes need sampling" in p for p in found)


def test_a_plan_longer_than_codedeploys_hour_is_refused_with_the_reason() -> None:
    slow = http_check(count=400, sampling={"count": 400, "intervalMs": 10000})
    (problem,) = problems(document([slow]))
    assert problem.startswith("hook AfterAllowTestTraffic: the plan can take 4020 s, more than the 3300 s it has")
    assert "hookMarginSeconds 300" in problem


def test_a_slot_longer_than_one_run_is_refused() -> None:
    metric = {
        "name": "m",
        "type": "cloudwatchMetric",
        "window": {"lookbackSeconds": 300, "periodSeconds": 60},
        "queries": [{"id": "e", "expression": "SUM(METRICS())"}],
        "condition": "max(e) <= 1",
        "sampling": {"count": 2, "intervalMs": 900000},
    }
    assert any("one slot can take 900 s, more than one Lambda run's 855 s" in p for p in problems(document([metric])))


def test_loosening_is_allowed_and_warned() -> None:
    spec = load(document([http_check(onInconclusive="succeed", onNoData="pass")]))
    assert len(spec.warnings) == 2
    assert all(w.startswith("check smoke: ") for w in spec.warnings)


def test_limits_come_from_defaults_then_the_check() -> None:
    spec = load(
        document([http_check(failureLimit=1), http_check("b")], defaults={"failureLimit": 2, "onNoData": "fail"})
    )
    assert spec.checks[0].limits.failure_limit == 1
    assert spec.checks[1].limits.failure_limit == 2
    assert spec.checks[1].limits.on_no_data == "fail"
    assert spec.checks[1].limits.on_error == "fail"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_and_infinity_are_refused(number: str) -> None:
    text = document([http_check(maxFailureRate=0.5, minSamples=2)]).replace("0.5", number)
    assert problems(text) == (f"{number} is not a number a spec may hold",)


@pytest.mark.parametrize("number", [".nan", ".inf", "-.inf"])
def test_yaml_nan_and_infinity_are_refused(number: str) -> None:
    text = (DATA / "orders-ecs.yaml").read_text().replace("maxFailureRate: 0.02", f"maxFailureRate: {number}")
    assert any("maxFailureRate: must be number" in p for p in problems(text))


def test_yaml_aliases_are_refused_before_they_expand() -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(20)
    )
    assert problems(laughs) == ("YAML aliases (*name) are not allowed in a spec",)


def test_deep_nesting_is_refused() -> None:
    assert problems("[" * 100_000 + "]" * 100_000) == ("the spec is nested too deeply",)
