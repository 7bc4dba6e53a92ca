"""`codereflex approvers sync` against moto's SNS: one filtered email subscription per approver, leaks reported."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import moto
import pytest

from codereflex.cli.main import main

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"


@pytest.fixture
def sns() -> Iterator[Any]:
    with moto.mock_aws():
        yield boto3.client("sns", region_name="us-east-1")


@pytest.fixture
def topic(sns: Any) -> str:
    return str(sns.create_topic(Name="approval-mail")["TopicArn"])


def subscriptions(sns: Any, topic: str) -> dict[str, Any]:
    """endpoint -> filter policy (parsed; None without one)."""
    found: dict[str, Any] = {}
    for sub in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]:
        attributes = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
        policy = attributes.get("FilterPolicy")
        found[f"{sub['Protocol']}:{sub['Endpoint']}"] = json.loads(policy) if policy else None
    return found


def sync(topic: str, *args: str) -> int:
    return main(["approvers", "sync", "--topic", topic, *args])


def test_each_approver_gets_one_subscription_filtered_to_them_and_a_second_run_changes_nothing(
    sns: Any, topic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    mapping = {"payments": {"approvers": ["Bob@Example.com", CAROL], "quorum": 2}}
    ssm.put_parameter(Name="/codereflex/approvers", Type="String", Value=json.dumps(mapping))
    assert sync(topic, "--approvers", f"{ALICE}, {BOB}", "--parameter", "/codereflex/approvers") == 0
    expected = {f"email:{who}": {"approver": [who]} for who in (ALICE, BOB, CAROL)}
    assert subscriptions(sns, topic) == expected
    assert capsys.readouterr().out.count("created") == 3
    assert sync(topic, "--approvers", f"{ALICE},{BOB},{CAROL}") == 0
    assert subscriptions(sns, topic) == expected
    out = capsys.readouterr().out
    assert "created" not in out and out.count("ok ") == 3


def test_approvers_named_in_pipeline_tags_are_subscribed(sns: Any, topic: str) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}}]}
    role = iam.create_role(RoleName="pipeline", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    approval = {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}
    codepipeline: Any = boto3.client("codepipeline", region_name="us-east-1")
    codepipeline.create_pipeline(
        pipeline={
            "name": "payments",
            "roleArn": role,
            "artifactStore": {"type": "S3", "location": "artifacts"},
            "stages": [{"name": "A", "actions": [{"name": "B", "actionTypeId": approval}]}] * 2,
        },
        tags=[{"key": "codereflex:approvers", "value": f"{ALICE} {CAROL}"}],
    )
    assert sync(topic, "--tags") == 0
    assert set(subscriptions(sns, topic)) == {f"email:{ALICE}", f"email:{CAROL}"}


def test_subscriptions_that_would_leak_links_are_reported_and_fixed_only_when_asked(
    sns: Any, topic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Alice subscribed by hand without a filter; an auditor's queue and Mallory filtered to Bob.
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="Alice@example.com")
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="audit@example.com")
    policy = json.dumps({"approver": [BOB]})
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="mallory@example.com", Attributes={"FilterPolicy": policy})
    before = subscriptions(sns, topic)
    assert sync(topic, "--approvers", f"{ALICE},{BOB}") == 1
    out = capsys.readouterr().out
    assert "PROBLEM" in out and "every approver's links" in out and "bob@example.com's links would reach" in out
    assert "3 subscription(s) would receive links meant for others" in out
    after = subscriptions(sns, topic)
    assert after == before | {f"email:{BOB}": {"approver": [BOB]}}  # only the missing approver was added

    assert sync(topic, "--approvers", f"{ALICE},{BOB}", "--fix") == 0
    assert subscriptions(sns, topic) == {
        "email:Alice@example.com": {"approver": [ALICE]},
        f"email:{BOB}": {"approver": [BOB]},
    }
    assert sync(topic, "--approvers", f"{ALICE},{BOB}") == 0


def test_a_dry_run_changes_nothing(sns: Any, topic: str, capsys: pytest.CaptureFixture[str]) -> None:
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="audit@example.com")
    assert sync(topic, "--approvers", ALICE, "--fix", "--dry-run") == 0
    assert subscriptions(sns, topic) == {"email:audit@example.com": None}
    out = capsys.readouterr().out
    assert "would be created" in out and "would be removed" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--approvers", "alice@example.com,not-an-address"], "'not-an-address' in --approvers is not an email"),
        ([], "no approvers configured"),
    ],
)
def test_bad_configuration_is_one_sentence_and_changes_nothing(
    sns: Any, topic: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert sync(topic, *args) == 1
    assert message in capsys.readouterr().err
    assert subscriptions(sns, topic) == {}


def test_without_a_topic_it_says_which_to_pass(sns: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["approvers", "sync", "--approvers", ALICE]) == 1
    assert "pass --topic" in capsys.readouterr().err
