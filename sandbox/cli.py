"""Command line of the sandbox: `up` (serve local AWS and git), `invoke` (sam local invoke without Docker), `demo`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from sandbox.aws.moto_ext import Mail
from sandbox.demo.demo import run as run_demo
from sandbox.lambdas.router import Router
from sandbox.lambdas.samples import MissingState, Seeded, seed
from sandbox.local import Credentials, Sandbox, function_credentials_env

ROOT = Path(__file__).resolve().parents[1]
# Where `up` says it is running (and `invoke` against it looks); SANDBOX_STATE_FILE or --state-file moves it.
STATE_FILE = ROOT / ".sandbox" / "up.json"
STATE_FILE_ENV = "SANDBOX_STATE_FILE"


def _repo_option(value: str) -> tuple[str, Path]:
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {value!r}")
    return name, Path(path).expanduser()


def _parameter_option(value: str) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected Key=Value, got {value!r}")
    return key, val


def _state_file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-file",
        type=Path,
        default=Path(os.environ.get(STATE_FILE_ENV) or STATE_FILE),
        help=f"the running sandbox's description (default: ${STATE_FILE_ENV}, else .sandbox/up.json)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start local AWS and the git server in the foreground")
    up.add_argument(
        "--repo",
        action="append",
        type=_repo_option,
        default=[],
        metavar="NAME=PATH",
        help="import an existing bare repository as CodeCommit repository NAME (repeatable)",
    )
    up.add_argument("--port", type=int, default=0, help="local AWS port (default: any free port)")
    up.add_argument("--git-port", type=int, default=0, help="git server port (default: any free port)")
    up.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    up.add_argument(
        "--parameter",
        action="append",
        type=_parameter_option,
        default=[],
        metavar="Key=Value",
        help="template parameter override (repeatable)",
    )
    _state_file_option(up)

    invoke = commands.add_parser("invoke", help="invoke one function with an event file, like sam local invoke")
    invoke.add_argument("logical_id", help="the function's logical id in template.yaml")
    invoke.add_argument("-e", "--event", type=Path, required=True, help="event JSON file")
    invoke.add_argument("--parameter", action="append", type=_parameter_option, default=[], metavar="Key=Value")
    invoke.add_argument(
        "--no-seed",
        dest="seed",
        action="store_false",
        help="start the private sandbox empty instead of seeding what the event names",
    )
    _state_file_option(invoke)

    commands.add_parser("demo", help="run the end-to-end demo")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "up":
        return _up(args)
    if args.command == "invoke":
        return _invoke(args)
    return run_demo()


def _up(args: argparse.Namespace) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Sandbox(
        server=True, region=args.region, aws_port=args.port, git_port=args.git_port, parameters=dict(args.parameter)
    ) as sandbox:
        for name, path in args.repo:
            sandbox.import_repository(name, path)
        description = sandbox.description()
        description["repositories"] = {name: sandbox.store.clone_url(name) for name, _ in args.repo}
        state_file: Path = args.state_file
        state_file.parent.mkdir(parents=True, exist_ok=True)
        state_file.write_text(json.dumps(description, indent=2) + "\n")
        try:
            print(json.dumps(description), flush=True)
            stop.wait()
        finally:
            state_file.unlink(missing_ok=True)
    return 0


def _invoke(args: argparse.Namespace) -> int:
    event: Any = json.loads(args.event.read_text(encoding="utf-8"))
    known = {spec.logical_id for spec in Router.from_template(ROOT / "template.yaml").functions}
    if args.logical_id not in known:
        print(f"unknown function {args.logical_id}; template.yaml has: {', '.join(sorted(known))}", file=sys.stderr)
        return 2
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        result = _invoke_against_running(args.logical_id, event, endpoint, dict(args.parameter), args.state_file)
    else:
        with Sandbox(parameters=dict(args.parameter)) as sandbox:
            seeded = Seeded(event)
            if args.seed:
                try:
                    seeded = seed(sandbox, event, args.logical_id)
                except MissingState as missing:
                    print(missing, file=sys.stderr)
                    return 1
                _say_seeded(seeded.created, seeded.renamed)
                event = seeded.event
            seen = {id(mail) for mail in _approval_mail(sandbox)}
            try:
                result = sandbox.invoke(args.logical_id, event)
            finally:
                seeded.stop()
            for notice in sandbox.notices():
                print(f"--- notice: {notice.subject}\n{notice.message}", file=sys.stderr)
            for mail in _approval_mail(sandbox):
                if id(mail) not in seen:
                    print(f"--- mail to {mail.address}: {mail.subject}\n{mail.message}", file=sys.stderr)
    _say_missing(result, seeded=not endpoint and args.seed)
    print(json.dumps(result))
    return 0


def _approval_mail(sandbox: Sandbox) -> list[Mail]:
    """What each approver's email subscription on the approval mail topic received, oldest first."""
    topic = sandbox.stack.refs.get("ApprovalMailTopic")
    if topic is None:
        return []
    listed = sandbox.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    addresses = sorted({s["Endpoint"] for s in listed if s["Protocol"] == "email"})
    return [mail for address in addresses for mail in sandbox.mailbox(address)]


def _say_seeded(created: list[str], renamed: dict[str, str]) -> None:
    if created:
        print(f"--- seeded: {'; '.join(created)}", file=sys.stderr)
    if renamed:
        pairs = ", ".join(f"{old[:12]}→{new[:12]}" for old, new in renamed.items())
        print(f"--- the event's ids were rewritten to the seeded ones: {pairs}", file=sys.stderr)


def _say_missing(result: Any, *, seeded: bool) -> None:
    """A rejection for state the sandbox lacks, said as what to do about it."""
    if not isinstance(result, dict) or result.get("reason") != "target-gone":
        return
    where = (
        "the event names state the seeding does not create"
        if seeded
        else "the event names state this sandbox does not have"
    )
    print(
        f"--- missing state: {result.get('error')}: {where}; create it in `python -m sandbox up` "
        "(push the repository, open the pull request) and invoke with AWS_ENDPOINT_URL set, "
        "or invoke a sample from events/ without AWS_ENDPOINT_URL, which seeds it",
        file=sys.stderr,
    )


def _invoke_against_running(
    logical_id: str, event: Any, endpoint: str, parameters: dict[str, str], state_file: Path
) -> Any:
    if not state_file.exists():
        raise SystemExit(
            f"AWS_ENDPOINT_URL is set but no sandbox is up ({state_file} is missing): "
            "start `python -m sandbox up`, or unset AWS_ENDPOINT_URL to use a private sandbox"
        )
    state = json.loads(state_file.read_text())
    if state.get("endpoint_url") != endpoint:
        raise SystemExit(f"AWS_ENDPOINT_URL={endpoint} is not the running sandbox ({state.get('endpoint_url')})")
    router = Router.from_template(
        ROOT / "template.yaml",
        parameters=parameters,
        resources=state["resources"],
        stack_name=state["stack_name"],
        region=state["region"],
    )
    identity = state["functions_identity"]
    credentials = Credentials(
        identity["aws_access_key_id"], identity["aws_secret_access_key"], identity.get("aws_session_token")
    )
    env = {**function_credentials_env(credentials), "AWS_ENDPOINT_URL": endpoint}
    return router.invoke(logical_id, event, env_overrides=env)
