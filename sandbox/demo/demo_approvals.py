"""Demo act: a release pipeline waits at a manual approval; each approver gets their own link; one decides."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import pygit2

from codereflex.cli.approvers import sync_command
from sandbox.aws.pipelines import approval_pipeline
from sandbox.demo.demo_kit import (
    Connection,
    DemoFailure,
    Page,
    approval_link,
    commit,
    expect,
    mails,
    page_text,
    say,
    show_mail,
    title,
)
from sandbox.local import Sandbox

PIPELINE = "checkout-release"
REPOSITORY = "checkout-service"
PROJECT = f"{REPOSITORY}-ci"
ALICE, BOB = "alice@example.com", "bob@example.com"
REASON = "Refund dashboards are green; release notes checked"


def _action(sandbox: Sandbox, execution_id: str) -> dict[str, Any]:
    state = sandbox.client("codepipeline").get_pipeline_state(name=PIPELINE)
    stage = next(s for s in state["stageStates"] if s["stageName"] == "Approval")
    latest = dict(next(a for a in stage["actionStates"] if a["actionName"] == "Approve")["latestExecution"])
    latest.pop("token", None)  # never shown: the token decides the approval
    return latest


def _setup(sandbox: Sandbox, scratch: Path) -> str:
    repo = pygit2.init_repository(str(scratch / f"{REPOSITORY}.git"), bare=True, initial_head="main")
    tip = commit(repo, "Apple Pay at checkout\n\nBehind the applepay flag.", {"checkout.py": "pay()\n"}, [])
    repo.create_reference_direct("refs/heads/main", tip, True)
    sandbox.import_repository(REPOSITORY, scratch / f"{REPOSITORY}.git")
    sandbox.client("codebuild").create_project(
        name=PROJECT,
        source={"type": "CODECOMMIT", "location": sandbox.store.clone_url(REPOSITORY)},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "ARM_CONTAINER", "image": "aws/codebuild/standard", "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole=f"arn:aws:iam::{sandbox.description()['account_id']}:role/codebuild-service",
    )
    configuration = {
        "NotificationArn": sandbox.stack.refs["ApprovalNotificationTopic"],
        "CustomData": "Check the checkout error rate on the dashboard before approving.",
    }
    sandbox.pipelines.create(
        approval_pipeline(PIPELINE, repository=REPOSITORY, project=PROJECT, approval={"configuration": configuration}),
        tags={"codereflex:approvers": f"{ALICE} {BOB}"},
    )
    say(f"   pipeline {PIPELINE}: Source ({REPOSITORY} main) → Build ({PROJECT}) → Approval (Manual)")
    say(f"   its approval names the stack's notification topic too; tag codereflex:approvers = {ALICE} {BOB}")
    say("   $ codereflex approvers sync --tags")
    args = argparse.Namespace(approvers="", parameter=None, tags=True, topic=None, fix=False, dry_run=False)
    if sync_command(args, Connection(sandbox)) != 0:
        raise DemoFailure("approvers sync found a subscription that would receive others' links")
    return str(tip)


def act(sandbox: Sandbox, scratch: Path) -> None:
    """Run a pipeline to its approval, show each approver's mail, let a scanner and then Alice open the link."""
    title("Approvals 1: a release pipeline reaches its manual approval")
    _setup(sandbox, scratch)
    execution_id, links = _requested(sandbox)

    title("Approvals 2: a mail scanner fetches every link in Alice's email")
    page = Page()
    for method in ("HEAD", "GET"):
        status, _ = page.request(method, links[ALICE])
        say(f"   {method} {links[ALICE][:60]}… → {status}")
    sandbox.pipelines.settle()
    expect(_action(sandbox, execution_id)["status"] == "InProgress", "fetching the link decided nothing")

    title("Approvals 3: Alice opens her link, reads what she approves, approves with a reason")
    _approve(sandbox, page, execution_id, links[ALICE])

    title("Approvals 4: the link again, and Bob's")
    for address in (ALICE, BOB):
        status, html = page.request("GET", links[address])
        shown = page_text(html)
        said = re.search(r"Approved by \S+ at [^.]+", shown)
        say(f"   {address}'s link → {status}: {said.group(0) if said else shown[:200]}")
        expect(f"Approved by {ALICE} at " in shown and 'name="form"' not in html, "the page says what happened")


def _requested(sandbox: Sandbox) -> tuple[str, dict[str, str]]:
    """Start the pipeline; the execution waiting at the approval, and each approver's link from their email."""
    before = len(sandbox.deliveries)
    execution_id = sandbox.pipelines.start(PIPELINE)
    sandbox.pipelines.settle()
    requests = [d for d in sandbox.deliveries[before:] if d.logical_id == "ApprovalRequestsFunction"]
    for delivery in requests:
        source = "SNS message" if "Records" in delivery.event else delivery.event.get("detail-type", "event")
        say(f"   {source} → ApprovalRequestsFunction: {delivery.result if delivery.ok else delivery.error}")
    expect(len(requests) >= 2, "both paths reached the function: the EventBridge event and the SNS message")
    links: dict[str, str] = {}
    for address in (ALICE, BOB):
        requested = mails(sandbox, address, "request")
        expect(len(requested) == 1, f"{address} received exactly one request email, with their own link")
        show_mail(requested[0], address)
        links[address] = approval_link(sandbox, requested[0], address)
    expect(links[ALICE] != links[BOB], "each approver's link is their own")
    expect(_action(sandbox, execution_id)["status"] == "InProgress", "the approval waits")
    return execution_id, links


def _approve(sandbox: Sandbox, page: Page, execution_id: str, link: str) -> None:
    status, html = page.request("GET", link)
    shown = page_text(html)
    say(f"   GET → {status}; the page says: {shown[:400]}…")
    expect("Apple Pay at checkout" in shown, "the page shows the change being approved")
    form = re.search(r'name="form" value="([^"]+)"', html)
    if form is None:
        raise DemoFailure("the page has no form to decide with")
    status, _ = page.request("POST", link, {"form": form.group(1), "decision": "approve", "reason": REASON})
    say(f"   POST decision=approve reason={REASON!r} → {status} (See Other: back to the link)")
    sandbox.pipelines.settle()
    action = _action(sandbox, execution_id)
    say(f"   CodePipeline's approval action: {action['status']}, summary {action.get('summary')!r}")
    expect(action["status"] == "Succeeded", "the pipeline moved on")
    expect(action.get("summary") == f"Approved by {ALICE} via codereflex: {REASON}", "it records who and why")
    execution = sandbox.client("codepipeline").get_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=execution_id
    )["pipelineExecution"]
    say(f"   pipeline execution {execution_id}: {execution['status']}")
    for address in (ALICE, BOB):
        closing = mails(sandbox, address, "closeout")
        expect(len(closing) == 1, f"{address} received one close-out email")
        show_mail(closing[0], address)
