"""Entry point: a CodeDeploy lifecycle hook (or this function's own continuation) → a validated, reported hook."""

from __future__ import annotations

from codereflex.coldstart import TRACED, collector_paused

with collector_paused():  # a cold start's imports, without garbage collection: see codereflex.coldstart
    import json
    import os
    import time
    from collections.abc import Mapping
    from functools import cache
    from typing import Any

    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from codereflex.approvals.links import LinkSigner
    from codereflex.approvals.mailing import Mailer
    from codereflex.aws.approvals import ApprovalStore
    from codereflex.aws.clients import lazy_client
    from codereflex.aws.cloudwatch import CloudWatchAlarms, CloudWatchMetrics
    from codereflex.aws.codedeploy import CodeDeployDeployments
    from codereflex.aws.elbv2 import LoadBalancers, TargetHealth
    from codereflex.aws.hookrecords import HookRecords
    from codereflex.aws.lambdas import VersionInvoker
    from codereflex.aws.s3 import ReportObjects, S3ObjectStore
    from codereflex.aws.secrets import keyring_from_secret
    from codereflex.aws.sns import SnsTopic
    from codereflex.events import codedeploy
    from codereflex.handler import emit, final_on_permanent_error
    from codereflex.idempotency import DynamoDBOnce
    from codereflex.validation import ports as checks
    from codereflex.validation import publish
    from codereflex.validation.probes import HttpProber

    from . import people
    from .config import HOOK_VARIABLE, ApprovalLinks, Settings
    from .logic import Options, Ports, Run, handle

    logger, tracer, metrics = Logger(), Tracer(patch_modules=TRACED), Metrics()


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


# The clock every check and deadline reads; the sandbox's tests put a simulated one here.
CLOCK: checks.Clock = SystemClock()


def settings() -> Settings:
    # Keyed by the hook: in Lambda each function has its own environment, in the sandbox's one
    # interpreter the five hook functions share this module.
    return _settings(os.environ.get(HOOK_VARIABLE, ""))


@cache
def _settings(_hook: str) -> Settings:
    return Settings.from_env()


@cache
def _client(service: str) -> Any:
    return lazy_client(service)


@cache
def _prober() -> HttpProber:
    return HttpProber()  # its thread pool stays warm with the execution environment


class _Specs:
    def __init__(self, objects: ReportObjects, bucket: str) -> None:
        self._objects, self.bucket = objects, bucket

    def read(self, key: str) -> bytes | None:
        return self._objects.get_bytes(key)


class LambdaContinuer:
    """The next run: this very function invoked asynchronously (Lambda keeps and retries the event)."""

    def __init__(self, client: Any, function_arn: str) -> None:
        self._client, self._arn = client, function_arn

    def hand_over(self, payload: Mapping[str, Any]) -> None:
        self._client.invoke(FunctionName=self._arn, InvocationType="Event", Payload=json.dumps(dict(payload)).encode())


class ReportPublisher:
    """The report in the validation bucket (JSON and its page) and, for a failed hook, a notice on the topic."""

    def __init__(self, deployments: CodeDeployDeployments, ports: publish.Ports) -> None:
        self._deployments, self._ports = deployments, ports

    def publish(self, report: Mapping[str, Any]) -> str | None:
        deployment = self._deployments.deployment(str(report["deploymentId"]))
        subject = publish.Subject.codedeploy(
            deployment.application, deployment.group, deployment.deployment_id, str(report["hook"])
        )
        decided_by = str(report["decidedBy"]) if report.get("decidedBy") else None
        published = publish.publish(report, subject, self._ports, decided_by=decided_by)
        return self._ports.links.uri(published.html_key)


@cache
def _link_signer(secret_id: str) -> LinkSigner:
    # The key is read the first time a link is signed, then kept with the execution environment.
    return LinkSigner(keyring_from_secret(_client("secretsmanager"), secret_id))


def _asker(links: ApprovalLinks | None, table: str, context: LambdaContext) -> people.Asking | None:
    if links is None:
        return None
    once = DynamoDBOnce(table, _client("dynamodb"), namespace="approval-mail", context=context)
    mail = SnsTopic(_client("sns"), links.mail_topic_arn)
    mailer = Mailer(lambda: _link_signer(links.link_key_secret), links.page_url, mail, once)
    return people.Asking(ApprovalStore(_client("dynamodb"), links.table), mailer)


def default_ports(context: LambdaContext) -> Ports:
    config = settings()
    validation = checks.Ports(
        http=_prober(),
        lambdas=VersionInvoker(_client("lambda")),
        metrics=CloudWatchMetrics(_client("cloudwatch")),
        alarms=CloudWatchAlarms(_client("cloudwatch")),
        targets=TargetHealth(_client("elbv2")),
        clock=CLOCK,
    )
    deployments = CodeDeployDeployments(_client("codedeploy"))
    objects = ReportObjects(S3ObjectStore(_client("s3"), config.bucket))
    reports = publish.Ports(
        objects, SnsTopic(_client("sns"), config.topic_arn), metrics, publish.Links(config.bucket, config.region)
    )
    return Ports(
        deployments=deployments,
        balancers=LoadBalancers(_client("elbv2")),
        specs=_Specs(objects, config.bucket),
        records=HookRecords(_client("dynamodb"), config.records_table),
        checks=validation,
        continuer=LambdaContinuer(_client("lambda"), context.invoked_function_arn),
        publisher=ReportPublisher(deployments, reports),
        people=_asker(config.approval_links, config.records_table, context),
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@final_on_permanent_error(logger, metrics)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config = settings()
    invocation = codedeploy.read(event)
    deadline = CLOCK.now() + context.get_remaining_time_in_millis() / 1000
    options = Options(config.hook, config.run_seconds)
    result = handle(invocation, default_ports(context), options, Run(context.aws_request_id, deadline))
    return emit(result.report(), logger, metrics)
