"""SNS: publish readable notices with filterable message attributes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

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
