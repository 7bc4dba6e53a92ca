"""moto plus the CodeCommit, CodeBuild and CodePipeline operations moto lacks, SNS mailboxes, atomic DynamoDB writes.

Call `install()` once before using moto (in-process `mock_aws()` or `ThreadedMotoServer`); plain
boto3 clients then reach the added operations. The other names are sandbox-only seeding hooks.
"""

from __future__ import annotations

from sandbox.aws.moto_ext import codebuild, codecommit, codepipeline, dynamodb, sns
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
    """Patch moto's CodeCommit, CodeBuild, CodePipeline and SNS backends and responses, and DynamoDB's writes."""
    codecommit.patch()
    codebuild.patch()
    codepipeline.patch()
    sns.patch()
    dynamodb.patch()
