"""Inconclusive to a person: a Lambda deployment held at its hook while the spec's people decide by approval link.

Everything is real but time: the hook functions through the router, their mail through SNS to the
sandbox's mailboxes, the approval page over HTTP on 127.0.0.1 deciding from the links in that mail,
and CodeDeploy's driver waiting on the reports. A person answers between two runs of the hook (the
hand-over the function makes to itself), as one would while it waits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.aws.bluegreen import LambdaStage
from sandbox.aws.deployments import SimulatedClock
from sandbox.aws.hooktime import simulated_hooks
from sandbox.local import Sandbox
from tests.integration.approval_page.web import form_token, http, links_in

from .conftest import Hooks, lambda_stage
from .test_lambda import blue, broken, green

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"

SPEC = """
{
  "version": 1, "kind": "HookValidation", "name": "orders", "platform": "lambda",
  "people": {"approvers": ["alice@example.com", "bob@example.com"], "quorum": 1, "waitMinutes": 10},
  "checks": [
    {
      "name": "contract", "type": "lambdaInvoke", "hooks": ["BeforeAllowTraffic"],
      "function": "{{ lambda.functionName }}", "qualifier": "{{ lambda.targetVersion }}",
      "cases": [{"name": "quote", "payload": {"sku": "A1"},
                 "expect": {"functionError": "none", "body": [{"jsonPath": "$.statusCode", "equals": 200}]}}]
    },
    {
      "name": "quote-errors", "type": "cloudwatchMetric", "hooks": ["BeforeAllowTraffic"],
      "window": {"lookbackSeconds": 300, "periodSeconds": 60, "endOffsetSeconds": 0},
      "queries": [{"id": "errors", "stat": "Sum",
                   "metric": {"namespace": "Orders", "name": "QuoteErrors",
                              "dimensions": {"FunctionName": "{{ lambda.functionName }}"}}}],
      "condition": "sum(errors) <= 0", "minDatapoints": 1,
      "sampling": {"count": 1, "intervalMs": 1000},
      "onInconclusive": "person"
    }
  ]
}
"""


class People:
    """The approvers' side: their mailboxes (filtered as `codereflex approvers sync` makes them) and the page."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        sns, topic = sandbox.client("sns"), sandbox.stack.refs["ApprovalMailTopic"]
        for address in (ALICE, BOB, CAROL):
            policy = json.dumps({"approver": [address]})
            sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=address, Attributes={"FilterPolicy": policy})

    def mails(self, address: str, kind: str | None = None) -> list[Any]:
        return [m for m in self.sandbox.mailbox(address) if kind is None or m.attributes.get("kind") == kind]

    def links(self, address: str) -> list[str]:
        page = self.sandbox.approval_page_url
        return [found for m in self.mails(address, "request") for found in links_in(page, m.message)]

    def link(self, address: str) -> str:
        (only,) = self.links(address)
        return only

    def form(self, address: str) -> str:
        """The form token of `address`'s page, as their browser gets it with the page (while they may answer)."""
        page = http("GET", self.link(address)).body
        assert 'name="form" value="' in page, page[:400]
        return form_token(page)

    def answer(self, address: str, decision: str, reason: str) -> int:
        form = self.form(address)
        return http("POST", self.link(address), {"form": form, "decision": decision, "reason": reason}).status


@pytest.fixture
def people(hooks: Hooks) -> Iterator[People]:
    yield People(hooks.sandbox)


def _deploy(hooks: Hooks, versions: list[Any] | None = None, **stage: str) -> tuple[str, LambdaStage]:
    staged = lambda_stage(hooks, versions or [blue, green], **stage)
    hooks.put_spec(staged.application, staged.group, SPEC, suffix=".json")
    return staged.deploy(hooks.names(("BeforeAllowTraffic",))), staged


def _alias(hooks: Hooks, stage: LambdaStage) -> str:
    return str(hooks.sandbox.client("lambda").get_alias(FunctionName=stage.name, Name=stage.alias)["FunctionVersion"])


def test_an_inconclusive_check_holds_the_hook_until_a_person_approves_then_the_deployment_goes_on(
    hooks: Hooks, people: People
) -> None:
    # Given a deployment whose metric check has no data (inconclusive) and asks a person
    deployment_id, stage = _deploy(hooks)
    # When Alice approves from her own link while the hook waits (between its runs)
    answered: list[int] = []
    hooks.between_runs.append(lambda: answered.append(people.answer(ALICE, "approve", "dashboards are clean")))
    outcome = hooks.run(deployment_id)
    # Then the hook reported Succeeded once, naming who decided and why, and traffic moved to green
    assert answered == [303]
    assert outcome.status == "Succeeded", hooks.answers()
    assert [(r.status, r.answer) for r in hooks.reports(deployment_id)] == [("Succeeded", "accepted")]
    verdict = hooks.verdict()
    assert verdict["check"] == "quote-errors"
    assert "approved by alice@example.com: dashboards are clean" in verdict["reason"], verdict
    assert _alias(hooks, stage) == "2"
    # The notification topic says a person decided this hook (as it does for every failed one)
    (notice,) = [n for n in hooks.sandbox.notices() if n.attributes.get("kind") == "deployment-validation"]
    assert "decided by alice@example.com" in notice.subject, notice
    assert notice.attributes.get("outcome") == "Succeeded"
    # Each approver was asked once, with a link of their own, and told the outcome once; Carol, not asked, got nothing
    for address in (ALICE, BOB):
        assert len(people.mails(address, "request")) == 1
        (closeout,) = people.mails(address, "closeout")
        assert "alice@example.com" in closeout.message
    assert people.links(ALICE) != people.links(BOB)
    assert people.mails(CAROL) == []
    # And Bob's link, used after the decision, shows it and decides nothing more
    page = http("GET", people.link(BOB)).body
    assert "Approved by alice@example.com" in page
    assert 'name="form"' not in page
    assert [r.status for r in hooks.reports(deployment_id)] == ["Succeeded"]


