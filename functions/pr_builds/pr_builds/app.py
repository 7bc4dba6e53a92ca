"""Entry point: pull request revisions and `/rebuild` comments → the repository's CodeBuild projects started."""

from __future__ import annotations

from codereflex.coldstart import collector_paused

with collector_paused():  # a cold start's imports, without garbage collection: see codereflex.coldstart
    from functools import cache
    from typing import Any

    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from codereflex.aws.clients import lazy_client
    from codereflex.aws.codebuild import CodeBuildProjects
    from codereflex.aws.codecommit import CodeCommitComments, CodeCommitPullRequests
    from codereflex.aws.revisions import RevisionLedger
    from codereflex.aws.ssm import ProjectMapping
    from codereflex.ci import ProjectCatalog
    from codereflex.events.pull_requests import COMMENT_ON_PULL_REQUEST, CommentEvent, PullRequestStateChangeEvent
    from codereflex.handler import final_on_permanent_error
    from codereflex.idempotency import DynamoDBOnce

    from .config import Settings
    from .logic import (
        Catalog,
        CommentReader,
        Ledger,
        Once,
        PullRequests,
        Result,
        Starter,
        Voter,
        handle,
        handle_comment,
    )

    logger, metrics = Logger(), Metrics()


@cache
def _client(service: str) -> Any:
    # Made on first use: a closed pull request's event needs no client at all.
    return lazy_client(service)


@cache
def _mapping(name: str) -> ProjectMapping:
    return ProjectMapping(_client("ssm"), name)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics
@final_on_permanent_error(logger, metrics)
def lambda_handler(
    event: dict[str, Any],
    context: LambdaContext,
    *,
    catalog: Catalog | None = None,
    starter: Starter | None = None,
    voter: Voter | None = None,
    once: Once | None = None,
    comments: CommentReader | None = None,
    pull_requests: PullRequests | None = None,
    ledger: Ledger | None = None,
) -> dict[str, Any]:
    settings = Settings.from_env()
    scope = settings.scope
    catalog = catalog or ProjectCatalog(scope, _mapping(scope.mapping_parameter) if scope.mapping_parameter else None)
    starter = starter or CodeBuildProjects(_client("codebuild"))
    once = once or DynamoDBOnce(settings.idempotency_table, _client("dynamodb"), namespace="pr-builds", context=context)
    ledger = ledger or RevisionLedger(_client("dynamodb"), settings.idempotency_table)
    if event.get("detail-type") == COMMENT_ON_PULL_REQUEST:
        comment = CommentEvent.read(event)
        result = handle_comment(
            comment,
            settings.bot_roles,
            catalog=catalog,
            comments=comments or CodeCommitComments(_client("codecommit")),
            pull_requests=pull_requests or CodeCommitPullRequests(_client("codecommit")),
            starter=starter,
            once=once,
            ledger=ledger,
            allowed=settings.startable,
        )
        pull_request_id, repository, what = (
            comment.detail.pull_request_id,
            comment.detail.repository_name,
            comment.detail.event,
        )
    else:
        envelope = PullRequestStateChangeEvent.read(event)
        voter = voter or CodeCommitPullRequests(_client("codecommit"))
        result = handle(envelope, catalog, starter, voter, once, ledger=ledger, allowed=settings.startable)
        pull_request_id, repository, what = (
            envelope.detail.pull_request_id,
            envelope.detail.repository_name,
            envelope.detail.event,
        )
    logger.info(
        "Pull request event handled",
        outcome=result.outcome.value,
        reason=result.reason,
        pull_request_id=pull_request_id,
        repository=repository,
        pull_request_event=what,
        builds=result.builds,
        revoked=result.revoked,
        missing_projects=result.missing,
        refused_projects=result.refused,
    )
    return _report(result)


def _report(result: Result) -> dict[str, Any]:
    metrics.add_metric(name=f"PullRequests.{result.outcome.value}", unit=MetricUnit.Count, value=1)
    if result.builds and result.outcome.value == "started":
        metrics.add_metric(name="BuildsStarted", unit=MetricUnit.Count, value=len(result.builds))
    if result.revoked:
        metrics.add_metric(name="Revocations", unit=MetricUnit.Count, value=1)
    return {
        "outcome": result.outcome.value,
        "reason": result.reason,
        "builds": result.builds,
        "revoked": result.revoked,
    }
