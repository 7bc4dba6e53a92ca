"""Entry point: CodeBuild Build State Change → the living comment on its pull request or commit, and a vote."""

from __future__ import annotations

from codereflex.coldstart import TRACED, collector_paused

with collector_paused():  # a cold start's imports, without garbage collection: see codereflex.coldstart
    from functools import cache, partial
    from typing import Any

    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from codereflex.aws.clients import lazy_client
    from codereflex.aws.codebuild import CodeBuildResults
    from codereflex.aws.codecommit import CodeCommitComments, CodeCommitCommits, CodeCommitPullRequests
    from codereflex.aws.logs import LogTail
    from codereflex.aws.revisions import RevisionLedger
    from codereflex.aws.secrets import signer_from_secret
    from codereflex.aws.ssm import ProjectMapping
    from codereflex.ci.projects import ConfiguredProjects
    from codereflex.events.codebuild import BuildStateChangeEvent
    from codereflex.handler import emit, final_on_permanent_error

    from .config import Settings
    from .logic import handle
    from .ports import Ports, Trust
    from .records import CommentClaims

    logger, tracer, metrics = Logger(), Tracer(patch_modules=TRACED), Metrics()


@cache
def settings() -> Settings:
    # Once per execution environment: Lambda starts new ones when the function's configuration changes.
    return Settings.from_env()


@cache
def _client(service: str) -> Any:
    # Made on first use: an event that needs no CloudWatch Logs call never pays for its client.
    return lazy_client(service)


@cache
def _mapping(name: str) -> ProjectMapping:
    return ProjectMapping(_client("ssm"), name)


@cache
def _commits() -> CodeCommitCommits:
    # Kept for the execution environment: it remembers commits' parents, which never change.
    return CodeCommitCommits(_client("codecommit"))


@cache
def _trust(secret_id: str) -> Trust:
    # Who this function is and its signing key, asked once per execution environment, when first needed.
    identity = str(_client("sts").get_caller_identity()["Arn"])
    return Trust(identity, signer_from_secret(_client("secretsmanager"), secret_id))


def default_ports() -> Ports:
    config = settings()
    codecommit, dynamodb, scope = _client("codecommit"), _client("dynamodb"), config.scope
    return Ports(
        pull_requests=CodeCommitPullRequests(codecommit),
        comments=CodeCommitComments(codecommit),
        commits=_commits(),
        builds=CodeBuildResults(_client("codebuild")),
        logs=LogTail(_client("logs")),
        catalog=ConfiguredProjects(scope, _mapping(scope.mapping_parameter) if scope.mapping_parameter else None),
        revisions=RevisionLedger(dynamodb, config.records_table),
        claims=CommentClaims(dynamodb, config.records_table),
        trust=partial(_trust, config.signing_key_secret),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
@final_on_permanent_error(logger, metrics)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = handle(BuildStateChangeEvent.read(event), default_ports(), settings().options)
    return emit(result.report(), logger, metrics)