def test_a_person_who_rejects_fails_the_hook_and_codedeploy_rolls_back(hooks: Hooks, people: People) -> None:
    deployment_id, stage = _deploy(hooks)
    hooks.between_runs.append(lambda: people.answer(BOB, "reject", "errors are not published yet"))
    outcome = hooks.run(deployment_id)
    assert outcome.status == "Failed"
    assert outcome.rollback is not None
    assert [r.status for r in hooks.reports(deployment_id)] == ["Failed"]
    verdict = hooks.verdict()
    assert verdict["check"] == "quote-errors"
    assert "rejected by bob@example.com: errors are not published yet" in verdict["reason"], verdict
    assert _alias(hooks, stage) == "1"


def test_nobody_deciding_in_time_fails_the_hook_and_a_late_answer_decides_nothing(hooks: Hooks, people: People) -> None:
    # Given a hook waiting for people who never answer (ten minutes, on the simulated clock); Alice
    # opens her page while it waits, and keeps its form
    deployment_id, stage = _deploy(hooks)
    forms: list[str] = []
    hooks.between_runs.append(lambda: forms.append(people.form(ALICE)))
    outcome = hooks.run(deployment_id)
    # Then it failed closed, saying nobody decided, after waiting across several runs
    assert outcome.status == "Failed"
    assert hooks.continuations >= 3, hooks.answers()
    verdict = hooks.verdict()
    assert verdict["check"] == "quote-errors"
    assert "nobody decided within 10 min" in verdict["reason"], verdict
    assert _alias(hooks, stage) == "1"
    (closeout,) = people.mails(ALICE, "closeout")
    assert "expired" in closeout.subject.lower() or "expired" in closeout.message.lower()
    # And Alice's late approval, posted with the form she kept, decides nothing: CodeDeploy heard one answer
    late = http("POST", people.link(ALICE), {"form": forms[0], "decision": "approve", "reason": "late"})
    assert late.status in (303, 403, 409, 410), late
    page = http("GET", people.link(ALICE)).body
    assert 'name="form"' not in page
    assert "Approved by" not in page
    assert [r.status for r in hooks.reports(deployment_id)] == ["Failed"]


def test_one_deployments_approval_does_not_release_another(hooks: Hooks, people: People) -> None:
    # Given two deployments held one after the other: Alice approves the first only
    first, _ = _deploy(hooks)
    hooks.between_runs.append(lambda: people.answer(ALICE, "approve", "first only"))
    assert hooks.run(first).status == "Succeeded"
    second, _ = _deploy(hooks, name="quotes", application="quotes-app", group="quotes-dg")
    # When the second one waits, with nobody answering it (Alice's first link is spent, and names the first)
    outcome = hooks.run(second)
    # Then the second fails closed on its own question
    assert outcome.status == "Failed"
    assert [r.status for r in hooks.reports(second)] == ["Failed"]
    assert len(people.mails(ALICE, "request")) == 2


def test_a_failed_check_decides_at_once_and_nobody_is_asked_to_overrule_it(hooks: Hooks, people: People) -> None:
    deployment_id, _ = _deploy(hooks, [blue, broken])
    outcome = hooks.run(deployment_id)
    assert outcome.status == "Failed"
    assert hooks.verdict()["check"] == "contract"
    assert people.mails(ALICE) == people.mails(BOB) == []
    assert hooks.continuations == 0


def test_duplicate_deliveries_ask_each_person_once_and_report_once(hooks: Hooks, people: People) -> None:
    deployment_id, _ = _deploy(hooks)
    hooks.between_runs.append(lambda: people.answer(ALICE, "approve", "once"))
    outcome = hooks.run(deployment_id, copies=2)
    assert outcome.status == "Succeeded", hooks.answers()
    assert [r.status for r in hooks.reports(deployment_id)] == ["Succeeded"]
    assert len(people.mails(ALICE, "request")) == len(people.mails(BOB, "request")) == 1


def test_without_approval_links_nobody_can_be_asked_and_the_hook_fails_saying_so() -> None:
    parameters = {"EnableApprovalLinks": "false"}
    with (
        Sandbox(function_env={"POWERTOOLS_METRICS_DISABLED": "true"}, parameters=parameters) as sandbox,
        simulated_hooks(sandbox, SimulatedClock(grace=0.01)) as simulated,
    ):
        hooks = Hooks(sandbox, simulated)
        deployment_id, _ = _deploy(hooks)
        outcome = hooks.run(deployment_id)
        assert outcome.status == "Failed"
        verdict = hooks.verdict()
        assert verdict["check"] == "quote-errors"
        assert "approval links are off" in verdict["reason"], verdict
