"""Cold start: a fresh process importing a handler and building its clients, against bare boto3 plus one client.

It measures what ships: the `sam build` output (functions and SharedLayer, with the bytecode
packaging/Makefile compiles), on an interpreter without site-packages, as Lambda's /var/task and
/opt/python are. The baseline imports the same layer's boto3, so both sides load the same bytecode.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".aws-sam" / "build"
LAYER = BUILD / "SharedLayer" / "python"
GIT_LAYER = BUILD / "GitLayer" / "python"
RUNS = 21
GOAL = 1.25

BASELINE = "import boto3; boto3.client('codecommit')"
# A function's own floor: boto3 plus the one client every event of it needs. Service models differ in
# size (S3's costs ~35 ms more than CodeCommit's to load), so each handler is also held against the
# bare import of its own client: what remains is our code, Powertools and (backup) pygit2.
OWN_CLIENT = "import boto3; boto3.client('{service}')"
# The handlers import with the garbage collector paused (codereflex.coldstart); the same done to the
# bare baseline shows how much of the gap that closes, and what our modules cost beyond it.
BASELINE_PAUSED = (
    "from codereflex.coldstart import collector_paused\n"
    "with collector_paused():\n    import boto3\nboto3.client('codecommit')"
)
# What Powertools' Logger and Metrics (every handler has both) add to the baseline on their own: the
# floor under any handler that keeps them.
POWERTOOLS = BASELINE + "; from aws_lambda_powertools import Logger, Metrics; Logger(); Metrics()"
# Each handler: import it the way Lambda does, build its ports, create the one client every event
# needs (the others are created on first use), and read one of its sample events, so that work put
# off until the first event (a lazy import, a deferred model build) is still counted.
_READ = "import json; {model}.read(json.load(open('events/{event}')))"
HANDLERS = {
    "BuildResultsFunction": (
        "codecommit",
        "import build_results.app as app; "
        "app.default_ports().comments._client.client; "
        "from codereflex.events.codebuild import BuildStateChangeEvent; "
        + _READ.format(model="BuildStateChangeEvent", event="build_results/pr_failed.json"),
    ),
    "PrBuildsFunction": (
        "codebuild",
        "import pr_builds.app as app; app.settings(); app._client('codebuild').client; "
        "from codereflex.events.pull_requests import PullRequestStateChangeEvent; "
        + _READ.format(model="PullRequestStateChangeEvent", event="pr_builds/created.json"),
    ),
    "RepoActivityFunction": (
        "codecommit",
        "import repo_activity.app as app; app.settings(); app._client('codecommit').client; "
        "from codereflex.events.codecommit import RepositoryStateChangeEvent; "
        + _READ.format(model="RepositoryStateChangeEvent", event="repo_activity/force_push_main.json"),
    ),
    # The page routes with Powertools' Event Handler: a request to no page is resolved (routing and the
    # page's HTML, no AWS call), which is what its first request costs beyond its clients.
    "ApprovalPageFunction": (
        "dynamodb",
        "import approval_page.app as app; app.settings(); app._client('dynamodb').client; "
        "import json; app.app.resolve(json.load(open('events/approval_page/get_unknown_path.json')), None)",
    ),
    "ApprovalRequestsFunction": (
        "codepipeline",
        "import approval_requests.app as app; app.settings(); app._client('codepipeline').client; "
        "from codereflex.events.codepipeline import ActionExecutionStateChangeEvent; "
        + _READ.format(model="ActionExecutionStateChangeEvent", event="approval_requests/action_started.json"),
    ),
    # A CodeDeploy hook: its ports (the engine's adapters, the prober) are built on every invocation.
    "DeployHookAfterAllowTestTrafficFunction": (
        "codedeploy",
        "import deploy_hooks.app as app; app.settings(); "
        "app.default_ports(type('Context', (), {'invoked_function_arn': 'arn'})()); "
        "app._client('codedeploy').client; from codereflex.events import codedeploy; "
        "import json; codedeploy.read(json.load(open('events/deploy_hooks/ecs_after_allow_test_traffic.json')))",
    ),
    # ECS's own blue/green hook: DescribeServices is its first call. Its ports read the state key from
    # Secrets Manager (a network call, not a cold start's import cost), so only its clients are built here.
    "EcsHooksFunction": (
        "ecs",
        "import ecs_hooks.app as app; app.settings(); app._client('ecs').client; app._client('elbv2').client; "
        "from codereflex.events.ecs_lifecycle import EcsLifecycleHookEvent; "
        + _READ.format(model="EcsLifecycleHookEvent", event="ecs_hooks/post_test_traffic_shift.json"),
    ),
    # The backup function also loads the GitLayer (pygit2, libgit2): its own floor is higher.
    "RepoBackupFunction": (
        "s3",
        "import repo_backup.app as app; app.settings(); app._client('s3').client; "
        "from codereflex.events.codecommit import RepositoryStateChangeEvent; "
        + _READ.format(model="RepositoryStateChangeEvent", event="repo_backup/push_main.json"),
    ),
}


def _git_layer() -> Path:
    """The GitLayer as built where its native code runs here; else pygit2 from this machine, alone.

    The layer's libgit2 is aarch64: on another machine its import fails, so the bench loads the
    same pygit2 release built for this machine (and only it and cffi, no other site-packages).
    """
    if platform.machine() in ("aarch64", "arm64"):
        return GIT_LAYER
    here = Path(sysconfig.get_paths()["purelib"])
    alone = Path(tempfile.gettempdir()) / "codereflex-bench-pygit2"
    alone.mkdir(exist_ok=True)
    for name in ("pygit2", "pygit2.libs", "cffi", "pycparser", *(p.name for p in here.glob("_cffi_backend*"))):
        link = alone / name
        if not link.exists() and (here / name).exists():
            link.symlink_to(here / name)
    return alone


def _run(code: str, function: str | None = None) -> float:
    """Wall time of one fresh interpreter running `code` (whole process: start-up, imports, clients)."""
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        # The settings each function reads once per execution environment, as its template gives them.
        "IDEMPOTENCY_TABLE": "bench-records",
        "SIGNING_KEY_SECRET": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench",
        "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:bench",
        "BACKUP_BUCKET": "bench-backups",
        "APPROVALS_TABLE": "bench-approvals",
        "APPROVAL_MAIL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:bench-approvals",
        "APPROVAL_LINK_KEY_SECRET": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-links",
        "APPROVAL_PAGE_URL": "https://bench.lambda-url.us-east-1.on.aws/",
        "DEPLOYMENT_HOOK": "AfterAllowTestTraffic",
        "VALIDATION_BUCKET": "bench-validation",
        "STATE_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-state",
        "AWS_REGION": "us-east-1",
    }
    if function:
        # What the Lambda runtime sets: with it, Powertools Tracer is on (and patches botocore) and the
        # X-Ray SDK takes Lambda's local sampler instead of building its own X-Ray client at import
        # (it does that outside Lambda: aws/aws-xray-sdk-python#311).
        env.update(LAMBDA_TASK_ROOT=str(BUILD / function), AWS_LAMBDA_FUNCTION_NAME=function)
        env.update(AWS_EXECUTION_ENV="AWS_Lambda_python3.11")
    layers = [LAYER, _git_layer()] if function == "RepoBackupFunction" else [LAYER]
    env["PYTHONPATH"] = os.pathsep.join(([str(BUILD / function)] if function else []) + [str(p) for p in layers])
    started = time.perf_counter()
    # -S: no site-packages, so nothing is imported from the dev venv instead of the build.
    subprocess.run([sys.executable, "-S", "-c", code], env=env, check=True, cwd=ROOT)
    return time.perf_counter() - started


def main() -> int:
    if not LAYER.is_dir():
        print("bench_cold_start: no build to measure; run `make build` (or `make bench`) first", file=sys.stderr)
        return 2
    # Alternate the runs so a slow moment of the machine hits every side alike.
    rows: dict[str, tuple[str | None, str]] = {
        f"`{BASELINE}`": (None, BASELINE),
        "the same, importing with the collector paused as the handlers do": (None, BASELINE_PAUSED),
        "+ Powertools Logger and Metrics only": (None, POWERTOOLS),
    }
    own = {service: OWN_CLIENT.format(service=service) for service, _ in HANDLERS.values()}
    rows.update({f"`{code}`": (None, code) for code in own.values() if code != BASELINE})
    handler_rows = {f"{name} import + clients + one event read": name for name in HANDLERS}
    rows.update({label: (name, HANDLERS[name][1]) for label, name in handler_rows.items()})
    measured: dict[str, list[float]] = {label: [] for label in rows}
    _run(BASELINE)  # warm the file system cache
    for _ in range(RUNS):
        for label, (function, code) in rows.items():
            measured[label].append(_run(code, function))
    medians = {label: statistics.median(times) for label, times in measured.items()}
    base = medians[f"`{BASELINE}`"]
    print(f"| process ({RUNS} runs, medians) | seconds | x baseline | x boto3 + its own client | goal <= {GOAL}x |")
    print("|---|---|---|---|---|")
    for label, median in medians.items():
        name = handler_rows.get(label)
        if name is None:
            print(f"| {label} | {median:.3f} | {median / base:.2f} | | |")
            continue
        ratio = median / medians[f"`{own[HANDLERS[name][0]]}`"]
        verdict = "met" if ratio <= GOAL else "MISSED"
        print(f"| {label} | {median:.3f} | {median / base:.2f} | {ratio:.2f} | {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
