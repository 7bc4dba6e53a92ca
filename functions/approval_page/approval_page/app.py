"""Entry point: the approval page's function URL (GET|HEAD /a/<link> shows, POST /a/<link> decides, else 404)."""

from __future__ import annotations

from codereflex.coldstart import TRACED, collector_paused

with collector_paused():  # a cold start's imports, without garbage collection: see codereflex.coldstart
    import logging
    from collections.abc import Mapping
    from datetime import UTC, datetime
    from functools import cache, partial
    from typing import Any
    from urllib.parse import parse_qs

    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
    from aws_lambda_powertools.event_handler.exceptions import NotFoundError
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from codereflex.approvals.links import LinkSigner, link_id
    from codereflex.aws.approvals import ApprovalStore
    from codereflex.aws.clients import lazy_client
    from codereflex.aws.codepipeline import CodePipelineApprovals
    from codereflex.aws.secrets import keyring_from_secret
    from codereflex.errors import PermanentError
    from codereflex.events.reading import shape_error
    from codereflex.handler import emit, final_on_permanent_error
    from codereflex.identity import Principals

    from . import logic, page
    from .config import Settings

    logger, tracer, metrics = Logger(), Tracer(patch_modules=TRACED), Metrics()
    # Two libraries log credentials at DEBUG: the Event Handler logs a route's arguments (the link
    # token) and botocore logs request and response bodies (the pipeline token, the link key). A
    # function log level of DEBUG (Lambda's advanced logging sets the root logger) must not let them out.
    for _library in ("aws_lambda_powertools.event_handler", "botocore", "urllib3"):
        logging.getLogger(_library).setLevel(logging.INFO)
    # debug=False always: Powertools' debug mode (POWERTOOLS_DEV) answers an error with its traceback.
    app = LambdaFunctionUrlResolver(debug=False)

# A POST body is a short form; anything longer is not from the page.
MAX_FORM_BYTES = 8192


@cache
def settings() -> Settings:
    # Once per execution environment: Lambda starts new ones when the function's configuration changes.
    return Settings.from_env()


@cache
def _client(service: str) -> Any:
    return lazy_client(service)  # made on first use, kept for the execution environment


@cache
def _links(secret_id: str) -> LinkSigner:
    # The key's AWSCURRENT and AWSPREVIOUS versions, read once per execution environment; a key id
    # it does not know (the key rotated since) reads them again, at most once a minute.
    read = partial(keyring_from_secret, _client("secretsmanager"), secret_id)
    return LinkSigner(read(), reload=read)


class _LazyLinks:
    """The link signer, fetched from Secrets Manager only when a request needs it (a 404 never does)."""

    def __init__(self, secret_id: str) -> None:
        self._secret_id = secret_id

    def read(self, token: str, now: datetime) -> Any:
        return _links(self._secret_id).read(token, now)

    def form_token(self, token: str) -> str:
        return _links(self._secret_id).form_token(token)

    def form_ok(self, token: str, form: str) -> bool:
        return _links(self._secret_id).form_ok(token, form)


def default_ports() -> logic.Ports:
    config = settings()
    return logic.Ports(
        links=_LazyLinks(config.link_key_secret),
        store=ApprovalStore(_client("dynamodb"), config.approvals_table),
        pipeline=CodePipelineApprovals(_client("codepipeline")),
        ours=_ours,
    )


@cache
def _deciders() -> Principals:
    # codereflex's deciding roles (the template names both functions' roles) and this function's own
    # identity, asked once per execution environment and only when an ending must be attributed.
    own = str(_client("sts").get_caller_identity()["Arn"])
    return Principals((own, *settings().decider_roles))


def _ours(arn: str | None) -> bool:
    return arn in _deciders()


@app.route("/a/<link>", method=["GET", "HEAD"])
def show(link: str) -> Response[str]:
    return _respond(logic.show(link, _path(), datetime.now(UTC), default_ports()))


@app.post("/a/<link>")
def decide(link: str) -> Response[str]:
    form = _form(app.current_event.decoded_body or "")
    return _respond(logic.decide(link, _path(), form, datetime.now(UTC), default_ports()))


@app.not_found
def not_found(_: NotFoundError) -> Response[str]:
    return _respond(logic.not_found())


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def failed(error: Exception) -> Response[str]:
    # A failed call (DynamoDB, CodePipeline, the secret), a bad setting or a bug: nothing was decided
    # unless the decision was claimed first, which the requests function's sweep then reports. The
    # page never shows a traceback; the log names the link only by its id. A permanent failure (a
    # missing setting, access denied, the table gone) is an "Event rejected" counted under Rejected,
    # which the function's alarm watches: every request would fail the same way until it is fixed.
    link = link_id((app.current_event.path or "").removeprefix("/a/"))
    if isinstance(error, PermanentError):
        logger.error("Event rejected", reason=error.reason, error=str(error), link_id=link)
        metrics.add_metric(name="Rejected", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name=f"Rejected.{error.reason}", unit=MetricUnit.Count, value=1)
    else:
        logger.exception("Approval page failed", link_id=link, error_type=type(error).__name__)
        metrics.add_metric(name="PageFailures", unit=MetricUnit.Count, value=1)
    return _page(503, page.refusal(logic.Refused("unavailable")))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)  # the response is a page holding a form token
@metrics.log_metrics
@final_on_permanent_error(logger, metrics)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event.get("requestContext"), Mapping) or not isinstance(event.get("rawPath"), str):
        raise shape_error("requestContext", "is not a Lambda function URL request")
    response: dict[str, Any] = app.resolve(event, context)
    if event["requestContext"].get("http", {}).get("method") == "HEAD":
        response["body"] = ""  # HEAD: the same status and headers, no body
    return response


def _respond(result: logic.Result) -> Response[str]:
    emit(result.report(), logger, metrics)
    answer = result.answer
    if isinstance(answer, logic.SeeOther):
        return Response(303, headers={**page.HEADERS, "Location": answer.location}, body="")
    if isinstance(answer, logic.Refused):
        return _page(answer.status, page.refusal(answer))
    return _page(200, page.approval(answer))


def _page(status: int, html: str) -> Response[str]:
    return Response(status, headers=dict(page.HEADERS), body=html)


def _path() -> str:
    return str(app.current_event.raw_path)


def _form(body: str) -> logic.Form:
    """The POST's fields (application/x-www-form-urlencoded); a missing or repeated field reads as empty."""
    fields = parse_qs(body[:MAX_FORM_BYTES], keep_blank_values=True, max_num_fields=8)
    one = {name: values[0] if len(values) == 1 else "" for name, values in fields.items()}
    return logic.Form(form=one.get("form", ""), decision=one.get("decision", ""), reason=one.get("reason", ""))
