"""template.yaml's approval links: who may read the link key, decide approvals, and hear CodePipeline's token."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import pytest

from codereflex.identity import Principals
from sandbox.lambdas.router import Router
from sandbox.lambdas.template import SamTemplate, load_template
from tests.conftest import ROOT

TEMPLATE = ROOT / "template.yaml"
PIPELINE_ARN = "arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${ApprovalPipelines}"


@pytest.fixture(scope="module")
def template() -> SamTemplate:
    return load_template(TEMPLATE)


def _statements(template: SamTemplate, function: str) -> list[dict[str, Any]]:
    return [s for p in template.function_properties(function)["Policies"] for s in p["Statement"]]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def _granted(template: SamTemplate, function: str, prefix: str) -> dict[str, Any]:
    return {a: s["Resource"] for s in _statements(template, function) for a in _actions(s) if a.startswith(prefix)}


@pytest.mark.parametrize("function", ["ApprovalRequestsFunction", "ApprovalPageFunction"])
def test_approvals_are_read_and_decided_only_on_the_pipelines_the_parameter_names(
    template: SamTemplate, function: str
) -> None:
    granted = _granted(template, function, "codepipeline:")
    assert granted.pop("codepipeline:PutApprovalResult") == {"Fn::Sub": PIPELINE_ARN + "/*/*"}
    assert granted
    assert all(resource == {"Fn::Sub": PIPELINE_ARN} for resource in granted.values()), granted


def test_the_link_key_is_generated_and_read_only_by_the_approval_functions(template: SamTemplate) -> None:
    secret = template.resources["ApprovalLinkKey"]["Properties"]["GenerateSecretString"]
    assert secret["PasswordLength"] >= 32
    readers = sorted(
        lid
        for lid in template.function_ids()
        for statement in _statements(template, lid)
        if statement["Resource"] == {"Ref": "ApprovalLinkKey"}
    )
    assert readers == ["ApprovalPageFunction", "ApprovalRequestsFunction"]
    # and the deploy hooks, which sign links to ask a person: one policy, on their five roles alone
    policies = {
        lid: resource["Properties"]
        for lid, resource in template.resources.items()
        if resource.get("Type") == "AWS::IAM::Policy"
        and {"Ref": "ApprovalLinkKey"} in [s["Resource"] for s in resource["Properties"]["PolicyDocument"]["Statement"]]
    }
    assert list(policies) == ["DeployHooksAskPeoplePolicy"]
    hooks = ["BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic"]
    assert policies["DeployHooksAskPeoplePolicy"]["Roles"] == [{"Ref": f"DeployHook{h}FunctionRole"} for h in hooks]
    assert template.resources["DeployHooksAskPeoplePolicy"]["Condition"] == "HooksAskPeople"


def test_codepipelines_token_reaches_the_requests_function_alone(template: SamTemplate) -> None:
    # No subscription in the template, and the topic's policy refuses any that is not a Lambda function
    subscriptions = [r for r in template.resources.values() if r.get("Type") == "AWS::SNS::Subscription"]
    assert all(s["Properties"]["TopicArn"] != {"Ref": "ApprovalNotificationTopic"} for s in subscriptions)
    policy = template.resources["ApprovalNotificationTopicPolicy"]["Properties"]["PolicyDocument"]
    denied = [s["Condition"] for s in policy["Statement"] if s["Action"] == "sns:Subscribe" and s["Effect"] == "Deny"]
    assert denied == [
        {"StringNotEquals": {"sns:Protocol": "lambda"}},
        {"StringNotEquals": {"sns:Endpoint": {"Fn::GetAtt": ["ApprovalRequestsFunction", "Arn"]}}},
    ]
    subscribers = [
        lid
        for lid in template.function_ids()
        for event in (template.function_properties(lid).get("Events") or {}).values()
        if event["Type"] == "SNS" and event["Properties"]["Topic"] == {"Ref": "ApprovalNotificationTopic"}
    ]
    assert subscribers == ["ApprovalRequestsFunction"]


def test_both_approval_topics_are_encrypted_with_the_key_the_function_may_use(template: SamTemplate) -> None:
    for topic in ("ApprovalMailTopic", "ApprovalNotificationTopic"):
        assert template.resources[topic]["Properties"]["KmsMasterKeyId"] == {"Ref": "ApprovalTopicKey"}
    kms = _granted(template, "ApprovalRequestsFunction", "kms:")
    assert kms
    assert all(value == {"Fn::GetAtt": ["ApprovalTopicKey", "Arn"]} for value in kms.values()), kms
    assert _granted(template, "ApprovalRequestsFunction", "sns:") == {"sns:Publish": {"Ref": "ApprovalMailTopic"}}


def test_the_requests_function_links_to_the_page_functions_url() -> None:
    router = Router.from_template(TEMPLATE)
    page = router.template.function_properties("ApprovalPageFunction")
    assert page["FunctionUrlConfig"] == {"AuthType": "NONE"}
    assert page["ReservedConcurrentExecutions"] > 0
    env = router.function("ApprovalRequestsFunction").environment
    assert env["APPROVAL_PAGE_URL"].startswith("https://")


def test_the_sweep_reports_only_claims_the_page_can_no_longer_be_reporting() -> None:
    # A claim older than UNREPORTED_AFTER is from an invocation that has ended: twice the page's timeout
    router = Router.from_template(TEMPLATE)
    sys.path.insert(0, str(router.function("ApprovalRequestsFunction").code_uri))
    try:
        sweep = importlib.import_module("approval_requests.sweep")
    finally:
        sys.path.pop(0)
    assert router.function("ApprovalPageFunction").timeout * 2 < sweep.UNREPORTED_AFTER.total_seconds()


def test_the_approvals_table_expires_records_by_ttl(template: SamTemplate) -> None:
    table = template.resources["ApprovalsTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]


def test_both_approval_functions_know_each_others_role_as_proof_of_a_decision_here() -> None:
    # CodePipeline records the caller of PutApprovalResult as a session of the caller's role; only the
    # page's and the requests function's sessions may turn an ending into "approved-here".
    router = Router.from_template(TEMPLATE)

    def session(role: str) -> str:
        arn = router.resolver.get_att(f"{role}Role", "Arn")
        return f"arn:aws:sts::{arn.split(':')[4]}:assumed-role/{arn.rsplit('/', 1)[1]}/{role}"

    for function in ("ApprovalRequestsFunction", "ApprovalPageFunction"):
        ours = Principals(router.function(function).environment["APPROVAL_DECIDER_ROLES"].split(","))
        assert session("ApprovalPageFunction") in ours
        assert session("ApprovalRequestsFunction") in ours
        assert session("BuildResultsFunction") not in ours
        assert "arn:aws:iam::123456789012:user/developer" not in ours
