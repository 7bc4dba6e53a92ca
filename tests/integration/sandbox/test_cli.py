"""`python -m sandbox up | invoke` as a user runs them: a real process, real HTTP on 127.0.0.1, boto3 and git."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pygit2
import pytest

from codereflex.gitauth import authenticated_url
from sandbox.lambdas.router import Router
from sandbox.local import Credentials
from tests.conftest import EVENTS, ROOT

STARTUP_SECONDS = 60


def _git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd or ROOT)}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True, timeout=60)
    return done.stdout


def _invoke(logical_id: str, event_file: Path, *, running: Path | None) -> subprocess.CompletedProcess[str]:
    """`python -m sandbox invoke` as a user types it: against the `up` whose state file is `running`, or alone."""
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    if running is not None:
        # The tests' `up` says where it runs in a state file of its own, never the user's .sandbox/up.json.
        env.update(AWS_ENDPOINT_URL=os.environ["AWS_ENDPOINT_URL"], SANDBOX_STATE_FILE=str(running))
    return subprocess.run(
        [sys.executable, "-m", "sandbox", "invoke", logical_id, "-e", str(event_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def seed_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare repository on disk with history, to import with --repo."""
    path = tmp_path_factory.mktemp("seed") / "legacy.git"
    repo = pygit2.init_repository(str(path), bare=True, initial_head="main")
    author = pygit2.Signature("Seed", "seed@example.com")
    tree = repo.TreeBuilder().write()
    first = repo.create_commit("refs/heads/main", author, author, "first", tree, [])
    repo.create_commit("refs/heads/main", author, author, "second", tree, [first])
    return path


@pytest.fixture(scope="module")
def state_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state") / "up.json"


@contextmanager
def _up(*args: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    """`python -m sandbox up ARGS` in its own process; yields it and its JSON line, then stops it."""
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "up", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(process.stdout.readline() if process.stdout else ""))
    reader.start()
    reader.join(STARTUP_SECONDS)
    try:
        assert line and line[0].strip(), (
            f"sandbox up printed nothing: {process.stderr.read() if process.stderr else ''}"
        )
        yield process, json.loads(line[0])
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def sandbox_up(seed_repo: Path, state_file: Path) -> Iterator[dict[str, Any]]:
    """`python -m sandbox up --repo legacy=PATH --state-file PATH`; yields its JSON line."""
    with _up("--repo", f"legacy={seed_repo}", "--state-file", str(state_file)) as (_, description):
        yield description


@pytest.fixture
def aws(sandbox_up: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> boto3.Session:
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox_up["endpoint_url"])
    return boto3.Session(region_name=sandbox_up["region"])


def test_up_prints_one_json_line_with_endpoints_and_resources(sandbox_up: dict[str, Any]) -> None:
    assert sandbox_up["endpoint_url"].startswith("http://127.0.0.1:")
    assert sandbox_up["git_url"].startswith("http://127.0.0.1:")
    assert sandbox_up["resources"]["NotificationTopic"].startswith("arn:aws:sns:")
    assert "IdempotencyTable" in sandbox_up["resources"]
    enabled = Router.from_template(ROOT / "template.yaml").enabled_functions
    assert sandbox_up["functions"] == {spec.logical_id: spec.function_name for spec in enabled}
    assert sandbox_up["functions"]["RepoActivityFunction"] == "codereflex-RepoActivityFunction"
    assert sandbox_up["repositories"]["legacy"] == f"{sandbox_up['git_url']}/v1/repos/legacy"


def test_up_serves_the_approval_page_at_the_url_it_prints(sandbox_up: dict[str, Any]) -> None:
    page = sandbox_up["approval_page_url"]
    assert page.startswith("http://127.0.0.1:") and page.endswith("/")
    assert sandbox_up["resources"]["ApprovalPageFunctionUrl.FunctionUrl"] == page  # the requests function's link base
    for path, status, says in (("", 404, "Page not found"), ("a/eyJ2IjoxfQ.0123abcd.forged", 403, "not valid")):
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(page + path, timeout=30)  # noqa: S310 (the sandbox's loopback URL)
        assert answer.value.code == status and says in answer.value.read().decode()
        assert answer.value.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_up_is_quiet_and_says_where_it_runs_in_its_state_file_while_it_runs(tmp_path: Path) -> None:
    state_file = tmp_path / "elsewhere" / "up.json"
    with _up("--state-file", str(state_file)) as (process, description):
        # While it runs, its state file holds what it printed
        assert json.loads(state_file.read_text()) == description
        sqs = boto3.Session(region_name=description["region"]).client("sqs", endpoint_url=description["endpoint_url"])
        for _ in range(3):
            sqs.list_queues()
    # Then, stopped, it printed nothing but its line (no line per request) and removed its state file
    out, err = process.communicate(timeout=30)
    assert out == ""
    assert "HTTP/1.1" not in err, err
    assert not state_file.exists()


