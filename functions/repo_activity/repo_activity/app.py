"""Entry point: CodeCommit Repository State Change → a notice on the stack's notification topic."""

from __future__ import annotations

from codereflex.coldstart import collector_paused

with collector_paused():  # a cold start's imports, without garbage collection: see codereflex.coldstart
    from functools import cache
    from typing import Any

    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.parser import parse
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from codereflex.aws.clients import client
    from codereflex.aws.codecommit import CodeCommitHistory
    from codereflex.aws.sns import SnsTopic
    from codereflex.events.codecommit import RepositoryStateChangeEvent
    from codereflex.handler import final_on_permanent_error
    from codereflex.idempotency import DynamoDBOnce

    from .config import Settings
    from .logic import History, Once, Publisher, handle

    logger, tracer, metrics = Logger(), Tracer(), Metrics()


@cache
def _client(service: str) -> Any:
    # One place for botocore's retries (codereflex.aws.clients); adapters never loop on their own.
    return client(service)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
@final_on_permanent_error(logger, metrics)
def lambda_handler(
    event: dict[str, Any],
    context: LambdaContext,
    history: History | None = None,
    publisher: Publisher | None = None,
    once: Once | None = None,
) -> dict[str, Any]:
    settings = Settings.from_env()
    envelope = parse(event=event, model=RepositoryStateChangeEvent)
    outcome, notice = handle(
        envelope,
        settings.protected_branches,
        history or CodeCommitHistory(_client("codecommit")),
        publisher or SnsTopic(_client("sns"), settings.topic_arn),
        once
        or DynamoDBOnce(settings.idempotency_table, _client("dynamodb"), namespace="repo-activity", context=context),
    )
    change = envelope.detail
    logger.info(
        "Reference change handled",
        outcome=outcome.value,
        activity=notice.activity.value if notice else None,
        repository=change.repository_name,
        reference=change.reference_full_name,
    )
    metrics.add_metric(name=f"Notices.{outcome.value}", unit=MetricUnit.Count, value=1)
    return {"outcome": outcome.value, "activity": notice.activity.value if notice else None}
