"""Entry point: a CodeCommit reference change (or the daily sweep) → git bundles, a manifest and the catalog in S3."""

from __future__ import annotations

from codereflex.coldstart import collector_paused

with collector_paused():  # a cold start's imports, without garbage collection: see codereflex.coldstart
    import os
    import time
    from datetime import timedelta
    from functools import cache
    from typing import Any

    import boto3
    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.parser import parse
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from pygit2.callbacks import RemoteCallbacks

    from codereflex.aws.clients import client, lazy_client
    from codereflex.aws.codebuild import CodeBuildProjects, CodeBuildResults
    from codereflex.aws.codecommit_repositories import CodeCommitRepositories
    from codereflex.aws.s3 import S3ObjectStore
    from codereflex.backup.engine import (
        BackupResult,
        Collaborators,
        GitSource,
        Offload,
        Outcome,
        Policy,
        WarmCache,
    )
    from codereflex.backup.handoff import CodeBuildOffload
    from codereflex.backup.mirror import GitMirror
    from codereflex.backup.store import ObjectStore
    from codereflex.errors import CodeReflexError, PermanentError
    from codereflex.events.codecommit import RepositoryStateChangeEvent
    from codereflex.events.scheduled import SCHEDULED_EVENT, ScheduledEvent
    from codereflex.gitremote import CodeCommitCredentials
    from codereflex.handler import final_on_permanent_error

    from .config import Settings
    from .logic import Scope, back_up_repository, sweep

    logger, tracer, metrics = Logger(), Tracer(), Metrics()


@cache
def _client(service: str) -> Any:
    return client(service, read_timeout=60)  # bundles are large: allow slow reads


@cache
def _codebuild() -> Any:
    # Made on first use: most runs neither hand off nor meet a handed-off lease.
    return lazy_client("codebuild")


@cache
def _warm() -> WarmCache:
    # Kept for the execution environment, like the mirrors in /tmp: the next push's run reuses both.
    return WarmCache()


def _git_credentials() -> RemoteCallbacks:
    # A new provider per network operation: it signs once per URL with the role's current credentials.
    return CodeCommitCredentials(boto3.Session().get_credentials(), os.environ.get("AWS_REGION"))  # type: ignore[arg-type]


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
@final_on_permanent_error(logger, metrics)
def lambda_handler(
    event: dict[str, Any],
    context: LambdaContext,
    repositories: CodeCommitRepositories | None = None,
    store: ObjectStore | None = None,
    git: GitSource | None = None,
    *,
    offload: Offload | None = None,
) -> dict[str, Any]:
    settings = Settings.from_env(os.environ)
    repositories = repositories or CodeCommitRepositories(_client("codecommit"))
    if offload is None and settings.build_project:
        # Even with the threshold unset: a run must still see that a build it handed off earlier is over.
        codebuild = _codebuild()
        offload = CodeBuildOffload(CodeBuildProjects(codebuild), settings.build_project, CodeBuildResults(codebuild))
    parts = Collaborators(
        git=git or GitMirror(settings.work_dir / "mirrors", _git_credentials),
        store=store or S3ObjectStore(_client("s3"), settings.bucket, settings.kms_key_id),
        scratch=settings.work_dir / "scratch",
        metadata=repositories,
        offload=offload,
        warm=_warm(),
    )
    policy = Policy(
        prefix=settings.prefix,
        full_every=settings.full_every,
        offload_bytes=settings.handoff_bytes,
        keep_for=timedelta(days=settings.keep_days) if settings.keep_days else None,
    )
    scope = Scope(settings.include, settings.exclude)
    if event.get("detail-type") == SCHEDULED_EVENT:
        tick = ScheduledEvent.model_validate(event)
        return _sweep(scope, repositories, policy, parts, context, trigger_id=tick.id)
    envelope = parse(event=event, model=RepositoryStateChangeEvent)
    change = envelope.detail
    if not scope.covers(change.repository_name):
        logger.info("Repository out of backup scope", repository=change.repository_name)
        return {"outcome": "out-of-scope"}
    started = time.monotonic()
    try:
        result = back_up_repository(change.repository_name, envelope.id, repositories, policy, parts)
    except CodeReflexError as error:
        _failed(change.repository_name, error)
        raise
    _record(result, time.monotonic() - started, policy)
    if result.outcome is Outcome.HANDED_OFF:
        return {"outcome": result.outcome.value, "buildId": result.build_id, "sizeBytes": result.size_bytes}
    return {"outcome": result.outcome.value, "backupId": result.backup_id, "bytes": result.bytes_uploaded}


