"""Demo act: CodeDeploy blue/green deployments decided by the hook functions' declarative checks, and reported."""

from __future__ import annotations

import argparse
import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

from codereflex.cli.approvers import sync_command
from codereflex.cli.validation import check_spec
from sandbox.aws.bluegreen import EcsStage, LambdaStage
from sandbox.aws.deployments import Deployer, Outcome, SimulatedClock, router_invoker
from sandbox.aws.hooktime import simulated_hooks
from sandbox.aws.moto_ext import codedeploy, elbv2
from sandbox.aws.services import Behaviour, tail
from sandbox.demo.demo_kit import (
    Connection,
    DemoFailure,
    Page,
    approval_link,
    expect,
    link_pattern,
    mails,
    page_text,
    say,
    show_mail,
    title,
)
from sandbox.local import Notice, Sandbox

ALARM = "orders-errors"
ALICE, BOB = "alice@example.com", "bob@example.com"
REASON = "Quote errors are not published yet; the canary dashboard is clean"

# Small plans on purpose: the demo runs in real time (the hook functions read the system clock).
LAMBDA_SPEC = f"""\
version: 1
kind: HookValidation
name: orders
platform: lambda
checks:
  - name: quote-contract
    type: lambdaInvoke
    hooks: [BeforeAllowTraffic]
    function: "{{{{ lambda.functionName }}}}"
    qualifier: "{{{{ lambda.targetVersion }}}}"
    cases:
      - name: quote
        payload: {{sku: A1}}
        expect:
          functionError: none
          body: [{{jsonPath: "$.statusCode", equals: 200}}]
          durationMs: "<=2000"
    repeat: 3
  - name: error-alarm
    type: cloudwatchAlarm
    hooks: [AfterAllowTraffic]
    alarms: {{fromDeploymentGroup: true, names: [{ALARM}]}}
    sampling: {{count: 2, intervalMs: 200}}
"""

ECS_SPEC = """\
version: 1
kind: HookValidation
name: web
platform: ecs
hooks: [AfterAllowTestTraffic]
checks:
  - name: green-latency
    type: http
    request: {url: "{{ ecs.testListener.url }}/health", timeoutMs: 2000}
    assert:
      status: [200]
      body: [{jsonPath: "$.status", equals: ok}]
      latencyMs: {p50: "<=100", p99: "<=150"}
    sampling: {count: 30, intervalMs: 50, concurrency: 5}
"""


# A metric nobody publishes: no datapoints, so the check is inconclusive and a person is asked.
PERSON_SPEC = f"""\
version: 1
kind: HookValidation
name: quotes
platform: lambda
people:
  approvers: [{ALICE}, {BOB}]
  waitMinutes: 15
checks:
  - name: quote-contract
    type: lambdaInvoke
    hooks: [BeforeAllowTraffic]
    function: "{{{{ lambda.functionName }}}}"
    qualifier: "{{{{ lambda.targetVersion }}}}"
    cases:
      - name: quote
        payload: {{sku: A1}}
        expect:
          functionError: none
          body: [{{jsonPath: "$.statusCode", equals: 200}}]
  - name: quote-errors
    type: cloudwatchMetric
    hooks: [BeforeAllowTraffic]
    window: {{lookbackSeconds: 300, periodSeconds: 60, endOffsetSeconds: 0}}
    queries:
      - id: errors
        stat: Sum
        metric:
          namespace: Quotes
          name: QuoteErrors
          dimensions: {{FunctionName: "{{{{ lambda.functionName }}}}"}}
    condition: sum(errors) <= 0
    minDatapoints: 1
    sampling: {{count: 1, intervalMs: 1000}}
    onInconclusive: person
"""


def blue_orders(_event: Any, _context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "price": 100}


def green_orders(_event: Any, _context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "price": 100, "currency": "EUR"}


def act(sandbox: Sandbox, scratch: Path) -> None:
    """A Lambda deployment its checks pass, an ECS deployment whose green p99 fails and is rolled back, then a
    Lambda deployment whose inconclusive check a person approves while the hook waits (on a simulated clock)."""
    bucket = sandbox.router.function("DeployHookBeforeInstallFunction").environment["VALIDATION_BUCKET"]
    _lambda_passes(sandbox, bucket, scratch)
    _ecs_slow_tail(sandbox, bucket, scratch)
    _person_decides(sandbox, bucket, scratch)


def _hook_name(sandbox: Sandbox, hook: str) -> str:
    return sandbox.router.function(f"DeployHook{hook}Function").function_name


