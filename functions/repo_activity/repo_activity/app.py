"""Entry point: CodeCommit Repository State Change → a notice on the stack's notification topic."""

from __future__ import annotations

from codereflex.coldstart import TRACED, collector_paused

with collector_paused():  # a cold start's imports, without garbage collection: see codereflex.coldstart
    from functools import cache
    from typing import Any

    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from codereflex.aws.clients import lazy_client
    from codereflex.aws.codecommit import CodeCommitHistory
    from codereflex.aws.sns import SnsTopic
    from codereflex.events.codecommit import RepositoryStateChangeEvent
    from codereflex.handler import emit, final_on_permanent_error
    from codereflex.idempotency import DynamoDBOnce

    from .config import Settings
    from .logic import Ports, handle

    logger, tracer, metrics = Logger(), Tracer(patch_modules=TRACED), Metrics()


@cache
def settings() -> Settings:
    # Once per execution environment: Lambda starts new ones when the function's configuration changes.
    return Settings.from_env()


@cache
def _client(service: str) -> Any:
    return lazy_client(service)  # made on first use, kept for the execution environment


def default_ports(context: LambdaContext) -> Ports:
    config = settings()
    return Ports(
        history=CodeCommitHistory(_client("codecommit")),
        publisher=SnsTopic(_client("sns"), config.topic_arn),
        once=DynamoDBOnce(config.idempotency_table, _client("dynamodb"), namespace="repo-activity", context=context),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
@final_on_permanent_error(logger, metrics)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = handle(RepositoryStateChangeEvent.read(event), default_ports(context), settings().protected_branches)
    return emit(result.report(), logger, metrics)
