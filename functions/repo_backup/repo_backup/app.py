"""Entry point: a CodeCommit reference change (or the daily sweep) → git bundles, a manifest and the catalog in S3."""

from __future__ import annotations

from codereflex.coldstart import TRACED, collector_paused

with collector_paused():  # a cold start's imports, without garbage collection: see codereflex.coldstart
    import os
    from datetime import timedelta
    from functools import cache
    from typing import Any

    import boto3
    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from pygit2.callbacks import RemoteCallbacks

    from codereflex.aws.clients import lazy_client
    from codereflex.aws.codebuild import CodeBuildProjects, CodeBuildResults
    from codereflex.aws.codecommit_repositories import CodeCommitRepositories
    from codereflex.aws.s3 import S3ObjectStore
    from codereflex.backup.catalog import WarmCache
    from codereflex.backup.handoff import CodeBuildOffload
    from codereflex.backup.job import Collaborators, Policy
    from codereflex.backup.mirror import GitMirror
    from codereflex.backup.settings import Settings
    from codereflex.gitremote import CodeCommitCredentials
    from codereflex.handler import emit, final_on_permanent_error

    from .logic import Ports, Scope, handle, read

    logger, tracer, metrics = Logger(), Tracer(patch_modules=TRACED), Metrics()


@cache
def settings() -> Settings:
    # Once per execution environment: Lambda starts new ones when the function's configuration changes.
    return Settings.from_env(os.environ)


@cache
def _client(service: str) -> Any:
    # Made on first use (most runs neither hand off nor meet a handed-off lease: no CodeBuild client);
    # bundles are large: allow slow reads.
    return lazy_client(service, read_timeout=60)


@cache
def _warm() -> WarmCache:
    # Kept for the execution environment, like the mirrors in /tmp: the next push's run reuses both.
    return WarmCache()


def _git_credentials() -> RemoteCallbacks:
    # A new provider per network operation: it signs once per URL with the role's current credentials.
    return CodeCommitCredentials(boto3.Session().get_credentials(), os.environ.get("AWS_REGION"))  # type: ignore[arg-type]


def default_ports() -> Ports:
    config = settings()
    repositories = CodeCommitRepositories(_client("codecommit"))
    offload = None
    if config.build_project:
        # Even with the threshold unset: a run must still see that a build it handed off earlier is over.
        codebuild = _client("codebuild")
        offload = CodeBuildOffload(CodeBuildProjects(codebuild), config.build_project, CodeBuildResults(codebuild))
    parts = Collaborators(
        git=GitMirror(config.work_dir / "mirrors", _git_credentials),
        store=S3ObjectStore(_client("s3"), config.bucket, config.kms_key_id),
        scratch=config.work_dir / "scratch",
        metadata=repositories,
        offload=offload,
        warm=_warm(),
    )
    return Ports(repositories, parts)


def policy(config: Settings) -> Policy:
    return Policy(
        prefix=config.prefix,
        full_every=config.full_every,
        offload_bytes=config.handoff_bytes,
        keep_for=timedelta(days=config.keep_days) if config.keep_days else None,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
@final_on_permanent_error(logger, metrics)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config = settings()
    result = handle(
        read(event),
        default_ports(),
        policy(config),
        Scope(config.include, config.exclude),
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    return emit(result.report(), logger, metrics)
