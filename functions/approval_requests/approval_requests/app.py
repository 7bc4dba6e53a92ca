"""Entry point: a manual approval's state change, CodePipeline's approval message or the sweep → approvers' mail."""

from __future__ import annotations

from codereflex.coldstart import TRACED, collector_paused

with collector_paused():  # a cold start's imports, without garbage collection: see codereflex.coldstart
    from datetime import UTC, datetime
    from functools import cache
    from typing import Any

    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from codereflex.approvals.approvers import ConfiguredApprovers
    from codereflex.approvals.links import LinkSigner
    from codereflex.aws.approvals import ApprovalStore
    from codereflex.aws.clients import lazy_client
    from codereflex.aws.codecommit import CodeCommitCommits
    from codereflex.aws.codepipeline import CodePipelineApprovals
    from codereflex.aws.secrets import keyring_from_secret
    from codereflex.aws.sns import SnsTopic
    from codereflex.handler import emit, final_on_permanent_error
    from codereflex.idempotency import DynamoDBOnce
    from codereflex.identity import Principals

    from .config import Settings
    from .logic import handle, read
    from .ports import Ports

    logger, tracer, metrics = Logger(), Tracer(patch_modules=TRACED), Metrics()


@cache
def settings() -> Settings:
    # Once per execution environment: Lambda starts new ones when the function's configuration changes.
    return Settings.from_env()


@cache
def _client(service: str) -> Any:
    return lazy_client(service)  # made on first use, kept for the execution environment


@cache
def _links() -> LinkSigner:
    # The key is fetched the first time a link is signed (a close-out signs none), then kept.
    return LinkSigner(keyring_from_secret(_client("secretsmanager"), settings().link_key_secret))


@cache
def _approvers() -> ConfiguredApprovers:
    # Kept warm: its SSM mapping is cached for a few minutes, as the build projects mapping is.
    config = settings()
    return ConfiguredApprovers(
        defaults=config.approvers,
        quorum=config.quorum,
        tags=CodePipelineApprovals(_client("codepipeline")).tags,
        ssm=_client("ssm") if config.approvers_parameter else None,
        parameter=config.approvers_parameter,
    )


@cache
def _deciders() -> Principals:
    # codereflex's deciding roles (the template names the page's and this function's) and this
    # function's own identity, asked once per execution environment, only when an ending is attributed.
    own = str(_client("sts").get_caller_identity()["Arn"])
    return Principals((own, *settings().decider_roles))


def _ours(arn: str | None) -> bool:
    return arn in _deciders()


def clock() -> datetime:
    return datetime.now(UTC)


def default_ports(context: LambdaContext) -> Ports:
    config = settings()
    return Ports(
        pipelines=CodePipelineApprovals(_client("codepipeline"), CodeCommitCommits(_client("codecommit"))),
        approvers=_approvers(),
        store=ApprovalStore(_client("dynamodb"), config.table),
        mail=SnsTopic(_client("sns"), config.mail_topic_arn),
        once=DynamoDBOnce(config.idempotency_table, _client("dynamodb"), namespace="approval-mail", context=context),
        links=_links,
        clock=clock,
        ours=_ours,
    )


# Never log_event: CodePipeline's SNS message carries the approval's token.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@final_on_permanent_error(logger, metrics)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = handle(read(event), default_ports(context), settings().options)
    return emit(result.report(), logger, metrics)