def test_boto3_reaches_the_extended_operations_through_the_endpoint(
    sandbox_up: dict[str, Any], aws: boto3.Session, tmp_path: Path
) -> None:
    # Given the imported repository and a developer's credentials from the JSON line
    codecommit = aws.client("codecommit")
    names = [r["repositoryName"] for r in codecommit.list_repositories()["repositories"]]
    assert "legacy" in names
    main = codecommit.get_branch(repositoryName="legacy", branchName="main")["branch"]["commitId"]
    # When a developer pushes a topic branch with plain git through the git server
    dev = sandbox_up["developer"]
    creds = Credentials(dev["aws_access_key_id"], dev["aws_secret_access_key"])
    url = authenticated_url(sandbox_up["repositories"]["legacy"], creds, fallback_region=sandbox_up["region"])
    work = tmp_path / "work"
    _git("clone", "--quiet", url, str(work), cwd=tmp_path)
    _git(
        "-c",
        "user.name=Dev",
        "-c",
        "user.email=dev@example.com",
        "commit",
        "--quiet",
        "--allow-empty",
        "-m",
        "topic work",
        cwd=work,
    )
    _git("push", "--quiet", "origin", "HEAD:refs/heads/topic", cwd=work)
    topic = _git("rev-parse", "HEAD", cwd=work).strip()
    # Then the CodeCommit API over HTTP sees it: branches, merge options, pull requests, comments, approvals
    assert codecommit.get_branch(repositoryName="legacy", branchName="topic")["branch"]["commitId"] == topic
    options = codecommit.get_merge_options(
        repositoryName="legacy", sourceCommitSpecifier="topic", destinationCommitSpecifier="main"
    )
    assert options["baseCommitId"] == main
    pr = codecommit.create_pull_request(
        title="Topic",
        targets=[{"repositoryName": "legacy", "sourceReference": "topic", "destinationReference": "main"}],
    )["pullRequest"]
    comment = codecommit.post_comment_for_pull_request(
        pullRequestId=pr["pullRequestId"],
        repositoryName="legacy",
        beforeCommitId=main,
        afterCommitId=topic,
        content="Looks good",
        clientRequestToken="cli-test-1",
    )["comment"]
    listed = codecommit.get_comments_for_pull_request(pullRequestId=pr["pullRequestId"])
    assert [c["content"] for d in listed["commentsForPullRequestData"] for c in d["comments"]] == ["Looks good"]
    codecommit.update_comment(commentId=comment["commentId"], content="Looks great")
    edited = codecommit.get_comments_for_pull_request(pullRequestId=pr["pullRequestId"])
    assert edited["commentsForPullRequestData"][0]["comments"][0]["content"] == "Looks great"
    # And a second identity (not the author) can approve, which the approval states then show
    iam = aws.client("iam")
    iam.create_user(UserName="reviewer")
    key = iam.create_access_key(UserName="reviewer")["AccessKey"]
    reviewer = boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name="us-east-1"
    ).client("codecommit")
    reviewer.update_pull_request_approval_state(
        pullRequestId=pr["pullRequestId"], revisionId=pr["revisionId"], approvalState="APPROVE"
    )
    states = codecommit.get_pull_request_approval_states(
        pullRequestId=pr["pullRequestId"], revisionId=pr["revisionId"]
    )["approvals"]
    assert states == [{"userArn": "arn:aws:iam::123456789012:user/reviewer", "approvalState": "APPROVE"}]


