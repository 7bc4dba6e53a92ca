"""Fixtures for the moto extension: a git store under tmp_path, and AWS clients in-process or over HTTP."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
import pygit2
import pytest
from moto import mock_aws
from moto.moto_api._internal.models import moto_api_backend
from moto.server import ThreadedMotoServer

from sandbox.aws.moto_ext import install
from sandbox.git import gitstore
from sandbox.git.gitstore import GitStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

    from mypy_boto3_codebuild import CodeBuildClient
    from mypy_boto3_codecommit import CodeCommitClient
    from mypy_boto3_codepipeline import CodePipelineClient
    from mypy_boto3_sts import STSClient

T = TypeVar("T")
REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


@dataclass(frozen=True)
class Aws:
    """Builds plain boto3 clients for one way of running moto (in-process, or its threaded server)."""

    mode: str
    endpoint_url: str | None
    # One session for the whole run: it caches the service models that each new session reloads.
    session: boto3.Session

    def _kwargs(self, credentials: Credentials | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"region_name": REGION, "endpoint_url": self.endpoint_url}
        if credentials is not None:
            kwargs |= {
                "aws_access_key_id": credentials.access_key_id,
                "aws_secret_access_key": credentials.secret_access_key,
                "aws_session_token": credentials.session_token,
            }
        return kwargs

    def codecommit(self, credentials: Credentials | None = None) -> CodeCommitClient:
        return self.session.client("codecommit", **self._kwargs(credentials))

    def codebuild(self, credentials: Credentials | None = None) -> CodeBuildClient:
        return self.session.client("codebuild", **self._kwargs(credentials))

    def codepipeline(self, credentials: Credentials | None = None) -> CodePipelineClient:
        return self.session.client("codepipeline", **self._kwargs(credentials))

    def sts(self, credentials: Credentials | None = None) -> STSClient:
        return self.session.client("sts", **self._kwargs(credentials))

    def iam(self) -> Any:
        # No IAM stubs are installed; the tests only create a user and an access key with it.
        return self.session.client("iam", **self._kwargs(None))

    def assume_role(self, role_name: str, session_name: str) -> Credentials:
        """Credentials for an STS role session, i.e. a caller other than the default one."""
        issued = self.sts().assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role_name}", RoleSessionName=session_name
        )["Credentials"]
        return Credentials(issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"])

    def iam_user(self, user_name: str) -> Credentials:
        iam = self.iam()
        iam.create_user(UserName=user_name)
        key = iam.create_access_key(UserName=user_name)["AccessKey"]
        return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


@pytest.fixture(scope="session")
def _moto_extended() -> None:
    install()


@pytest.fixture(scope="session")
def boto_session() -> boto3.Session:
    return boto3.Session()


@pytest.fixture(scope="session")
def moto_server(_moto_extended: None) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def git_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitStore:
    """A fresh store for this test; the previous one (if any) comes back afterwards."""
    monkeypatch.setattr(gitstore, "_current", gitstore.current())
    return gitstore.configure(GitStore(root=tmp_path / "git", base_url="http://127.0.0.1:9", region=REGION))


@pytest.fixture(params=["in-process", "server"])
def aws(
    request: pytest.FixtureRequest, _moto_extended: None, git_store: GitStore, boto_session: boto3.Session
) -> Iterator[Aws]:
    """Every test runs twice: against `mock_aws()` and against moto's threaded server on 127.0.0.1."""
    if request.param == "in-process":
        with mock_aws():
            yield Aws("in-process", None, boto_session)
        return
    endpoint = request.getfixturevalue("moto_server")
    # The server shares this process's backends; start each test from an empty moto, as mock_aws does.
    moto_api_backend.reset()
    yield Aws("server", endpoint, boto_session)
    moto_api_backend.reset()


@pytest.fixture
def codecommit(aws: Aws) -> CodeCommitClient:
    return aws.codecommit()


@pytest.fixture
def codebuild(aws: Aws) -> CodeBuildClient:
    return aws.codebuild()


_clock = itertools.count(1_700_000_000, 60)


class GitRepo:
    """Writes commits straight into a sandbox repository's bare repo, as a push through the git server would."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def repo(self) -> pygit2.Repository:
        return pygit2.Repository(str(self.path))

    def read(self, commit_id: str) -> pygit2.Commit:
        return _lookup(self.repo, commit_id, pygit2.Commit)

    def tip(self, branch: str) -> str:
        return str(self.repo.lookup_reference(f"refs/heads/{branch}").target)

    def commit(self, branch: str, files: Mapping[str, str], message: str = "Change", parent: str | None = None) -> str:
        """Commit `files` (path -> text) on top of `parent` (default: the branch tip) and move the branch."""
        repo = self.repo
        ref = f"refs/heads/{branch}"
        if parent is None and branch in repo.listall_branches():
            parent = self.tip(branch)
        base = _lookup(repo, parent, pygit2.Commit).tree if parent is not None else None
        signature = pygit2.Signature("Dev Eloper", "dev@example.com", next(_clock), 60)
        commit_id = repo.create_commit(
            None, signature, signature, f"{message}\n", _tree(repo, base, files), [parent] if parent else []
        )
        repo.create_reference_direct(ref, commit_id, force=True)
        return str(commit_id)


def _lookup(repo: pygit2.Repository, object_id: str | pygit2.Oid, kind: type[T]) -> T:
    found = repo.git_object_lookup_prefix(object_id)
    assert isinstance(found, kind), f"{object_id} is not a {kind.__name__}"
    return found


def _tree(repo: pygit2.Repository, base: pygit2.Tree | None, files: Mapping[str, str]) -> pygit2.Oid:
    builder = repo.TreeBuilder(base) if base is not None else repo.TreeBuilder()
    nested: dict[str, dict[str, str]] = {}
    for path, text in files.items():
        head, _, rest = path.partition("/")
        if rest:
            nested.setdefault(head, {})[rest] = text
        else:
            builder.insert(head, repo.create_blob(text.encode()), pygit2.enums.FileMode.BLOB)
    for name, subtree in nested.items():
        existing = _lookup(repo, base[name].id, pygit2.Tree) if base is not None and name in base else None
        builder.insert(name, _tree(repo, existing, subtree), pygit2.enums.FileMode.TREE)
    return builder.write()


@pytest.fixture
def new_repo(codecommit: CodeCommitClient, git_store: GitStore) -> Callable[[str], GitRepo]:
    """Create a CodeCommit repository through the API and return a writer for its bare repo."""

    def create(name: str) -> GitRepo:
        codecommit.create_repository(repositoryName=name)
        return GitRepo(git_store.path_for(name))

    return create


@dataclass(frozen=True)
class FeatureBranch:
    """Repository `app`: main with two files, and `feature` one commit ahead of it."""

    repo: GitRepo
    main: str
    feature: str


@pytest.fixture
def feature_branch(new_repo: Callable[[str], GitRepo]) -> FeatureBranch:
    repo = new_repo("app")
    main = repo.commit("main", {"README.md": "hello\n", "src/app.py": "print('hi')\n"})
    feature = repo.commit("feature", {"src/app.py": "print('hello')\nprint('bye')\n"}, parent=main)
    return FeatureBranch(repo, main, feature)


def open_pull_request(client: CodeCommitClient, title: str = "Add greeting", **extra: Any) -> dict[str, Any]:
    """CreatePullRequest from `feature` into `main` of `app`; returns the pull request."""
    created = client.create_pull_request(
        title=title,
        targets=[{"repositoryName": "app", "sourceReference": "feature", "destinationReference": "main"}],
        **extra,
    )
    return dict(created["pullRequest"])
