"""Demo act: a release pipeline waits at a manual approval; each approver gets their own link; one decides."""

from __future__ import annotations

import argparse
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pygit2

from codereflex.cli.approvers import sync_command
from sandbox.aws.pipelines import approval_pipeline
from sandbox.demo.demo_kit import DemoFailure, commit, expect, say, title
from sandbox.local import Sandbox

PIPELINE = "checkout-release"
REPOSITORY = "checkout-service"
PROJECT = f"{REPOSITORY}-ci"
ALICE, BOB = "alice@example.com", "bob@example.com"
REASON = "Refund dashboards are green; release notes checked"


class _Page:
    """HTTP on 127.0.0.1 to the sandbox's function URL, redirects not followed (the demo shows the 303)."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    def __init__(self) -> None:
        self._opener = urllib.request.build_opener(self._NoRedirect)

    def request(self, method: str, url: str, form: Mapping[str, str] | None = None) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (a loopback URL)
        try:
            with self._opener.open(request, timeout=30) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


class _Connection:
    """What `codereflex approvers sync` is given by the CLI, here over the sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    @property
    def resources(self) -> Mapping[str, str]:
        return self._sandbox.stack.refs

    def client(self, name: str) -> Any:
        return self._sandbox.client(name)


def _text(html: str) -> str:
    """The page as a person reads it: its head (title, stylesheet) and tags dropped, whitespace folded."""
    body = re.sub(r"<head>.*?</head>", " ", html, flags=re.DOTALL)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip()


def _mails(sandbox: Sandbox, address: str, kind: str) -> list[Any]:
    return [mail for mail in sandbox.mailbox(address) if mail.attributes.get("kind") == kind]


def _show_mail(mail: Any, address: str) -> None:
    say(f"   +--- email to {address} " + "-" * max(0, 58 - len(address)))
    say(f"   | Subject: {mail.subject}")
    say("   |")
    for line in mail.message.rstrip("\n").splitlines():
        say(f"   | {line}".rstrip())
    say(f"   +--- SNS message attributes: {' '.join(f'{k}={v}' for k, v in sorted(mail.attributes.items()))}")


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
    if sync_command(args, _Connection(sandbox)) != 0:
        raise DemoFailure("approvers sync found a subscription that would receive others' links")
    return str(tip)


def act(sandbox: Sandbox, scratch: Path) -> None:
    """Run a pipeline to its approval, show each approver's mail, let a scanner and then Alice open the link."""
    title("Approvals 1: a release pipeline reaches its manual approval")
    _setup(sandbox, scratch)
    execution_id, links = _requested(sandbox)

    title("Approvals 2: a mail scanner fetches every link in Alice's email")
    page = _Page()
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
        shown = _text(html)
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
    page_url = sandbox.approval_page_url
    if page_url is None:
        raise DemoFailure("the sandbox serves no approval page")
    links: dict[str, str] = {}
    for address in (ALICE, BOB):
        mails = _mails(sandbox, address, "request")
        expect(len(mails) == 1, f"{address} received exactly one request email, with their own link")
        _show_mail(mails[0], address)
        found = re.search(re.escape(page_url.rstrip("/")) + r"/a/[A-Za-z0-9_.-]+", mails[0].message)
        if found is None:
            raise DemoFailure(f"no link in {address}'s email")
        links[address] = found.group(0)
    expect(links[ALICE] != links[BOB], "each approver's link is their own")
    expect(_action(sandbox, execution_id)["status"] == "InProgress", "the approval waits")
    return execution_id, links


def _approve(sandbox: Sandbox, page: _Page, execution_id: str, link: str) -> None:
    status, html = page.request("GET", link)
    shown = _text(html)
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
        closing = _mails(sandbox, address, "closeout")
        expect(len(closing) == 1, f"{address} received one close-out email")
        _show_mail(closing[0], address)
