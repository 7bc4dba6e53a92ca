"""Lambda deployments through the hook functions: the target version invoked, what it answered, which ran."""

from __future__ import annotations

from typing import Any

from sandbox.aws.moto_ext import lambda_versions

from .conftest import Hooks, lambda_stage

SPEC = """
{
  "version": 1, "kind": "HookValidation", "name": "orders", "platform": "lambda",
  "checks": [{
    "name": "contract", "type": "lambdaInvoke", "hooks": ["BeforeAllowTraffic"],
    "function": "{{ lambda.functionName }}", "qualifier": "{{ lambda.targetVersion }}",
    "cases": [{"name": "quote", "payload": {"sku": "A1"},
               "expect": {"functionError": "none", "body": [{"jsonPath": "$.statusCode", "equals": 200}]}}],
    "repeat": 3
  }]
}
"""


def blue(event: Any, _context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "version": 1}


def green(event: Any, _context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "version": 2}


def broken(event: Any, _context: Any) -> dict[str, Any]:
    raise ValueError("green cannot quote")


def _deploy(hooks: Hooks, versions: list[Any]) -> tuple[str, Any]:
    stage = lambda_stage(hooks, versions)
    hooks.put_spec(stage.application, stage.group, SPEC, suffix=".json")
    return stage.deploy(hooks.names(("BeforeAllowTraffic",))), stage


def test_a_target_version_that_answers_passes_and_the_alias_moves(hooks: Hooks) -> None:
    deployment_id, stage = _deploy(hooks, [blue, green])
    outcome = hooks.run(deployment_id)
    assert outcome.status == "Succeeded", hooks.answers()
    assert [(r.status, r.answer) for r in hooks.reports(deployment_id)] == [("Succeeded", "accepted")]
    # The hook invoked version 2 itself (never the alias), three times
    invoked = [i for i in lambda_versions.invocations(stage.name) if i.qualifier == "2"]
    assert len(invoked) == 3
    alias = hooks.sandbox.client("lambda").get_alias(FunctionName=stage.name, Name=stage.alias)
    assert alias["FunctionVersion"] == "2"


def test_a_function_error_in_the_target_version_fails_and_rolls_back(hooks: Hooks) -> None:
    deployment_id, stage = _deploy(hooks, [blue, broken])
    outcome = hooks.run(deployment_id)
    assert outcome.status == "Failed"
    verdict = hooks.verdict()
    assert verdict["check"] == "contract"
    assert "FunctionError" in verdict["reason"] or "function error" in verdict["reason"].lower(), verdict
    alias = hooks.sandbox.client("lambda").get_alias(FunctionName=stage.name, Name=stage.alias)
    assert alias["FunctionVersion"] == "1"


def test_the_wrong_version_executing_fails(hooks: Hooks) -> None:
    # Given version 2 whose invocations are in fact served by version 1 (a qualifier that resolves elsewhere)
    deployment_id, stage = _deploy(hooks, [blue, green])
    lambda_versions.run_version(stage.name, "2", blue, executed_as="1")
    outcome = hooks.run(deployment_id)
    assert outcome.status == "Failed"
    verdict = hooks.verdict()
    assert verdict["check"] == "contract"
    assert "ExecutedVersion" in verdict["reason"] or "executed" in verdict["reason"].lower(), verdict