def test_invoke_against_the_running_sandbox_publishes_to_its_topic(
    sandbox_up: dict[str, Any], aws: boto3.Session, state_file: Path
) -> None:
    # Given a subscriber queue on the running sandbox's topic
    sqs = aws.client("sqs")
    queue = sqs.create_queue(QueueName="cli-test-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("sns").subscribe(TopicArn=sandbox_up["resources"]["NotificationTopic"], Protocol="sqs", Endpoint=arn)
    # When `python -m sandbox invoke` runs with AWS_ENDPOINT_URL pointing at it
    done = _invoke("RepoActivityFunction", EVENTS / "repo_activity" / "tag_deleted.json", running=state_file)
    assert done.returncode == 0, done.stderr
    # Then it prints the handler's result as JSON, and the notice reached the topic of that sandbox
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"outcome": "published", "activity": "tag-deleted"}
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(messages[0]["Body"])["Subject"] == "[codereflex] Tag v1.4.0 deleted in payments-service"


def test_invoke_against_the_running_sandbox_says_which_state_it_lacks(
    sandbox_up: dict[str, Any], aws: boto3.Session, state_file: Path
) -> None:
    # The running sandbox is the user's: nothing is seeded there, so its missing repository is named
    done = _invoke("RepoActivityFunction", EVENTS / "repo_activity" / "force_push_main.json", running=state_file)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["outcome"] == "rejected"
    (missing,) = [line for line in done.stderr.splitlines() if line.startswith("--- missing state:")]
    assert "payments-service" in missing
    assert "this sandbox does not have" in missing


def test_invoke_without_an_endpoint_uses_a_private_sandbox() -> None:
    done = _invoke("RepoActivityFunction", EVENTS / "repo_activity" / "branch_deleted.json", running=None)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"outcome": "published", "activity": "branch-deleted"}
    assert "[codereflex] Branch feature/refunds deleted in payments-service" in done.stderr


def test_invoke_of_an_unknown_function_fails_clearly() -> None:
    done = _invoke("NoSuchFunction", EVENTS / "repo_activity" / "branch_deleted.json", running=None)
    assert done.returncode != 0
    assert "NoSuchFunction" in done.stderr


def _legacy_push_event(seed_repo: Path, tmp_path: Path) -> Path:
    """events/repo_backup/push_main.json retargeted at the `legacy` repository `up` imported; its file."""
    event = json.loads((EVENTS / "repo_backup" / "push_main.json").read_text())
    event["resources"] = ["arn:aws:codecommit:us-east-1:123456789012:legacy"]
    event["detail"] = {
        **event["detail"],
        "repositoryName": "legacy",
        "commitId": str(pygit2.Repository(str(seed_repo)).revparse_single("main").id),
    }
    path = tmp_path / "legacy-push.json"
    path.write_text(json.dumps(event))
    return path


def test_invoke_against_the_running_sandbox_runs_with_the_functions_own_identity(
    sandbox_up: dict[str, Any], aws: boto3.Session, seed_repo: Path, tmp_path: Path, state_file: Path
) -> None:
    # Given a push event for the repository `up` imported (the backup function clones it over git)
    event_file = _legacy_push_event(seed_repo, tmp_path)
    identity = sandbox_up["functions_identity"]
    assert identity["aws_access_key_id"] != sandbox_up["developer"]["aws_access_key_id"]
    # When it is invoked against the running sandbox, from a shell holding nobody's AWS keys
    done = _invoke("RepoBackupFunction", event_file, running=state_file)
    # Then the git server accepted the function's own keys and the backup landed in the sandbox's bucket
    assert done.returncode == 0, done.stderr
    # (`up` may already have backed up the import; then the function's ls-remote found it unchanged)
    assert json.loads(done.stdout.strip().splitlines()[-1])["outcome"] in {"backed-up", "unchanged"}
    keys = [
        o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=sandbox_up["resources"]["BackupBucket"])["Contents"]
    ]
    assert any(key.startswith("backups/legacy/") for key in keys)


