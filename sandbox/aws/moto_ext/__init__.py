"""moto plus what the suite needs and moto lacks: Code* operations, SNS mailboxes, atomic DynamoDB writes, Lambda
code, target health, throttling.

Call `install()` once before using moto (in-process `mock_aws()` or `ThreadedMotoServer`); plain
boto3 clients then reach the added operations. The other names are sandbox-only seeding hooks.
"""

from __future__ import annotations

from sandbox.aws.moto_ext import (
    cloudwatch,
    codebuild,
    codecommit,
    codedeploy,
    codepipeline,
    dynamodb,
    elbv2,
    lambda_versions,
    sns,
    throttling,
)
from sandbox.aws.moto_ext.codebuild import hold_builds, put_report, report_arn, set_build_status
from sandbox.aws.moto_ext.codecommit import (
    import_repository,
    number_pull_requests_from,
    refresh_pull_request,
    refresh_pull_requests,
)
from sandbox.aws.moto_ext.sns import Mail, mailbox

__all__ = [
    "Mail",
    "hold_builds",
    "import_repository",
    "install",
    "mailbox",
    "number_pull_requests_from",
    "put_report",
    "refresh_pull_request",
    "refresh_pull_requests",
    "report_arn",
    "set_build_status",
]


def install() -> None:
    """Patch moto's backends and responses (idempotent)."""
    codecommit.patch()
    codebuild.patch()
    codepipeline.patch()
    sns.patch()
    dynamodb.patch()
    codedeploy.patch()
    cloudwatch.patch()
    elbv2.patch()
    lambda_versions.patch()
    throttling.patch()