def _put_spec(sandbox: Sandbox, bucket: str, stage: LambdaStage | EcsStage, text: str, scratch: Path) -> None:
    """Check the spec offline as an operator would, then store it where the group's hooks read it."""
    application, group = stage.application, stage.group
    path = scratch / f"{group}.yaml"
    path.write_text(text)
    run_seconds = int(sandbox.router.function("DeployHookAfterAllowTrafficFunction").timeout)
    say(f"   $ codereflex validation check {path.name} --run-seconds {run_seconds}")
    args = argparse.Namespace(spec=path, hook=None, run_seconds=run_seconds)
    expect(check_spec(args) == 0, "the spec is valid and its plan fits the hook functions' runs")
    key = f"specs/{application}/{group}.yaml"
    sandbox.client("s3").put_object(Bucket=bucket, Key=key, Body=text.encode())
    say(f"   the operator's spec, s3://{bucket}/{key} (changed without redeploying codereflex):")
    for line in text.rstrip("\n").splitlines():
        say(f"   | {line}")


def _deploy(
    sandbox: Sandbox, deployment_id: str, deployer: Deployer | None = None, *, heading: str | None = None
) -> tuple[Outcome, list[dict[str, Any]]]:
    """Run the deployment as CodeDeploy would; each hook function's answer, printed as its report line."""
    before = len(sandbox.deliveries)
    outcome = (deployer or Deployer(router_invoker(sandbox))).run(deployment_id)
    if heading is not None:
        say(heading)
    answers: list[dict[str, Any]] = []
    for delivery in sandbox.deliveries[before:]:
        if not delivery.logical_id.startswith("DeployHook"):
            continue
        if not delivery.ok or not isinstance(delivery.result, dict):
            raise DemoFailure(f"{delivery.logical_id} did not answer: {delivery.error}")
        answers.append(delivery.result)
        hook = delivery.logical_id.removeprefix("DeployHook").removesuffix("Function")
        if delivery.result.get("verdict") is None:  # a run that decided nothing yet: it handed over, say
            say(f"   {hook}: {delivery.result.get('outcome')} — {delivery.result.get('why')}")
        else:
            say(f"   {hook}: {delivery.result.get('verdict')} — {delivery.result.get('reason')}")
    for report in codedeploy.hook_reports(deployment_id):
        say(f"   PutLifecycleEventHookExecutionStatus {report.status} → CodeDeploy {report.answer}")
    say(f"   deployment {deployment_id}: {outcome.status}")
    return outcome, answers


def _validation_notices(sandbox: Sandbox) -> list[Notice]:
    """What the topic's subscribers received about deployment validation (earlier acts' notices left aside)."""
    return [n for n in sandbox.notices() if n.attributes.get("kind") == "deployment-validation"]


def _report_keys(sandbox: Sandbox, bucket: str, application: str, deployment_id: str) -> list[str]:
    prefix = f"reports/{application}/{deployment_id}/"
    listed = sandbox.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(str(item["Key"]) for item in listed)


def _stored_report(sandbox: Sandbox, bucket: str, key: str) -> dict[str, Any]:
    body = sandbox.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    loaded = json.loads(body)
    if not isinstance(loaded, dict):
        raise DemoFailure(f"{key} is not a report")
    return loaded


def _lambda_passes(sandbox: Sandbox, bucket: str, scratch: Path) -> None:
    title("Validation 1: a Lambda blue/green deployment whose target version passes its checks")
    cloudwatch = sandbox.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=ALARM,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "orders"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="OK", StateReason="no errors")
    stage = LambdaStage(sandbox.client, [blue_orders, green_orders], alarms=(ALARM,))
    say(f"   function {stage.name}: alias {stage.alias} on version 1, version 2 published; alarm {ALARM} OK")
    _put_spec(sandbox, bucket, stage, LAMBDA_SPEC, scratch)
    hooks = ("BeforeAllowTraffic", "AfterAllowTraffic")
    deployment_id = stage.deploy({hook: _hook_name(sandbox, hook) for hook in hooks})
    say(f"   AppSpec hooks: {', '.join(_hook_name(sandbox, hook) for hook in hooks)}")
    outcome, answers = _deploy(sandbox, deployment_id)
    expect([a.get("verdict") for a in answers] == ["Succeeded", "Succeeded"], "both hooks reported Succeeded")
    reports = [(r.status, r.answer) for r in codedeploy.hook_reports(deployment_id)]
    expect(reports == [("Succeeded", "accepted")] * 2, "CodeDeploy got exactly one status per hook")
    expect(outcome.status == "Succeeded", "the Lambda deployment Succeeded")
    alias = sandbox.client("lambda").get_alias(FunctionName=stage.name, Name=stage.alias)
    expect(alias["FunctionVersion"] == "2", f"alias {stage.alias} now points at version 2")
    keys = _report_keys(sandbox, bucket, stage.application, deployment_id)
    for key in keys:
        say(f"   report: s3://{bucket}/{key}")
    expect(
        f"reports/{stage.application}/{deployment_id}/BeforeAllowTraffic.html" in keys,
        "each hook's HTML report is in the ValidationBucket",
    )
    expect(_validation_notices(sandbox) == [], "no notice for a deployment that passed")