def test_the_codereflex_command_restores_from_the_running_sandbox(
    sandbox_up: dict[str, Any], aws: boto3.Session, seed_repo: Path, tmp_path: Path, state_file: Path
) -> None:
    # Given the imported repository backed up by the function in the running sandbox
    backed_up = _invoke("RepoBackupFunction", _legacy_push_event(seed_repo, tmp_path), running=state_file)
    assert backed_up.returncode == 0, backed_up.stderr
    assert json.loads(backed_up.stdout.strip().splitlines()[-1])["outcome"] in {"backed-up", "unchanged"}, (
        backed_up.stdout
    )
    # When the installed `codereflex` command runs from a shell with AWS_ENDPOINT_URL set to it
    command = Path(sys.executable).parent / "codereflex"
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": sandbox_up["endpoint_url"],
        "CODEREFLEX_BACKUP_BUCKET": sandbox_up["resources"]["BackupBucket"],
    }

    def codereflex(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(command), "backup", *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    listed = codereflex("list", "legacy")
    restored = codereflex("restore", "legacy", "--to", str(tmp_path / "legacy.git"))
    verified = codereflex("verify", "legacy")
    # Then it lists the backup, restores exactly the source's refs, and verifies the chain
    assert listed.returncode == 0, listed.stderr
    assert "00000001-" in listed.stdout
    assert restored.returncode == 0, restored.stderr
    # (the source is the sandbox's copy of the import, which the other tests may have pushed to)
    assert _git("show-ref", cwd=tmp_path / "legacy.git") == _served_refs(sandbox_up, "legacy")
    assert verified.returncode == 0, verified.stderr


def _served_refs(sandbox_up: dict[str, Any], name: str) -> str:
    """The refs the running sandbox serves for repository `name`, in `git show-ref`'s format."""
    dev = sandbox_up["developer"]
    creds = Credentials(dev["aws_access_key_id"], dev["aws_secret_access_key"])
    url = authenticated_url(sandbox_up["repositories"][name], creds, fallback_region=sandbox_up["region"])
    listed = [line.split("\t") for line in _git("ls-remote", url).splitlines()]
    return "".join(f"{oid} {ref}\n" for oid, ref in sorted(listed, key=lambda pair: pair[1]) if ref != "HEAD")


def _bare_shell(**extra: str) -> dict[str, str]:
    """A shell that holds no AWS settings and no bucket: what a newcomer has after `make setup`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CODEREFLEX_", "SANDBOX_"))}
    return {**env, "AWS_EC2_METADATA_DISABLED": "true", "AWS_SHARED_CREDENTIALS_FILE": os.devnull, **extra}


def _codereflex(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).parent / "codereflex"
    return subprocess.run(
        [str(command), "backup", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_codereflex_command_finds_the_running_sandbox_by_itself(
    sandbox_up: dict[str, Any], aws: boto3.Session, seed_repo: Path, tmp_path: Path, state_file: Path
) -> None:
    # Given the imported repository backed up in the running sandbox
    backed_up = _invoke("RepoBackupFunction", _legacy_push_event(seed_repo, tmp_path), running=state_file)
    assert backed_up.returncode == 0, backed_up.stderr
    # When `codereflex` runs from a shell with no AWS keys, region, endpoint or bucket, the sandbox's state file
    # where it looks (here named by SANDBOX_STATE_FILE, as `up` was told)
    listed = _codereflex(_bare_shell(SANDBOX_STATE_FILE=str(state_file)), "list", "legacy")
    # Then it lists the sandbox's backups, and says on stderr which endpoint it used
    assert listed.returncode == 0, listed.stderr
    assert "00000001-" in listed.stdout
    assert f"using the sandbox at {sandbox_up['endpoint_url']} ({state_file})" in listed.stderr


def test_the_codereflex_command_uses_the_sandbox_when_asked_even_with_aws_keys(
    sandbox_up: dict[str, Any], aws: boto3.Session, seed_repo: Path, tmp_path: Path, state_file: Path
) -> None:
    backed_up = _invoke("RepoBackupFunction", _legacy_push_event(seed_repo, tmp_path), running=state_file)
    assert backed_up.returncode == 0, backed_up.stderr
    # A shell configured for some AWS account: only --sandbox (with the state file's path) sends it to the sandbox
    shell = _bare_shell(AWS_ACCESS_KEY_ID="AKIDELSEWHERE", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="eu-west-1")
    verified = _codereflex(shell, "verify", "legacy", "--state-file", str(state_file))
    assert verified.returncode == 0, verified.stderr
    assert "problem" in verified.stdout
    assert f"using the sandbox at {sandbox_up['endpoint_url']}" in verified.stderr


def test_the_codereflex_command_says_when_the_sandbox_it_names_is_gone(tmp_path: Path) -> None:
    # A state file left by a sandbox that was killed: the endpoint no longer answers
    stale = tmp_path / "up.json"
    with _up("--state-file", str(stale)) as (_, description):
        kept = stale.read_text()
    stale.write_text(kept)
    done = _codereflex(_bare_shell(), "list", "legacy", "--sandbox", "--state-file", str(stale))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"cannot reach {description['endpoint_url']}" in done.stderr.splitlines()[-1]
    assert "still running" in done.stderr
