"""A hook execution's report, published: JSON and HTML in S3, a notice on SNS when it failed or a person decided."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol
from urllib.parse import quote

from codereflex.redact import redact
from codereflex.validation import html

KIND = "deployment-validation"
PREFIX = "reports"
# Characters a key segment keeps as they are; anything else (a space, a slash in a name) is %-escaped,
# so an application or hook name can never add a folder or climb out of its own.
_SAFE = "-_."


class ReportStore(Protocol):
    """The validation bucket (codereflex.aws.s3.S3ObjectStore)."""

    def get_bytes(self, key: str) -> bytes | None: ...

    def put_bytes(self, key: str, data: bytes, content_type: str, *, if_absent: bool = False) -> bool:
        """Store `data`; with `if_absent`, False (and nothing written) when the key already exists."""
        ...


class Notifier(Protocol):
    """The stack's notification topic (codereflex.aws.sns.SnsTopic)."""

    def publish(self, subject: str, body: str, attributes: Mapping[str, str]) -> str: ...


class MetricSink(Protocol):
    """Powertools' Metrics (the function passes its own, so the points flush with its other metrics)."""

    def add_metric(self, name: str, unit: Any, value: float) -> None: ...


class Links(NamedTuple):
    """Where a reader opens a stored object: the S3 console (signed-in, no expiry, no secret in the link)."""

    bucket: str
    region: str

    def console(self, key: str) -> str:
        return (
            f"https://{self.region}.console.{_console_domain(self.region)}/s3/object/{quote(self.bucket)}"
            f"?region={quote(self.region)}&prefix={quote(key, safe='')}"
        )

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


class Ports(NamedTuple):
    store: ReportStore
    notices: Notifier
    metrics: MetricSink
    links: Links


class Subject(NamedTuple):
    """Which hook execution a report is about, and where it is kept (`reports/<path>.json|.html`)."""

    application: str  # CodeDeploy's application; ECS native: the cluster
    deployment_group: str  # CodeDeploy's deployment group; ECS native: the service
    deployment_id: str
    hook: str
    path: tuple[str, ...]

    @classmethod
    def codedeploy(cls, application: str, deployment_group: str, deployment_id: str, hook: str) -> Subject:
        # One execution per hook per deployment: retries of it are the same execution, so the same keys.
        return cls(application, deployment_group, deployment_id, hook, (application, deployment_id, hook))

    @classmethod
    def ecs_native(cls, cluster: str, service: str, deployment_id: str, stage: str, execution_id: str) -> Subject:
        # ECS runs some stages once per traffic step (and again on rollback): each execution its own report.
        path = (cluster, service, deployment_id, f"{stage}-{execution_id}")
        return cls(cluster, service, deployment_id, stage, path)

    def key(self, suffix: str) -> str:
        return "/".join([PREFIX, *(_segment(part) for part in self.path)]) + suffix


class Published(NamedTuple):
    json_key: str
    html_key: str
    notice_id: str | None  # the SNS message id, when a notice was due
    verdict: str  # the stored report's: a retry returns the first report's verdict, never a new one
    reason: str
    first: bool  # whether this call stored the report (False: an earlier attempt had)


def publish(report: Mapping[str, Any], subject: Subject, ports: Ports, *, decided_by: str | None = None) -> Published:
    """Store the report (JSON, then its page), notify when it failed or a person decided, count it.

    Idempotent per hook execution: the JSON is written only if absent, so a retry (or a concurrent
    duplicate) finds the first report and publishes that one; the page is rendered from the stored JSON,
    so every attempt writes the same page; the notice goes out after both exist, and a marker beside
    them keeps a retry from sending it again. Metrics count the attempt that stored the report only.
    """
    json_key, html_key, marker_key = subject.key(".json"), subject.key(".html"), subject.key(".notice.json")
    document = redacted({**report, **({"decidedBy": decided_by} if decided_by else {})})
    first = ports.store.put_bytes(json_key, _json(document), "application/json", if_absent=True)
    if not first:
        stored = ports.store.get_bytes(json_key)
        document = json.loads(stored) if stored is not None else document
    ports.store.put_bytes(html_key, html.render(document).encode(), "text/html; charset=utf-8")
    verdict, reason = str(document.get("verdict", "Failed")), str(document.get("reason", ""))
    notice_id = None
    if verdict != "Succeeded" or document.get("decidedBy"):
        notice_id = _notify_once(document, subject, ports, (json_key, html_key, marker_key))
    if first:
        _count(document, ports.metrics)
    return Published(json_key, html_key, notice_id, verdict, reason, first)


def _notify_once(document: Mapping[str, Any], subject: Subject, ports: Ports, keys: tuple[str, str, str]) -> str:
    json_key, html_key, marker_key = keys
    sent = ports.store.get_bytes(marker_key)
    if sent is not None:
        return str(json.loads(sent).get("messageId", ""))
    verdict = str(document.get("verdict", "Failed"))
    who = f", decided by {document['decidedBy']}" if document.get("decidedBy") else ""
    title = f"codereflex: {subject.hook} {verdict}{who} ({subject.application}/{subject.deployment_group})"
    body = "\n".join(
        [
            f"{subject.hook} of deployment {subject.deployment_id} "
            f"({subject.application}, {subject.deployment_group}): {verdict}{who}.",
            "",
            str(document.get("reason", "")),
            "",
            f"Report (S3 console, sign in to read): {ports.links.console(html_key)}",
            f"Measurements (JSON): {ports.links.console(json_key)}",
            f"From a shell: aws s3 cp {ports.links.uri(html_key)} report.html",
        ]
    )
    attributes = {
        "kind": KIND,
        "application": subject.application,
        "deploymentGroup": subject.deployment_group,
        "outcome": verdict,
    }
    message_id = ports.notices.publish(redact(title), redact(body), attributes)
    # Recorded after the notice went out: a crash in between sends it again rather than never.
    ports.store.put_bytes(marker_key, _json({"messageId": message_id}), "application/json")
    return message_id


def _count(document: Mapping[str, Any], metrics: MetricSink) -> None:
    verdict = str(document.get("verdict", "Failed"))
    metrics.add_metric(name=f"Hooks.{verdict}", unit="Count", value=1)
    if document.get("decidedBy"):
        metrics.add_metric(name="Hooks.DecidedByPerson", unit="Count", value=1)
    elif verdict != "Succeeded" and document.get("decidingCheck"):
        # A check's measurements ended it (not a bad spec, a crash or a deadline): the analysis stopped it.
        metrics.add_metric(name="DeploymentsStoppedByAnalysis", unit="Count", value=1)


def _segment(part: str) -> str:
    escaped = quote(part, safe=_SAFE)
    return escaped if escaped.strip(".") else quote(part, safe="").replace(".", "%2E") or "%00"


def redacted(value: Any) -> Any:
    """Every string in the report with secrets blanked (bodies and headers green answered with)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity; the report still says what was seen
    return value


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()


def _console_domain(region: str) -> str:
    if region.startswith("cn-"):
        return "amazonaws.cn"
    if region.startswith("us-gov-"):
        return "amazonaws-us-gov.com"
    return "aws.amazon.com"