def _ecs_slow_tail(sandbox: Sandbox, bucket: str, scratch: Path) -> None:
    title("Validation 2: an ECS blue/green deployment whose green has a slow tail")
    # One request in five takes 300 ms: the median stays at a few ms, the p99 does not.
    slow = Behaviour(body={"status": "ok", "colour": "green"}, latency=tail(2, 300, 0.2))
    stage = EcsStage(sandbox.client, green=slow)
    try:
        say(f"   production listener {stage.prod_url} → blue; test listener {stage.test_url}")
        say("   green: 80% of requests in 2 ms, 20% in 300 ms (p50 fine, p99 not)")
        _put_spec(sandbox, bucket, stage, ECS_SPEC, scratch)
        hook = "AfterAllowTestTraffic"
        deployment_id = stage.deploy({hook: _hook_name(sandbox, hook)})
        outcome, answers = _deploy(sandbox, deployment_id)
        _ecs_claims(sandbox, bucket, stage, outcome, answers)
    finally:
        stage.stop()


def _ecs_claims(
    sandbox: Sandbox,
    bucket: str,
    stage: EcsStage,
    outcome: Outcome,
    answers: list[dict[str, Any]],
) -> None:
    deployment_id = outcome.deployment_id
    expect([a.get("verdict") for a in answers] == ["Failed"], "AfterAllowTestTraffic reported Failed")
    reason = str(answers[0].get("reason"))
    expect(
        answers[0].get("check") == "green-latency" and "p99 latency" in reason and "> 150 ms" in reason,
        "the reason names the check, its observed p99 and the 150 ms threshold",
    )
    expect(stage.green.requests >= 30, f"green answered the hook's probes ({stage.green.requests} requests)")
    expect(
        outcome.status == "Failed" and outcome.rollback is not None,
        f"the deployment Failed and was rolled back ({outcome.rollback_deployment_id})",
    )
    weights = {arn: weight for arn, weight in elbv2.forward_weights(stage.listener_arns["prod"]) if weight > 0}
    expect(list(weights) == [stage.target_groups["blue"]], "production traffic is back on blue")
    with urllib.request.urlopen(f"{stage.prod_url}/", timeout=10) as answer:  # noqa: S310 (a loopback URL)
        colour = json.loads(answer.read()).get("colour")
    expect(colour == "blue", f"the production listener answers from {colour}")
    keys = _report_keys(sandbox, bucket, stage.application, deployment_id)
    for key in keys:
        say(f"   report: s3://{bucket}/{key}")
    html = f"reports/{stage.application}/{deployment_id}/AfterAllowTestTraffic.html"
    expect(html in keys, "the HTML report is in the ValidationBucket")
    stored = _stored_report(sandbox, bucket, html.removesuffix(".html") + ".json")
    expect(stored.get("reason") == reason, "the stored report gives the same reason")
    checked = {c.get("check"): c for c in stored.get("checks", [])}
    latency = checked.get("green-latency", {}).get("latencyMs") or {}
    say(f"   observed by the report: p50 {latency.get('p50')} ms, p99 {latency.get('p99')} ms")
    expect(float(latency.get("p50", "inf")) <= 100, "green's p50 looked fine: only the tail broke the spec")
    notices = _validation_notices(sandbox)
    for notice in notices:
        say("   +--- SNS notice ------------------------------------------------------------")
        say(f"   | Subject: {notice.subject}")
        for line in notice.message.rstrip("\n").splitlines():
            say(f"   | {line}".rstrip())
        say(f"   +--- attributes: {' '.join(f'{k}={v}' for k, v in sorted(notice.attributes.items()))}")
    expect(len(notices) == 1 and reason in notices[0].message, "one notice, with the reason")
    expect(notices[0].attributes.get("outcome") == "Failed", "the notice's outcome attribute says Failed")


