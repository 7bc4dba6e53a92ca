"""A deployment hook's approval emails: worded for CodeDeploy, naming its application, group, hook and checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from codereflex.approvals.messages import closeout_email, reminder_email, request_email
from codereflex.approvals.model import APPROVED, REJECTED, ActionRef, Answer, BuildSummary, Ended, Outcome, Request

from .test_messages import ALICE, BOB, NOW, assert_valid_subject, url

DEPLOYMENT = ActionRef.deployment_hook("payments-api", "payments-prod", "BeforeAllowTraffic", "d-7QWERTY12")


def deployment(**changes: Any) -> Request:
    """As the hook opens it: the spec's approvers, no revisions, one summary per check, expiring with the hook."""
    base = Request(
        ref=DEPLOYMENT,
        approvers=(ALICE, BOB),
        quorum=1,
        separate_duties=False,
        expires_at=NOW + timedelta(minutes=50),
        link_expires_at=NOW + timedelta(minutes=50),
        custom_data="error-rate inconclusive: only 3 of 10 datapoints in the window",
        external_link="https://reports.example.com/payments-api/d-7QWERTY12/BeforeAllowTraffic.html",
        revisions=(),
        builds=(
            BuildSummary("error-rate", "inconclusive", "only 3 of 10 datapoints in the window", ""),
            BuildSummary("p99-latency", "succeeded", "212 ms under 300 ms", ""),
        ),
        created_at=NOW,
    )
    return base._replace(**changes)


def test_the_request_email_says_which_deployment_is_held_where_which_check_and_the_link() -> None:
    request = deployment()
    subject, body = request_email(request, ALICE, url(ALICE, request), NOW)
    assert subject == "Approval needed: deployment payments-api / payments-prod"
    assert body.startswith(
        "CodeDeploy deployment d-7QWERTY12 of payments-api (payments-prod) is held at BeforeAllowTraffic:"
        " a check was inconclusive and needs your decision.\n"
    )
    for expected in (
        "  Application:       payments-api\n",
        "  Deployment group:  payments-prod\n",
        "  Hook:              BeforeAllowTraffic\n",
        "  Deployment:        d-7QWERTY12\n",
        "Checks of this hook:\n  - error-rate: inconclusive (only 3 of 10 datapoints in the window)\n"
        "  - p99-latency: succeeded (212 ms under 300 ms)\n",
        "Why a person is asked:\n  error-rate inconclusive: only 3 of 10 datapoints in the window\n",
        "The hook's report: https://reports.example.com/payments-api/d-7QWERTY12/BeforeAllowTraffic.html",
        "Asked to approve: alice@example.com (you), bob@example.com.\nOne approval decides.",
        url(ALICE, request),
        "It works until 2026-12-01 12:50 UTC (in 50 minutes); the hook stops waiting at 2026-12-01 12:50 UTC,"
        " and then the deployment fails.",
    ):
        assert expected in body, expected
    for absent in ("codedeploy:", "Pipeline", "pipeline", "What changed", "Builds of this execution", "author"):
        assert absent not in body, absent
    assert url(BOB, request) not in body


def test_a_reminder_names_the_deployment_and_when_the_hook_stops_waiting() -> None:
    request = deployment(quorum=2, answers={BOB: Answer(BOB, APPROVED, "fine by me", NOW)})
    subject, body = reminder_email(request, ALICE, url(ALICE, request), NOW + timedelta(minutes=35))
    assert subject == "Reminder, approval needed: deployment payments-api / payments-prod"
    assert body.startswith(
        "Reminder: CodeDeploy deployment d-7QWERTY12 of payments-api (payments-prod) is still held at"
        " BeforeAllowTraffic for your decision; the hook stops waiting in 15 minutes.\n"
    )
    assert "  - bob@example.com approved at 2026-12-01 12:00 UTC: fine by me" in body


@pytest.mark.parametrize(
    ("application", "group"),
    [("a" * 100, "payments-prod"), ("payments-api", "g" * 100), ("a" * 80, "g" * 80), ("caf\u00e9-api", "prod")],
)
def test_deployment_subjects_are_sns_safe_and_keep_application_and_group_visible(application: str, group: str) -> None:
    request = deployment(ref=ActionRef.deployment_hook(application, group, "AfterAllowTestTraffic", "d-1"))
    for subject in (
        request_email(request, ALICE, "https://x", NOW)[0],
        closeout_email(request._replace(ended=Ended("expired", NOW)), ALICE, NOW)[0],
    ):
        assert_valid_subject(subject)
        assert ": deployment " in subject and " / " in subject
        shown_application, shown_group = subject.split(": deployment ", 1)[1].split(" / ")
        assert len(shown_application) >= 20 or shown_application == application.replace("\u00e9", "?")
        assert len(shown_group) >= 20 or shown_group == group


@pytest.mark.parametrize(
    ("status", "subject", "says"),
    [
        (APPROVED, "Approved", "The hook reports it to CodeDeploy: the deployment goes on."),
        (REJECTED, "Rejected", "The hook reports it to CodeDeploy: the deployment fails."),
    ],
)
def test_the_close_out_of_a_decision_says_who_decided_and_what_the_hook_does(
    status: Any, subject: str, says: str
) -> None:
    # The hook takes the claimed record as the decision: a claim is how it ended, reported or not.
    request = deployment(outcome=Outcome(status, (BOB,), "error rate is flat", NOW, reported=False))
    title, body = closeout_email(request, ALICE, NOW)
    assert title == f"{subject}: deployment payments-api / payments-prod"
    assert body.startswith(
        "The approval of CodeDeploy deployment d-7QWERTY12 of payments-api (payments-prod) at BeforeAllowTraffic"
        " is closed.\n"
    )
    assert f"{status} by bob@example.com at 2026-12-01 12:00 UTC via codereflex. Reason: error rate is flat" in body
    assert says in body
    assert "You (alice@example.com) were one of the approvers asked." in body


@pytest.mark.parametrize(
    ("how", "subject", "says"),
    [
        (
            "expired",
            "Expired",
            "Nobody decided before the hook stopped waiting at 2026-12-01 12:50 UTC; the deployment failed closed.",
        ),
        ("abandoned", "Ended", "The deployment stopped at 2026-12-01 12:50 UTC before anyone decided"),
    ],
)
def test_the_close_out_of_an_undecided_request_says_what_the_hook_did(how: Any, subject: str, says: str) -> None:
    title, body = closeout_email(deployment(ended=Ended(how, NOW + timedelta(minutes=50))), ALICE, NOW)
    assert title == f"{subject}: deployment payments-api / payments-prod"
    assert says in body
    assert "outside codereflex" not in body and "execution" not in body
