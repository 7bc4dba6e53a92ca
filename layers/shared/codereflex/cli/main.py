"""`codereflex backup ...`, `approvers sync` and `validation check`: backups, approval mail, deployment specs.

`backup` reads the repository backups in S3, restores them, takes one; `approvers sync` keeps one
filtered email subscription per approver on the approval mail topic (codereflex.cli.approvers).

Works against AWS with the usual credential chain, or against a running `python -m sandbox up`: with
--sandbox, or by itself when no AWS endpoint or credentials are configured and the sandbox's state file
exists (it then says so on stderr). Progress of long downloads goes to stderr. `backup run` is
what the CodeBuild hand-off project executes: one backup of one repository, configured by the
same environment variables as the backup function.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple, TextIO

import boto3
import botocore.exceptions
import pygit2
from pygit2.remotes import RemoteCollection

from codereflex.aws.codecommit_repositories import CodeCommitRepositories
from codereflex.aws.s3 import S3ObjectStore
from codereflex.backup.backup import back_up
from codereflex.backup.catalog import exact_time, list_backups
from codereflex.backup.handoff import BUILD_ID_VARIABLE, EVENT_VARIABLE, LEASE_OWNER_VARIABLE, REPOSITORY_VARIABLE
from codereflex.backup.job import BackupRequest, Collaborators, Policy
from codereflex.backup.mirror import GitMirror
from codereflex.backup.restore import choose_backup, restore_entry, verify
from codereflex.backup.settings import Settings
from codereflex.backup.store import Progress
from codereflex.cli import validation
from codereflex.cli.approvers import add_commands as add_approver_commands
from codereflex.errors import CodeReflexError
from codereflex.gitremote import CodeCommitCredentials

BUCKET_ENV = "CODEREFLEX_BACKUP_BUCKET"
# Where `python -m sandbox up` describes itself (its --state-file / SANDBOX_STATE_FILE), from the checkout's root.
SANDBOX_STATE_ENV = "SANDBOX_STATE_FILE"
SANDBOX_STATE_FILE = Path(".sandbox") / "up.json"
SANDBOX_HINT = "or start `python -m sandbox up` and pass --sandbox"
NO_CREDENTIALS = f"no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), {SANDBOX_HINT}"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except MissingConfiguration as missing:
        print(f"codereflex: {missing}", file=sys.stderr)
        return 2
    except botocore.exceptions.NoCredentialsError:
        # Checked before the first call; this is for credentials that vanish in between (an expired profile).
        print(f"codereflex: {NO_CREDENTIALS}", file=sys.stderr)
        return 2
    except botocore.exceptions.EndpointConnectionError as error:
        print(f"codereflex: cannot reach {error.kwargs.get('endpoint_url')}: {_stale_hint(args)}", file=sys.stderr)
        return 1
    except CodeReflexError as error:
        print(f"codereflex: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codereflex", description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    validation.add_parser(commands)
    backup = commands.add_parser("backup", help="list, restore and verify repository backups")
    actions = backup.add_subparsers(dest="action", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("repository", help="CodeCommit repository name")
        sub.add_argument("--bucket", default=os.environ.get(BUCKET_ENV), help=f"backup bucket (default ${BUCKET_ENV})")
        sub.add_argument("--prefix", default="backups/", help="key prefix of the backups (default backups/)")
        sandbox_options(sub)

    def sandbox_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--sandbox",
            action="store_true",
            help="use the running `python -m sandbox up` (its endpoint, developer keys, region and bucket)",
        )
        sub.add_argument(
            "--state-file",
            type=Path,
            default=None,
            help=f"the running sandbox's state file; implies --sandbox (default ${SANDBOX_STATE_ENV}, "
            f"else {SANDBOX_STATE_FILE})",
        )

    listing = actions.add_parser("list", help="every backup of a repository, oldest first")
    common(listing)
    listing.set_defaults(run=_list)
    restoring = actions.add_parser("restore", help="a bare repository with exactly the refs of a moment")
    common(restoring)
    chosen = restoring.add_mutually_exclusive_group()
    chosen.add_argument(
        "--at",
        metavar="TIME",
        help="restore the last backup at or before this ISO 8601 time: a date, a time with or without seconds "
        "and fractions, with Z or an offset (none means UTC), or a time as `list` prints it "
        "(default: the latest backup)",
    )
    chosen.add_argument("--backup", metavar="ID", help="restore the backup with this id, as `list` prints it")
    restoring.add_argument("--to", required=True, type=Path, help="new directory for the bare repository")
    restoring.add_argument("--push-to", help="also push every restored ref to this new CodeCommit repository")
    restoring.set_defaults(run=_restore)
    verifying = actions.add_parser("verify", help="re-read every bundle chain and check every backup")
    common(verifying)
    verifying.set_defaults(run=_verify)
    running = actions.add_parser(
        "run",
        help="back up one repository now, as the backup function does (what the CodeBuild hand-off runs)",
        description="Settings come from the backup function's variables (BACKUP_BUCKET, BACKUP_PREFIX, "
        f"BACKUP_KMS_KEY_ARN, FULL_BACKUP_EVERY, BACKUP_WORK_DIR); ${LEASE_OWNER_VARIABLE} takes over "
        "the lease a function handed to this build.",
    )
    running.add_argument(
        "repository",
        nargs="?",
        default=os.environ.get(REPOSITORY_VARIABLE),
        help=f"CodeCommit repository name (default ${REPOSITORY_VARIABLE})",
    )
    sandbox_options(running)
    running.set_defaults(run=_run)
    add_approver_commands(commands, sandbox_options, _connect)
    return parser


class BadArgument(CodeReflexError):
    """A command-line value the command cannot use: one sentence on stderr, exit status 1."""


class MissingConfiguration(CodeReflexError):
    """No credentials, region, bucket or sandbox to use: one sentence naming what to set, exit status 2."""


class Aws(NamedTuple):
    """Where the command's calls go: a session, its endpoint (None: boto3's own choice) and a default bucket."""

    session: boto3.Session
    endpoint_url: str | None
    bucket: str | None
    resources: Mapping[str, str] = MappingProxyType({})  # the sandbox's: logical id -> name or ARN

    def client(self, name: str) -> Any:
        return self.session.client(name, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]


def _state_file(args: argparse.Namespace) -> Path:
    given: Path | None = args.state_file
    return given or Path(os.environ.get(SANDBOX_STATE_ENV) or SANDBOX_STATE_FILE)


def _stale_hint(args: argparse.Namespace) -> str:
    return f"is `python -m sandbox up` still running? ({_state_file(args)} may be left from one that is not)"


def _connect(args: argparse.Namespace) -> Aws:
    """The sandbox when asked for, or when nothing else is configured and it is up; else AWS, checked.

    A shell with AWS credentials or an endpoint of its own is never switched to the sandbox silently:
    only an explicit --sandbox, or the same endpoint the state file names, fills in what it lacks.
    """
    state_file = _state_file(args)
    explicit = args.sandbox or args.state_file is not None
    session = boto3.Session()
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    state: dict[str, Any] | None = None
    if explicit:
        if not state_file.is_file():
            raise MissingConfiguration(
                f"no running sandbox: {state_file} is missing; start `python -m sandbox up` "
                f"(or name its state file with --state-file or ${SANDBOX_STATE_ENV})"
            )
        state = json.loads(state_file.read_text(encoding="utf-8"))
    elif state_file.is_file():
        found = json.loads(state_file.read_text(encoding="utf-8"))
        if endpoint == found.get("endpoint_url") or (endpoint is None and session.get_credentials() is None):
            state = found
    if state is not None:
        developer = state["developer"]
        print(f"codereflex: using the sandbox at {state['endpoint_url']} ({state_file})", file=sys.stderr)
        sandbox = boto3.Session(
            aws_access_key_id=developer["aws_access_key_id"],
            aws_secret_access_key=developer["aws_secret_access_key"],
            region_name=state["region"],
        )
        resources = state.get("resources", {})
        return Aws(sandbox, state["endpoint_url"], resources.get("BackupBucket"), MappingProxyType(resources))
    if session.get_credentials() is None:
        raise MissingConfiguration(NO_CREDENTIALS)
    if not session.region_name:
        raise MissingConfiguration(f"no AWS region: set AWS_DEFAULT_REGION (or a profile's region), {SANDBOX_HINT}")
    return Aws(session, endpoint, None)


def _timestamp(text: str) -> datetime:
    """Python's ISO 8601 reader takes dates, minutes, fractions, Z and offsets; a time without a zone is UTC."""
    stripped = text.strip()
    if stripped.endswith("z"):  # RFC 3339 allows a lower-case Z, which fromisoformat refuses
        stripped = stripped[:-1] + "Z"
    try:
        when = datetime.fromisoformat(stripped)
    except ValueError:
        raise BadArgument(
            f"--at {text!r} is not an ISO 8601 time (such as 2026-12-01, 2026-12-01T19:03Z "
            "or a time `codereflex backup list` prints)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _store(args: argparse.Namespace, aws: Aws | None = None) -> S3ObjectStore:
    aws = aws or _connect(args)
    bucket = args.bucket or aws.bucket
    if not bucket:
        raise MissingConfiguration(f"no backup bucket: pass --bucket or set ${BUCKET_ENV}, {SANDBOX_HINT}")
    return S3ObjectStore(aws.client("s3"), bucket)


def _list(args: argparse.Namespace) -> int:
    catalog = list_backups(_store(args), args.prefix, args.repository)
    if not catalog.entries:
        print(f"no backups of {args.repository}")
        return 1
    width = max(len(entry.backup_id) for entry in catalog.entries)
    print(f"{'backup':<{width}}  {'time':<32}  {'refs':>5}  event")
    for entry in catalog.entries:
        event = entry.event_id or "(sweep)"
        print(f"{entry.backup_id:<{width}}  {exact_time(entry.time):<32}  {entry.ref_count:>5}  {event}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    destination: Path = args.to
    if destination.exists() and any(destination.iterdir()):
        raise SystemExit(f"codereflex: {destination} exists and is not empty")
    at = _timestamp(args.at) if args.at is not None else None
    aws = _connect(args)
    store = _store(args, aws)
    entry = choose_backup(store, args.prefix, args.repository, at=at, backup=args.backup)
    if args.backup is not None:
        why = "by its id"
    elif at is not None:
        why = f"the last at or before {at.astimezone(UTC).isoformat()}"
    else:
        why = "the latest"
    # Said before the download starts, so a long restore of the wrong moment can be stopped at once.
    print(f"Restoring backup {entry.backup_id} ({exact_time(entry.time)}), {why}", flush=True)
    manifest = restore_entry(store, entry, destination, progress_bar(sys.stderr))
    print(f"restored {args.repository} as of {exact_time(manifest.time)} ({manifest.backup_id}) into {destination}")
    print(f"{len(manifest.refs)} refs, {len(manifest.chain)} bundle(s) applied")
    if args.push_to:
        _push(aws, destination, args.push_to, manifest.refs)
    return 0


def _verify(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="codereflex-verify-") as scratch:
        checked, problems = verify(_store(args), args.prefix, args.repository, Path(scratch))
    for problem in problems:
        print(f"PROBLEM {problem.backup_id}: {problem.description}")
    print(f"{checked} backup(s) checked, {len(problems)} problem(s)")
    return 1 if problems or not checked else 0


def _run(args: argparse.Namespace) -> int:
    if not args.repository:
        raise SystemExit(f"codereflex: name the repository, or set ${REPOSITORY_VARIABLE}")
    aws = _connect(args)
    env = dict(os.environ)
    if not env.get("BACKUP_BUCKET"):
        if not aws.bucket:
            raise MissingConfiguration(f"no backup bucket: set BACKUP_BUCKET, {SANDBOX_HINT}")
        env["BACKUP_BUCKET"] = aws.bucket
    settings = Settings.from_env(env)
    session = aws.session
    repositories = CodeCommitRepositories(aws.client("codecommit"))

    def credentials() -> CodeCommitCredentials:
        return CodeCommitCredentials(session.get_credentials(), session.region_name)  # type: ignore[arg-type]

    parts = Collaborators(
        git=GitMirror(settings.work_dir / "mirrors", credentials),
        store=S3ObjectStore(aws.client("s3"), settings.bucket, settings.kms_key_id),
        scratch=settings.work_dir / "scratch",
        metadata=repositories,
        build_id=env.get(BUILD_ID_VARIABLE) or None,
    )
    if env.get(LEASE_OWNER_VARIABLE):
        parts.owner = env[LEASE_OWNER_VARIABLE]  # the owner the function handed the lease to
    # No offload here: this run is where too-large repositories go, so it backs up whatever the size.
    policy = Policy(prefix=settings.prefix, full_every=settings.full_every)
    request = BackupRequest(args.repository, repositories.clone_url(args.repository), env.get(EVENT_VARIABLE) or None)
    result = back_up(request, policy, parts)
    print(
        json.dumps(
            {
                "outcome": result.outcome.value,
                "repository": result.repository,
                "backupId": result.backup_id,
                "full": result.full,
                "bytes": result.bytes_uploaded,
                "objects": result.objects,
                "refs": result.refs,
            }
        )
    )
    return 0


def _push(aws: Aws, source: Path, repository: str, refs: dict[str, str]) -> None:
    codecommit = aws.client("codecommit")
    url = codecommit.create_repository(repositoryName=repository)["repositoryMetadata"]["cloneUrlHttp"]
    session = aws.session
    remote = RemoteCollection(pygit2.Repository(str(source))).create_anonymous(url)  # type: ignore[arg-type,no-untyped-call]
    remote.push(
        [f"+{name}:{name}" for name in sorted(refs)],
        callbacks=CodeCommitCredentials(session.get_credentials(), session.region_name),  # type: ignore[arg-type]
    )
    print(f"pushed {len(refs)} refs to new repository {repository}: {url}")


def progress_bar(stream: TextIO) -> Callable[[str, int], Progress]:
    """Download progress per bundle: a bar on a terminal, one line with its size otherwise."""

    def start(key: str, total: int) -> Progress:
        done = 0
        name = key.rsplit("/", 1)[-1]

        def advance(amount: int) -> None:
            nonlocal done
            done += amount
            if total and stream.isatty():
                filled = int(30 * min(done, total) / total)
                stream.write(f"\r  {name} [{'#' * filled}{'.' * (30 - filled)}] {size(done, total)}/{size(total)}")
                if done >= total:
                    stream.write("\n")
                stream.flush()

        if not stream.isatty():
            stream.write(f"  downloading {name} ({size(total)})\n")
        return advance

    return start


def size(count: int, scale: int | None = None) -> str:
    """Bytes in the unit that suits `scale` (default `count`): 400 B, 12.3 KB, 4.5 MB, 1.2 GB (powers of 1000)."""
    reference = count if scale is None else scale
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if reference >= factor:
            return f"{count / factor:.1f} {unit}"
    return f"{count} B"


if __name__ == "__main__":
    raise SystemExit(main())
