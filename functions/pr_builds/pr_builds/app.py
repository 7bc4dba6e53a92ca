"""Entry point: pull request revisions and `/rebuild` comments → the repository's CodeBuild projects started."""

from __future__ import annotations

from codereflex.coldstart import TRACED, collector_paused

with collector_paused():  # a cold start's imports, without garbage collection: see codereflex.coldstart
    from functools import cache
    from typing import Any

    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from codereflex.aws.clients import lazy_client
    from codereflex.aws.codebuild import CodeBuildProjects
    from codereflex.aws.codecommit import CodeCommitComments, CodeCommitPullRequests
    from codereflex.aws.revisions import RevisionLedger
    from codereflex.aws.ssm import ProjectMapping
    from codereflex.ci.projects import ConfiguredProjects
    from codereflex.handler import emit, final_on_permanent_error
    from codereflex.idempotency import DynamoDBOnce

    from .config import Settings
    from .logic import Ports, handle, read

    logger, tracer, metrics = Logger(), Tracer(patch_modules=TRACED), Metrics()


@cache
def settings() -> Settings:
    # Once per execution environment: Lambda starts new ones when the function's configuration changes.
    return Settings.from_env()


@cache
def _client(service: str) -> Any:
    # Made on first use, kept for the execution environment: a closed pull request's event needs none.
    return lazy_client(service)


@cache
def _mapping(name: str) -> ProjectMapping:
    return ProjectMapping(_client("ssm"), name)


def default_ports(context: LambdaContext) -> Ports:
    config = settings()
    scope, codecommit = config.scope, _client("codecommit")
    return Ports(
        catalog=ConfiguredProjects(scope, _mapping(scope.mapping_parameter) if scope.mapping_parameter else None),
        starter=CodeBuildProjects(_client("codebuild")),
        voter=CodeCommitPullRequests(codecommit),
        once=DynamoDBOnce(config.idempotency_table, _client("dynamodb"), namespace="pr-builds", context=context),
        ledger=RevisionLedger(_client("dynamodb"), config.idempotency_table),
        comments=CodeCommitComments(codecommit),
        pull_requests=CodeCommitPullRequests(codecommit),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
@final_on_permanent_error(logger, metrics)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = handle(read(event), default_ports(context), settings().options)
    return emit(result.report(), logger, metrics)
