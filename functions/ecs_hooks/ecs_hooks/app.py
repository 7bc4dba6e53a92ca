"""Entry point: an ECS native blue/green lifecycle hook → SUCCEEDED, FAILED (with a reason) or IN_PROGRESS."""

from __future__ import annotations

from codereflex.coldstart import TRACED, collector_paused

with collector_paused():  # a cold start's imports, without garbage collection: see codereflex.coldstart
    import time
    from functools import cache
    from typing import Any

    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from codereflex.aws.clients import lazy_client
    from codereflex.aws.cloudwatch import CloudWatchAlarms, CloudWatchMetrics
    from codereflex.aws.ecs import EcsBlueGreen
    from codereflex.aws.elbv2 import TargetHealth
    from codereflex.aws.lambdas import VersionInvoker
    from codereflex.aws.s3 import ReportObjects, S3ObjectStore
    from codereflex.aws.secrets import signer_from_secret
    from codereflex.aws.sns import SnsTopic
    from codereflex.handler import emit
    from codereflex.signing import Signer
    from codereflex.validation import ports as checks
    from codereflex.validation import publish
    from codereflex.validation.probes import HttpProber

    from .config import Settings
    from .logic import Ports, handle

    logger, tracer, metrics = Logger(), Tracer(patch_modules=TRACED), Metrics()


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def _client(service: str) -> Any:
    return lazy_client(service)


@cache
def _signer() -> Signer:
    # One GetSecretValue per execution environment; the key never leaves the Signer.
    return signer_from_secret(_client("secretsmanager"), settings().state_secret_arn)


def default_ports() -> Ports:
    config = settings()
    objects = ReportObjects(S3ObjectStore(_client("s3"), config.bucket))
    return Ports(
        specs=objects,
        services=EcsBlueGreen(_client("ecs"), _client("elbv2")),
        checks=checks.Ports(
            http=HttpProber(),
            lambdas=VersionInvoker(_client("lambda")),
            metrics=CloudWatchMetrics(_client("cloudwatch")),
            alarms=CloudWatchAlarms(_client("cloudwatch")),
            targets=TargetHealth(_client("elbv2")),
            clock=SystemClock(),
        ),
        publishing=publish.Ports(
            objects, SnsTopic(_client("sns"), config.topic_arn), metrics, publish.Links(config.bucket, config.region)
        ),
        signer=_signer(),
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    # ECS rolls back on an error without saying why: every failure here is an answer, FAILED with a reason.
    try:
        remaining_s = context.get_remaining_time_in_millis() / 1000
        result = handle(event, default_ports(), remaining_s, settings().run_seconds)
        return emit(result.report(), logger, metrics)
    except Exception as error:  # the last line of defence: never a crash, never a secret in the reason
        logger.exception("Hook failed unexpectedly", error_type=type(error).__name__)
        metrics.add_metric(name="UnexpectedErrors", unit=MetricUnit.Count, value=1)
        reason = f"the hook failed unexpectedly ({type(error).__name__}); see the function's log"
        return {"hookStatus": "FAILED", "hookDetails": {"codereflex": {"reason": reason}}}
