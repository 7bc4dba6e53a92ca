"""`codereflex validation check SPEC`: exit 0 and a plan summary, or exit 2 and every problem on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codereflex.cli.main import main

DATA = Path(__file__).parents[2] / "data" / "validation"


def test_a_valid_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validation", "check", str(DATA / "orders-ecs.yaml")]) == 0
    out = capsys.readouterr().out
    assert "orders-api (ecs) is valid" in out
    assert "AfterAllowTestTraffic: smoke-health, api-latency" in out
    assert "errors-vs-blue (dry run)" in out


def test_a_hook_in_any_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validation", "check", str(DATA / "checkout-lambda.json"), "--hook", "beforeallowtraffic"]) == 0
    assert "BeforeAllowTraffic: contract" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("hook", "said"),
    [
        ("AfterAllowTestTraffic", "no checks for AfterAllowTestTraffic"),
        ("Deploy", "is not a CodeDeploy lifecycle hook"),
    ],
)
def test_a_hook_without_checks(hook: str, said: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validation", "check", str(DATA / "checkout-lambda.json"), "--hook", hook]) == 2
    assert said in capsys.readouterr().err


def test_problems_go_to_stderr_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = json.loads((DATA / "checkout-lambda.json").read_text())
    spec["checks"][0]["qualifier"] = "{{ lambda.targetVerison }}"
    spec["checks"][1]["sampling"]["count"] = 0
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    assert main(["validation", "check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{path}: $.checks[1].sampling.count: must be at least 1" in captured.err


def test_a_plan_that_does_not_fit_a_shorter_function(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validation", "check", str(DATA / "orders-ecs.yaml"), "--run-seconds", "60"]) == 2
    assert "more than one Lambda run's 15 s" in capsys.readouterr().err


def test_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validation", "check", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err
