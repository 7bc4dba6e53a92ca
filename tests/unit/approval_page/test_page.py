"""The approval page's HTML: the context an approver needs, every value escaped, no script, only https links."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest

from approval_page import page
from approval_page.logic import Refused, Shown
from codereflex.approvals.model import Answer, BuildSummary, Ended, Outcome

from .fakes import ALICE, BOB, DEPLOYMENT, NOW, REF, deployment_request, request

HOSTILE = "<script>alert(1)</script>\"'&"


def html(shown: Shown) -> str:
    return page.approval(shown)


def test_a_waiting_request_shows_its_context_and_the_form() -> None:
    text = html(Shown(request(), ALICE, NOW, "/a/tok", "form-token"))
    for expected in (
        "payments",
        "Prod",
        "Approve",
        REF.execution_id,  # pipeline, stage, action, execution
        "4f1c2a9b8e7d",
        "Partial refunds",
        "Carol &lt;carol@example.com&gt;",  # the source revision
        'href="https://console.aws.amazon.com/codesuite/codecommit/repositories/payments/commit/4f1c2a9b"',
        "UnitTests",
        "212 tests passed",  # the build
        "Check the refund dashboards first",
        'href="https://dashboards.example.com/refunds"',
        "alice@example.com (you): not answered",
        "bob@example.com: not answered",
        "5 h 0 min left",
        'name="form" value="form-token"',
        'name="decision" value="approve"',
        'name="decision" value="reject"',
        f'maxlength="{512 - len("Approved by alice@example.com via codereflex: ")}"',
        'action="/a/tok"',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
    ):
        assert expected in text, expected


def test_every_value_is_escaped_and_nothing_can_run() -> None:
    hostile = request(
        ref=REF._replace(pipeline=HOSTILE, stage=HOSTILE),
        custom_data=HOSTILE,
        external_link="javascript:alert(1)",
        approvers=(ALICE, HOSTILE),
        answers={HOSTILE: Answer(HOSTILE, "Approved", HOSTILE, NOW)},
        quorum=2,
    )
    text = html(Shown(hostile, ALICE, NOW, '/a/"><script>', "tok"))
    assert "<script" not in text.lower()
    assert 'href="javascript' not in text  # a non-https link stays text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;" in text


def test_the_one_inline_stylesheet_is_the_one_the_policy_allows() -> None:
    text = page.refusal(Refused("invalid-link"))
    style = re.search(r"<style>(.*?)</style>", text, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    policy = page.HEADERS["Content-Security-Policy"]
    assert f"style-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "script" not in policy
    assert page.HEADERS["Referrer-Policy"] == "no-referrer" and page.HEADERS["Cache-Control"] == "no-store"
    assert page.HEADERS["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        (
            {"outcome": Outcome("Approved", (BOB,), "looks good", NOW, True)},
            "Approved by bob@example.com at 2026-12-01 12:00 UTC. Reason: looks good",
        ),
        (
            {"outcome": Outcome("Rejected", (BOB,), "", NOW, False)},
            "Rejected by bob@example.com at 2026-12-01 12:00 UTC. (being recorded",
        ),
        ({"expires_at": NOW - timedelta(minutes=1)}, "This approval expired at 2026-12-01 11:59 UTC"),
        ({"ended": Ended("superseded", NOW)}, "A newer execution of the pipeline superseded this one"),
        ({"ended": Ended("approved-elsewhere", NOW)}, "approved outside codereflex at 2026-12-01 12:00 UTC"),
        ({"ended": Ended("rejected-elsewhere", NOW)}, "rejected outside codereflex"),
        (
            {"quorum": 2, "answers": {BOB: Answer(BOB, "Approved", "ok", NOW)}},
            "Waiting for more approvals (1 of 2)",
        ),
    ],
)
def test_every_later_visit_says_what_happened(changes: dict[str, Any], says: str) -> None:
    text = html(Shown(request(**changes), ALICE, NOW, "/a/tok", None))
    assert says in text
    assert "<form" not in text


@pytest.mark.parametrize(
    "reason", ["invalid-link", "expired-link", "bad-form", "not-approver", "author", "unknown-request"]
)
def test_refusals_are_sentences_that_never_say_which_check_failed(reason: str) -> None:
    text = page.refusal(Refused(reason))  # type: ignore[arg-type]
    assert "<h1>" in text and "Traceback" not in text
    assert "signature" not in text.lower() and "key" not in text.lower()


def test_a_waiting_deployment_request_reads_as_one_with_its_checks_and_why_a_person_is_asked() -> None:
    text = html(Shown(deployment_request(), ALICE, NOW, "/a/tok", "form-token"))
    for expected in (
        "<h1>Approve deployment d-7QWERTY12 of payments-api (payments-prod) at BeforeAllowTraffic?</h1>",
        "<dt>Application</dt><dd>payments-api</dd>",
        "<dt>Deployment group</dt><dd>payments-prod</dd>",
        "<dt>Hook</dt><dd>BeforeAllowTraffic</dd>",
        "<dt>Deployment</dt><dd><code>d-7QWERTY12</code></dd>",
        "<h2>Checks of this hook</h2>",
        "<li>error-rate inconclusive: only 3 of 10 datapoints in the window</li>",
        "<li>p99-latency succeeded: 212 ms under 300 ms</li>",
        "<h2>Why a person is asked</h2>",
        '<p class="note">error-rate inconclusive: only 3 of 10 datapoints in the window</p>',
        'href="https://reports.example.com/payments-api/d-7QWERTY12/BeforeAllowTraffic.html"',
        "50 min left",
        "Waiting for approval.",
        'name="form" value="form-token"',
        'name="decision" value="approve"',
        "Reason (recorded in codereflex's record of this deployment with your address)",
    ):
        assert expected in text, expected
    # Nothing of a pipeline: no pipeline rows, no source changes, no mention of CodePipeline.
    for absent in ("codedeploy:", "<dt>Pipeline</dt>", "Source changes", "Builds of this execution", "CodePipeline"):
        assert absent not in text, absent


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        (
            {"outcome": Outcome("Approved", (BOB,), "error rate is flat", NOW, True)},
            "Approved by bob@example.com at 2026-12-01 12:00 UTC. Reason: error rate is flat."
            " The hook reports it to CodeDeploy: the deployment goes on.",
        ),
        (
            {"outcome": Outcome("Rejected", (BOB,), "", NOW, True)},
            "Rejected by bob@example.com at 2026-12-01 12:00 UTC. The hook reports it to CodeDeploy:"
            " the deployment fails.",
        ),
        (
            {"ended": Ended("expired", NOW - timedelta(minutes=2))},
            "The hook stopped waiting at 2026-12-01 11:58 UTC; the deployment failed closed.",
        ),
        (
            {"expires_at": NOW - timedelta(minutes=1)},
            "The hook stopped waiting at 2026-12-01 11:59 UTC; the deployment failed closed.",
        ),
        (
            {"ended": Ended("abandoned", NOW)},
            "The deployment stopped at 2026-12-01 12:00 UTC before anyone decided; the hook no longer waits.",
        ),
        (
            {"quorum": 2, "answers": {BOB: Answer(BOB, "Approved", "ok", NOW)}},
            "Waiting for more approvals (1 of 2)",
        ),
    ],
)
def test_every_later_visit_to_a_deployment_request_says_what_the_hook_does(changes: dict[str, Any], says: str) -> None:
    text = html(Shown(deployment_request(**changes), ALICE, NOW, "/a/tok", None))
    assert says in text
    assert "<form" not in text and "CodePipeline" not in text and "outside codereflex" not in text


def test_a_deployment_requests_values_are_escaped_too() -> None:
    hostile = deployment_request(
        ref=DEPLOYMENT._replace(pipeline="codedeploy:" + HOSTILE, stage=HOSTILE, action=HOSTILE),
        builds=(BuildSummary(HOSTILE, HOSTILE, HOSTILE, "javascript:alert(1)"),),
        custom_data=HOSTILE,
        external_link="http://reports.example.com/plain",
    )
    text = html(Shown(hostile, ALICE, NOW, "/a/tok", "tok"))
    assert "<script" not in text.lower()
    assert 'href="javascript' not in text and 'href="http:' not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;" in text
