"""The link in an approver's email (a pipeline the sandbox ran, the requests function's message) opens their page."""

from __future__ import annotations

from .conftest import ALICE, BOB, Mailed
from .web import form_token, http


def test_each_approvers_email_link_opens_their_own_page_and_approves(mailed: Mailed) -> None:
    alice, bob = mailed.link(ALICE), mailed.link(BOB)
    assert alice != bob
    page = http("GET", alice)
    assert page.status == 200 and "alice@example.com (you): not answered" in page.body
    assert mailed.ref.execution_id in page.body and "Partial refunds" in page.body
    decided = http("POST", alice, {"form": form_token(page.body), "decision": "approve", "reason": "green"})
    assert decided.status == 303
    latest = mailed.state()
    assert latest["status"] == "Succeeded" and latest["summary"] == f"Approved by {ALICE} via codereflex: green"
    assert f"Approved by {ALICE} at " in http("GET", bob).body
