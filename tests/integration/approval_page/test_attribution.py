"""Who decided is proven by who CodePipeline says updated the action, never inferred from the page's own claim.

A pipeline the sandbox runs to its approval, the requests function's emails and close-outs, the
page over real HTTP; the console is the developer's own PutApprovalResult (their IAM user), made
between the page's steps: after the page re-checked that the action waits, before its own call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from codereflex.approvals.model import ActionRef, Status
from codereflex.aws.approvals import ApprovalStore
from codereflex.aws.codepipeline import CodePipelineApprovals, PutResult

from .conftest import ALICE, BOB, Mailed
from .web import form_token, http

FORGED = f"Approved by {ALICE} via codereflex: looks good"


def console(mailed: Mailed, status: Status, summary: str = "done in the console") -> None:
    """The developer decides in the console: their own keys, the token the console reads from GetPipelineState."""
    client = mailed.sandbox.developer_client("codepipeline")
    token = mailed.state()["token"]
    ref = mailed.ref
    client.put_approval_result(
        pipelineName=ref.pipeline,
        stageName=ref.stage,
        actionName=ref.action,
        result={"status": status, "summary": summary},
        token=token,
    )


@contextmanager
def console_first(mailed: Mailed, monkeypatch: pytest.MonkeyPatch, status: Status) -> Iterator[None]:
    """The console decides right before the page's PutApprovalResult (after its re-check found the action waiting)."""
    original = CodePipelineApprovals.put_result

    def beaten(self: CodePipelineApprovals, ref: ActionRef, token: str, status_: Status, summary: str) -> PutResult:
        console(mailed, status)
        return original(self, ref, token, status_, summary)

    with monkeypatch.context() as patched:
        patched.setattr(CodePipelineApprovals, "put_result", beaten)
        yield


def approve_on_the_page(mailed: Mailed, approver: str = ALICE, reason: str = "green") -> Any:
    url = mailed.link(approver)
    return http("POST", url, {"form": form_token(http("GET", url).body), "decision": "approve", "reason": reason})


def closeouts(mailed: Mailed) -> list[str]:
    mailed.sandbox.pipelines.settle()
    mails = [m for who in (ALICE, BOB) for m in mailed.sandbox.mailbox(who) if m.attributes.get("kind") == "closeout"]
    return [f"{m.subject}\n{m.message}" for m in mails]


def record(mailed: Mailed) -> Any:
    store = ApprovalStore(mailed.sandbox.client("dynamodb"), mailed.sandbox.stack.refs["ApprovalsTable"])
    request = store.get(mailed.ref)
    assert request is not None
    return request


@pytest.mark.parametrize(("status", "word"), [("Approved", "approved"), ("Rejected", "rejected")])
def test_the_console_deciding_a_moment_before_the_page_is_decided_outside_codereflex(
    mailed: Mailed, monkeypatch: pytest.MonkeyPatch, status: Status, word: str
) -> None:
    developer = mailed.sandbox.developer_arn
    # When alice approves on the page, and the console decides just before the page's PutApprovalResult
    with console_first(mailed, monkeypatch, status):
        answer = approve_on_the_page(mailed)
    # Then the page still answers with its redirect, and says the approval was decided outside codereflex
    assert answer.status == 303
    page = http("GET", mailed.link(ALICE)).body
    assert f"This approval was {word} outside codereflex by {developer}" in page
    assert f"Approved by {ALICE}" not in page
    assert "came too late to decide it" in page
    # And the record keeps alice's claimed outcome unreported, and the action ended elsewhere, by the developer
    request = record(mailed)
    assert request.outcome is not None and not request.outcome.reported
    assert request.ended is not None and (request.ended.how, request.ended.by) == (f"{word}-elsewhere", developer)
    # And every approver's close-out says who really decided; none names alice as the decider
    sent = closeouts(mailed)
    assert len(sent) == 2
    for text in sent:
        assert f"{word} outside codereflex (the console or the API) by {developer}" in text
        assert "via codereflex" not in text and f"Approved by {ALICE}" not in text
    assert mailed.state()["summary"] == "done in the console"


def test_a_page_that_crashed_after_its_put_approval_result_is_proven_ours_by_the_updater(
    mailed: Mailed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the page's invocation ends between PutApprovalResult (which decided) and recording it
    def crashed(self: ApprovalStore, ref: ActionRef) -> bool:
        raise RuntimeError("the invocation ended here")

    with monkeypatch.context() as patched:
        patched.setattr(ApprovalStore, "mark_reported", crashed)
        answer = approve_on_the_page(mailed)
    assert answer.status == 503  # "Nothing was decided. Try again": the page could not know
    latest = mailed.state()
    assert latest["status"] == "Succeeded"
    # CodePipeline names the functions' role session (what Lambda's credentials are), not a person
    assert latest["lastUpdatedBy"] == mailed.sandbox.functions_arn
    assert ":assumed-role/" in latest["lastUpdatedBy"]
    # When the action's SUCCEEDED event reaches the requests function
    sent = closeouts(mailed)
    # Then the close-out says alice approved via codereflex: CodePipeline's updater proves it
    assert len(sent) == 2
    for text in sent:
        assert f"Approved by {ALICE} at " in text and "via codereflex" in text
    request = record(mailed)
    assert request.ended is not None and request.ended.how == "approved-here"
    assert request.outcome is not None and request.outcome.reported
    assert f"Approved by {ALICE} at " in http("GET", mailed.link(BOB)).body


def test_a_forged_summary_typed_in_the_console_is_still_decided_elsewhere(mailed: Mailed) -> None:
    # When the developer approves in the console with a summary that reads like codereflex's
    console(mailed, "Approved", FORGED)
    sent = closeouts(mailed)
    # Then the close-out and the page say it was approved outside codereflex, by the developer
    developer = mailed.sandbox.developer_arn
    assert len(sent) == 2
    for text in sent:
        assert f"approved outside codereflex (the console or the API) by {developer}" in text
        assert f"Approved by {ALICE} at" not in text
    request = record(mailed)
    assert request.outcome is None
    assert request.ended is not None and (request.ended.how, request.ended.by) == ("approved-elsewhere", developer)
    page = http("GET", mailed.link(ALICE)).body
    assert f"approved outside codereflex by {developer}" in page and "<form" not in page