def _person_decides(sandbox: Sandbox, bucket: str, scratch: Path) -> None:
    title("Validation 3: an inconclusive check decided by a person")
    stage = LambdaStage(
        sandbox.client, [blue_orders, green_orders], name="quotes", application="quotes-app", group="quotes-dg"
    )
    say(
        f"   function {stage.name}: alias {stage.alias} on version 1, version 2 published; nobody publishes QuoteErrors"
    )
    _put_spec(sandbox, bucket, stage, PERSON_SPEC, scratch)
    say(f"   $ codereflex approvers sync --approvers {ALICE},{BOB}")
    args = argparse.Namespace(
        approvers=f"{ALICE},{BOB}", parameter=None, tags=False, topic=None, fix=False, dry_run=False
    )
    expect(sync_command(args, Connection(sandbox)) == 0, "each approver has one email subscription, filtered on them")
    hook = "BeforeAllowTraffic"
    deployment_id = stage.deploy({hook: _hook_name(sandbox, hook)})
    say("   simulated clock: the hook's wait of minutes takes a second")
    clock = SimulatedClock(grace=0.01)
    started, began = clock.now(), time.monotonic()
    # What the approvers' mailboxes held before (the approvals act's pipeline mailed them too).
    seen = {address: len(sandbox.mailbox(address)) for address in (ALICE, BOB)}
    broken: list[DemoFailure] = []

    def between_runs() -> None:
        # Runs inside the deployer's hook delivery, which takes any exception for a function error.
        try:
            _alice_approves(sandbox, deployment_id, mails(sandbox, ALICE, "request", since=seen[ALICE]))
        except DemoFailure as failure:
            broken.append(failure)

    with simulated_hooks(sandbox, clock) as hooks:
        hooks.between_runs.append(between_runs)
        deployer = Deployer(hooks.invoker(), clock=clock)
        outcome, answers = _deploy(sandbox, deployment_id, deployer, heading="   the hook's runs, each one's answer:")
    if broken:
        raise broken[0]
    waited, real = (clock.now() - started).total_seconds(), time.monotonic() - began
    say(f"   the hook waited {waited / 60:.1f} min on the simulated clock, {real:.1f} s of real time")
    expect(waited > 60 and real < waited / 60, "minutes of the hook's time passed in seconds of real time")
    expect(
        hooks.continuations >= 1, f"the hook handed over to its next run {hooks.continuations} time(s) while it waited"
    )
    expect(
        [a.get("outcome") for a in answers[:-1]] == ["handed-over"] * hooks.continuations,
        "every run before the last handed over without deciding",
    )
    verdict = answers[-1]
    expect(
        verdict.get("verdict") == "Succeeded" and verdict.get("check") == "quote-errors",
        "the last run reported Succeeded, for the inconclusive check",
    )
    expect(f"approved by {ALICE}: {REASON}" in str(verdict.get("reason")), "the reason names who approved and why")
    reports = [(r.status, r.answer) for r in codedeploy.hook_reports(deployment_id)]
    expect(reports == [("Succeeded", "accepted")], "CodeDeploy got exactly one status for the hook")
    expect(outcome.status == "Succeeded", "the deployment a person approved Succeeded")
    alias = sandbox.client("lambda").get_alias(FunctionName=stage.name, Name=stage.alias)
    expect(alias["FunctionVersion"] == "2", f"alias {stage.alias} now points at version 2")
    closing = mails(sandbox, BOB, "closeout", since=seen[BOB])
    expect(len(closing) == 1, f"{BOB} received one close-out email")
    show_mail(closing[0], BOB)
    expect(ALICE in closing[0].message, "it says who decided")
    notices = _validation_notices(sandbox)
    for notice in notices:
        say(f"   SNS notice: {notice.subject} (outcome={notice.attributes.get('outcome')})")
    expect(
        len(notices) == 1 and f"decided by {ALICE}" in notices[0].subject,
        "one notice on the topic: a person decided this hook",
    )


def _alice_approves(sandbox: Sandbox, deployment_id: str, requested: list[Any]) -> None:
    """What Alice does while the hook waits: reads her email, opens her link, approves with a reason."""
    say("   ... the hook is waiting; meanwhile Alice reads her email:")
    expect(len(requested) == 1, f"{ALICE} received exactly one request email for the deployment")
    pattern = link_pattern(sandbox)
    say(f"   +--- email to {ALICE} " + "-" * max(0, 58 - len(ALICE)))
    say(f"   | Subject: {requested[0].subject}")
    for line in requested[0].message.splitlines():
        if re.search(pattern, line):
            say(f"   | {line}".rstrip())
    say("   +" + "-" * 76)
    link = approval_link(sandbox, requested[0], ALICE)
    expect(codedeploy.hook_reports(deployment_id) == [], "CodeDeploy has heard nothing yet: the hook waits")
    page = Page()
    status, html = page.request("GET", link)
    shown = page_text(html)
    say(f"   GET → {status}; the page says: {shown[:400]}…")
    expect(status == 200 and "quote-errors" in shown, "the page shows the deployment and the inconclusive check")
    form = re.search(r'name="form" value="([^"]+)"', html)
    if form is None:
        raise DemoFailure("the page has no form to decide with")
    status, _ = page.request("POST", link, {"form": form.group(1), "decision": "approve", "reason": REASON})
    say(f"   POST decision=approve reason={REASON!r} → {status} (See Other: back to the link)")
    expect(status == 303, "the page took Alice's approval")