def _sweep(
    scope: Scope,
    repositories: CodeCommitRepositories,
    policy: Policy,
    parts: Collaborators,
    context: LambdaContext,
    *,
    trigger_id: str | None,
) -> dict[str, Any]:
    started = time.monotonic()
    swept = sweep(
        scope,
        repositories,
        policy,
        parts,
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
        trigger_id=trigger_id,
    )
    for result in swept.results:
        _record(result, None, policy)
    for name, error in swept.failures:
        _failed(name, error)
    for name, removed in swept.pruned:
        logger.info("Backups pruned", repository=name, backups=len(removed), oldest=removed[0], newest=removed[-1])
        metrics.add_metric(name="BackupsPruned", unit=MetricUnit.Count, value=len(removed))
    if swept.skipped_for_time:
        logger.warning("Sweep ran out of time", remaining=len(swept.skipped_for_time))
    logger.info(
        "Sweep finished",
        backed_up=sum(result.outcome is Outcome.BACKED_UP for result in swept.results),
        unchanged=sum(result.outcome is Outcome.UNCHANGED for result in swept.results),
        handed_off=sum(result.outcome is Outcome.HANDED_OFF for result in swept.results),
        failed=len(swept.failures),
        seconds=round(time.monotonic() - started, 1),
    )
    return {
        "outcome": "swept",
        "backedUp": [r.repository for r in swept.results if r.outcome is Outcome.BACKED_UP],
        "unchanged": [r.repository for r in swept.results if r.outcome is Outcome.UNCHANGED],
        "handedOff": {r.repository: r.build_id for r in swept.results if r.outcome is Outcome.HANDED_OFF},
        "failed": [name for name, _ in swept.failures],
        "notReached": list(swept.skipped_for_time),
        "pruned": {name: list(removed) for name, removed in swept.pruned},
    }


def _record(result: BackupResult, seconds: float | None, policy: Policy) -> None:
    if result.ended_hand_off is not None:
        # The build it was handed to failed, stopped, timed out or never started: no backup ran meanwhile.
        logger.warning(
            "Backup lease taken back from a hand-off that ended",
            repository=result.repository,
            build_id=result.ended_hand_off.build_id,
            build_status=result.ended_hand_off.status,
            outcome=result.outcome.value,
        )
        metrics.add_metric(name="HandOffsRecovered", unit=MetricUnit.Count, value=1)
    if result.outcome is Outcome.HANDED_OFF:
        if result.already_handed_off:
            # A redelivered event, or a push while the build runs: the build holds the lease, no second one.
            logger.info(
                "Backup already handed off to CodeBuild", repository=result.repository, build_id=result.build_id
            )
            return
        logger.info(
            "Backup handed off to CodeBuild",
            repository=result.repository,
            size_bytes=result.size_bytes,
            threshold_bytes=policy.offload_bytes,
            build_id=result.build_id,
        )
        metrics.add_metric(name="BackupsHandedOff", unit=MetricUnit.Count, value=1)
        return
    if result.outcome is Outcome.UNCHANGED:
        logger.info("Backup unchanged", repository=result.repository, latest=result.backup_id, adopted=result.adopted)
        metrics.add_metric(name="BackupsUnchanged", unit=MetricUnit.Count, value=1)
        return
    logger.info(
        "Backup written",
        repository=result.repository,
        backup_id=result.backup_id,
        full=result.full,
        objects=result.objects,
        refs=result.refs,
        bytes=result.bytes_uploaded,
    )
    metrics.add_metric(name="BackupsDone", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="BytesUploaded", unit=MetricUnit.Bytes, value=result.bytes_uploaded)
    if seconds is not None:
        metrics.add_metric(name="BackupDuration", unit=MetricUnit.Milliseconds, value=round(seconds * 1000))


def _failed(repository: str, error: CodeReflexError) -> None:
    kind = "permanent" if isinstance(error, PermanentError) else "transient"
    logger.error("Backup failed", repository=repository, kind=kind, error=str(error))
    metrics.add_metric(name="BackupFailures", unit=MetricUnit.Count, value=1)
