"""SNS: publish readable notices with filterable message attributes; keep a topic's subscriptions filtered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from codereflex.approvals.subscriptions import Subscription
from codereflex.aws.errors import translate

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

# SNS rejects subjects over 100 characters, and anything but printable ASCII without line breaks.
SUBJECT_LIMIT = 100


def email_safe_subject(subject: str) -> str:
    """Make any text a valid SNS subject: printable ASCII on one line, at most 100 characters."""
    flat = "".join(ch if " " <= ch <= "~" else "?" for ch in " ".join(subject.split()))
    return flat if len(flat) <= SUBJECT_LIMIT else flat[: SUBJECT_LIMIT - 3] + "..."


class SnsTopic:
    """One SNS topic; each method makes one call."""

    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, subject: str, body: str, attributes: Mapping[str, str]) -> str:
        """Publish and return the SNS message id."""
        try:
            response = self._client.publish(
                TopicArn=self._topic_arn,
                Subject=email_safe_subject(subject),
                Message=body,
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value} for name, value in attributes.items() if value
                },
            )
        except ClientError as error:
            raise translate(error, f"publish to {self._topic_arn}", gone=frozenset({"NotFound"})) from error
        return response["MessageId"]


class SnsSubscriptions:
    """One topic's subscriptions, as `codereflex approvers sync` reads and changes them."""

    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def subscriptions(self) -> list[Subscription]:
        """Every subscription with its filter policy (one GetSubscriptionAttributes each; pending ones have none)."""
        found: list[Subscription] = []
        try:
            for page in self._client.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=self._topic_arn):
                for raw in page.get("Subscriptions", []):
                    sub = Subscription(raw.get("SubscriptionArn", ""), raw.get("Protocol", ""), raw.get("Endpoint", ""))
                    if not sub.pending:
                        attributes = self._client.get_subscription_attributes(SubscriptionArn=sub.arn)["Attributes"]
                        sub = sub._replace(
                            filter_policy=attributes.get("FilterPolicy"),
                            filter_scope=attributes.get("FilterPolicyScope"),
                        )
                    found.append(sub)
        except ClientError as error:
            raise translate(
                error, f"listing the subscriptions of {self._topic_arn}", gone=frozenset({"NotFound"})
            ) from error
        return found

    def subscribe_email(self, address: str, policy: str) -> str:
        """Subscribe with the filter policy set from the start (SNS emails the address to confirm)."""
        try:
            response = self._client.subscribe(
                TopicArn=self._topic_arn,
                Protocol="email",
                Endpoint=address,
                Attributes={"FilterPolicy": policy, "FilterPolicyScope": "MessageAttributes"},
                ReturnSubscriptionArn=True,
            )
        except ClientError as error:
            raise translate(
                error, f"subscribing {address} to {self._topic_arn}", gone=frozenset({"NotFound"})
            ) from error
        return response.get("SubscriptionArn", "")

    def set_filter(self, subscription_arn: str, policy: str) -> None:
        try:
            self._client.set_subscription_attributes(
                SubscriptionArn=subscription_arn, AttributeName="FilterPolicyScope", AttributeValue="MessageAttributes"
            )
            self._client.set_subscription_attributes(
                SubscriptionArn=subscription_arn, AttributeName="FilterPolicy", AttributeValue=policy
            )
        except ClientError as error:
            raise translate(error, f"setting the filter policy of {subscription_arn}") from error

    def unsubscribe(self, subscription_arn: str) -> None:
        try:
            self._client.unsubscribe(SubscriptionArn=subscription_arn)
        except ClientError as error:
            raise translate(error, f"removing {subscription_arn}", gone=frozenset({"NotFound"})) from error
