"""`codereflex approvers sync`: one filtered email subscription per configured approver on the approval mail topic."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from codereflex.approvals.approvers import TAG_APPROVERS, checked_address
from codereflex.approvals.subscriptions import Step, filter_policy, plan
from codereflex.aws.codepipeline import CodePipelineApprovals
from codereflex.aws.sns import SnsSubscriptions
from codereflex.aws.ssm import ApproverMapping
from codereflex.config import split_list
from codereflex.errors import CodeReflexError

# The template's logical id of the topic every approval email goes through (the sandbox's state names it).
MAIL_TOPIC = "ApprovalMailTopic"


class Connection(Protocol):
    """What the CLI's connection gives this command (`codereflex.cli.main.Aws`)."""

    @property
    def resources(self) -> Mapping[str, str]: ...

    def client(self, name: str) -> Any: ...


class BadApprovers(CodeReflexError):
    """An address in the configuration that is not one: named, exit status 1."""


def add_commands(
    commands: Any, sandbox_options: Callable[[argparse.ArgumentParser], None], connect: Callable[..., Connection]
) -> None:
    approvers = commands.add_parser("approvers", help="keep the approval mail topic's subscriptions right")
    actions = approvers.add_subparsers(dest="action", required=True)
    sync = actions.add_parser(
        "sync",
        help="subscribe each approver with a filter policy on their address; report what would leak links",
        description="Approvers are the union of --approvers, every pipeline in the --parameter mapping, and with "
        f"--tags every pipeline's {TAG_APPROVERS} tag. Each gets one email subscription with FilterPolicy "
        '{"approver": ["<address>"]}. Any other subscription on the topic (no filter, another filter, another '
        "protocol) would receive links meant for others: it is reported, and with --fix removed (an approver's "
        "own subscription gets the right filter instead). Exit status 1 while such a subscription remains.",
    )
    sync.add_argument("--approvers", default="", help="comma-separated addresses (the ApprovalApprovers parameter)")
    sync.add_argument("--parameter", help="SSM parameter of the per-pipeline mapping (ApprovalApproversParameter)")
    sync.add_argument("--tags", action="store_true", help=f"also read every pipeline's {TAG_APPROVERS} tag")
    sync.add_argument("--topic", help=f"the approval mail topic's ARN (the sandbox's {MAIL_TOPIC} by default)")
    sync.add_argument("--fix", action="store_true", help="remove or re-filter subscriptions that would leak links")
    sync.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    sandbox_options(sync)
    sync.set_defaults(run=lambda args: sync_command(args, connect(args)))


def sync_command(args: argparse.Namespace, aws: Connection) -> int:
    topic = args.topic or aws.resources.get(MAIL_TOPIC)
    if not topic:
        raise BadApprovers(f"no approval mail topic: pass --topic (the stack's {MAIL_TOPIC})")
    approvers = configured_approvers(args, aws)
    if not approvers:
        raise BadApprovers("no approvers configured: pass --approvers, --parameter or --tags")
    subscriptions = SnsSubscriptions(aws.client("sns"), topic)
    steps = plan(approvers, subscriptions.subscriptions(), fix=args.fix)
    for step in steps:
        if not args.dry_run:
            _apply(subscriptions, step)
        label = _LABEL[step.action]
        if args.dry_run and step.action in {"create", "set-filter", "remove"}:
            label = f"would be {label}"
        print(f"{label:<10} {step.address}: {step.note}")
    problems = sum(step.action == "problem" for step in steps)
    if problems:
        print(f"{problems} subscription(s) would receive links meant for others; --fix removes or re-filters them")
    return 1 if problems else 0


def configured_approvers(args: argparse.Namespace, aws: Connection) -> list[str]:
    """Every address the configuration names, checked and lowercased, in the order first named."""
    named: list[tuple[str, str]] = [(raw, "--approvers") for raw in split_list(args.approvers)]
    if args.parameter:
        for pipeline, entry in ApproverMapping(aws.client("ssm"), args.parameter).mapping().items():
            listed = entry.get("approvers") or []
            if not isinstance(listed, list):
                raise BadApprovers(f"{args.parameter}: approvers of {pipeline} must be a list of addresses")
            named += [(str(raw), f"{args.parameter} ({pipeline})") for raw in listed]
    if args.tags:
        client = aws.client("codepipeline")
        pipelines = CodePipelineApprovals(client)
        for page in client.get_paginator("list_pipelines").paginate():
            for summary in page.get("pipelines", []):
                tag = pipelines.tags(summary["name"]).get(TAG_APPROVERS, "")
                named += [(raw, f"the {TAG_APPROVERS} tag of {summary['name']}") for raw in tag.split()]
    addresses: list[str] = []
    for raw, where in named:
        address = checked_address(raw)
        if address is None:
            raise BadApprovers(f"{raw!r} in {where} is not an email address")
        if address not in addresses:
            addresses.append(address)
    return addresses


_LABEL = {
    "keep": "ok",
    "create": "created",
    "pending": "pending",
    "set-filter": "filtered",
    "remove": "removed",
    "problem": "PROBLEM",
    "unused": "unused",
}


def _apply(subscriptions: SnsSubscriptions, step: Step) -> None:
    if step.action == "create":
        subscriptions.subscribe_email(step.address, filter_policy(step.address))
    elif step.action == "set-filter" and step.arn:
        subscriptions.set_filter(step.arn, filter_policy(step.address))
    elif step.action == "remove" and step.arn:
        subscriptions.unsubscribe(step.arn)
