"""Approval page, warm: a link's GET and its form's POST, handled in the sandbox (the handler alone, and over HTTP).

Every POST decides a different waiting approval (a PARALLEL pipeline keeps many executions
waiting at once), so each one does the whole decision: link, form token, the record, the token
check, the answer, the claim, PutApprovalResult and the report. The handler's time is what the
router measures around the call (the function's own work plus moto answering in-process: the
AWS calls here cost microseconds, not the milliseconds they cost in AWS); over HTTP adds the
sandbox's function URL (a loopback request, the event built from it). No goal: the table is read.
"""

from __future__ import annotations

import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from codereflex.approvals.approvers import TAG_APPROVERS
from codereflex.approvals.links import Link, LinkSigner, link_url
from codereflex.approvals.model import ActionRef, Request
from codereflex.aws.approvals import ApprovalStore
from codereflex.aws.secrets import keyring_from_secret
from sandbox.lambdas.functionurl import url_event
from sandbox.local import Sandbox

RUNS = 40
PIPELINE, STAGE, ACTION = "bench-payments", "Prod", "Approve"
APPROVER = "alice@example.com"
_MANUAL = {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}


def _pipeline(sandbox: Sandbox) -> None:
    # Its approvers tag lets ApprovalRequestsFunction open each execution's request, as in AWS.
    sandbox.pipelines.create(
        {
            "name": PIPELINE,
            "artifactStore": {"type": "S3", "location": "artifacts"},
            "executionMode": "PARALLEL",
            "pipelineType": "V2",
            "stages": [
                {"name": STAGE, "actions": [{"name": ACTION, "actionTypeId": _MANUAL}]},
                {"name": "Release", "actions": [{"name": "Done", "actionTypeId": _MANUAL}]},
            ],
        },
        tags={TAG_APPROVERS: APPROVER},
    )


def _links(sandbox: Sandbox, count: int) -> list[str]:
    """`count` executions waiting at the approval, each with its request (opened by the requests function, or
    here if it has not) and Alice's signed link token."""
    refs = sandbox.stack.refs
    store = ApprovalStore(sandbox.client("dynamodb"), refs["ApprovalsTable"])
    signer = LinkSigner(keyring_from_secret(sandbox.client("secretsmanager"), refs["ApprovalLinkKey"]))
    now = datetime.now(UTC)
    tokens = []
    for _ in range(count):
        ref = ActionRef(PIPELINE, STAGE, ACTION, sandbox.pipelines.start(PIPELINE))
        expires = now + timedelta(days=7)
        store.open(Request(ref, (APPROVER,), 1, False, expires, expires, None, None, (), (), now))
        tokens.append(signer.issue(Link(ref, APPROVER, expires)))
    return tokens


def _form(sandbox: Sandbox, token: str) -> str:
    signer = LinkSigner(keyring_from_secret(sandbox.client("secretsmanager"), sandbox.stack.refs["ApprovalLinkKey"]))
    return urllib.parse.urlencode({"form": signer.form_token(token), "decision": "approve", "reason": "bench"})


def _handler_ms(sandbox: Sandbox, method: str, token: str, body: str = "") -> float:
    headers = [("content-type", "application/x-www-form-urlencoded")] if body else []
    event = url_event(method, f"/a/{token}", headers, body.encode(), domain="bench.lambda-url.us-east-1.on.aws")
    invocation = sandbox.router.invoke_recorded("ApprovalPageFunction", event, env_overrides=sandbox.function_env())
    expected = 303 if method == "POST" else 200
    if invocation.error is not None or invocation.result.get("statusCode") != expected:
        raise RuntimeError(f"{method} answered {invocation.error or invocation.result.get('statusCode')}")
    return invocation.duration_ms


def _http_ms(url: str, body: str = "") -> float:
    request = urllib.request.Request(url, data=body.encode() if body else None)  # noqa: S310 (loopback)
    if body:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    opener = urllib.request.build_opener(_NoRedirect)
    started = time.perf_counter()
    try:
        with opener.open(request, timeout=30) as answer:
            answer.read()
    except urllib.error.HTTPError as error:  # the POST's 303, not followed
        if error.code != 303:
            raise
    return (time.perf_counter() - started) * 1000


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _row(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[int(len(ordered) * 0.9) - 1]
    return f"| {label} | {statistics.median(ordered):.1f} | {p90:.1f} | {len(ordered)} |"


def main() -> int:
    with Sandbox(function_env={"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}) as sandbox:
        _pipeline(sandbox)
        tokens = _links(sandbox, 4 * RUNS + 1)
        page = sandbox.approval_page_url or ""
        _handler_ms(sandbox, "GET", tokens[0])  # the cold start (import, clients, the key) is not measured
        rows: dict[str, Callable[[int], float]] = {
            "GET a link (handler)": lambda i: _handler_ms(sandbox, "GET", tokens[1 + i]),
            "GET a link (HTTP, sandbox function URL)": lambda i: _http_ms(link_url(page, tokens[1 + i])),
            "POST approve (handler)": lambda i: _handler_ms(
                sandbox, "POST", tokens[1 + RUNS + i], _form(sandbox, tokens[1 + RUNS + i])
            ),
            "POST approve (HTTP, sandbox function URL)": lambda i: _http_ms(
                link_url(page, tokens[1 + 2 * RUNS + i]), _form(sandbox, tokens[1 + 2 * RUNS + i])
            ),
        }
        measured: dict[str, list[float]] = {label: [] for label in rows}
        for i in range(RUNS):  # alternating, so a slow moment of the shared machine hits every row alike
            for label, run in rows.items():
                measured[label].append(run(i))
    print("| warm request (ms) | median | p90 | runs |")
    print("|---|---|---|---|")
    for label, times in measured.items():
        print(_row(label, times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
