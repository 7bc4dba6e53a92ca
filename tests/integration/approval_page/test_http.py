"""The approval page over real HTTP on 127.0.0.1 (the sandbox's function URL): shows, decides once, refuses clearly."""

from __future__ import annotations

import logging

from sandbox.lambdas.functionurl import url_event

from .conftest import ALICE, World
from .web import form_token, http


def test_a_link_shows_the_approval_and_its_form_post_approves_the_pipeline(world: World) -> None:
    ref = world.waiting()
    world.open(ref)
    url = world.link(ref)

    shown = http("GET", url)
    assert shown.status == 200, shown.body
    assert "Approve \u201cApprove\u201d in payments (Prod)?" in shown.body and ref.execution_id in shown.body
    assert shown.headers["Content-Security-Policy"].startswith("default-src 'none'")
    form = shown.body.split('name="form" value="', 1)[1].split('"', 1)[0]

    decided = http("POST", url, {"form": form, "decision": "approve", "reason": "dashboards are green"})
    assert decided.status == 303 and decided.headers["Location"] == url.removeprefix(world.page_url.rstrip("/"))
    latest = world.state(ref)
    assert latest["status"] == "Succeeded"
    assert latest["summary"] == f"Approved by {ALICE} via codereflex: dashboards are green"
    again = http("GET", url)
    assert f"Approved by {ALICE} at " in again.body and "<form" not in again.body


def test_a_failing_dependency_is_a_503_page_that_decides_nothing_and_shows_no_traceback(world: World) -> None:
    ref = world.waiting()
    world.open(ref)
    url = world.link(ref)
    form = form_token(http("GET", url).body)
    # The record's table is gone (a deleted stack, a wrong setting): every read and write fails.
    world.sandbox.client("dynamodb").delete_table(TableName=world.sandbox.stack.refs["ApprovalsTable"])
    for method, fields in (("GET", None), ("POST", {"form": form, "decision": "approve", "reason": "x"})):
        answer = http(method, url, fields)
        assert answer.status == 503, (method, answer.body)
        assert "Nothing was decided" in answer.body
        assert "Traceback" not in answer.body and "ResourceNotFound" not in answer.body
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert world.state(ref)["status"] == "InProgress"


def test_a_missing_setting_is_a_503_page_and_an_event_rejected_the_alarm_sees(world: World) -> None:
    ref = world.waiting()
    world.open(ref)
    event = url_event("GET", "/a/" + world.link(ref).rsplit("/", 1)[1], [], b"", domain="page.example")
    overrides = {**world.sandbox.function_env(), "APPROVALS_TABLE": " "}
    # Powertools' Logger is the standard logger named after the service, whichever import made it.
    capture = _Records()
    service = logging.getLogger("codereflex-approval-page")
    service.addHandler(capture)
    try:
        answer = world.sandbox.router.invoke("ApprovalPageFunction", event, env_overrides=overrides)
    finally:
        service.removeHandler(capture)
    assert answer["statusCode"] == 503 and "Nothing was decided" in answer["body"]
    rejected = [r for r in capture.records if r.getMessage() == "Event rejected"]
    assert [(r.reason, "APPROVALS_TABLE" in r.error) for r in rejected] == [("configuration", True)]  # type: ignore[attr-defined]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
