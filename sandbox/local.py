"""One running sandbox: local AWS (moto + extensions), the git server, the stack's resources and the router.

`Sandbox` is what `python -m sandbox up|invoke|demo` and the integration tests start. A push to
the git server becomes the CodeCommit events AWS would emit, routed to the template's functions
in-process; whatever the functions publish to the notification topic lands in an inbox queue the
caller can read.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from threading import Thread
from typing import Any

import boto3
import moto
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from moto.sts.models import sts_backends
from werkzeug.serving import make_server

from sandbox.aws import moto_ext
from sandbox.aws.codecommit_events import RefWatcher
from sandbox.aws.moto_ext import Mail
from sandbox.aws.pipelines import PipelineRunner
from sandbox.aws.stack import ACCOUNT_ID, Stack, create_stack
from sandbox.git import gitstore
from sandbox.git.gitserver import GitServer
from sandbox.lambdas.functionurl import FunctionUrlServer
from sandbox.lambdas.router import Invocation, Router
from sandbox.lambdas.template import Resolver, load_template

ROOT = Path(__file__).resolve().parents[1]
# botocore loads service models per Session; one shared session makes a sandbox start in ~0.3 s, not ~1.5 s.
_SESSIONS: dict[str, boto3.Session] = {}
TEMPLATE = ROOT / "template.yaml"
DEVELOPER = "developer"
# Stands in for the functions' execution roles: a function's keys are a session of this role, as
# Lambda's are of the function's role, so what AWS records as their caller is an assumed-role ARN.
FUNCTIONS = "codereflex-functions"
# The function served on a loopback function URL (its FunctionUrlConfig), when the template deploys it.
PAGE_FUNCTION = "ApprovalPageFunction"


@dataclass(frozen=True)
class Notice:
    """One message as a topic subscriber receives it."""

    subject: str
    message: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)

    def get_frozen_credentials(self) -> Credentials:
        """botocore's credential-source shape, so codereflex's git credential provider accepts these."""
        return self


class Sandbox:
    """Start with `with Sandbox(...) as sandbox:`; `server=True` also serves local AWS over HTTP."""

    def __init__(
        self,
        *,
        state_dir: Path | None = None,
        region: str = "us-east-1",
        server: bool = False,
        aws_port: int = 0,
        git_port: int = 0,
        stack_name: str = "codereflex",
        template: Path = TEMPLATE,
        parameters: Mapping[str, str] | None = None,
        function_env: Mapping[str, str] | None = None,
    ) -> None:
        self.region = region
        self.stack_name = stack_name
        self._server_mode = server
        self._aws_port = aws_port
        self._git_port = git_port
        self._template = load_template(template)
        self._parameters = dict(parameters or {})
        # No X-Ray daemon runs here: Powertools' tracer would only warn that segments are discarded.
        self._function_env = {"POWERTOOLS_TRACE_DISABLED": "true", **(function_env or {})}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="codereflex-sandbox-")
            state_dir = Path(self._tmp.name)
        self.state_dir = state_dir
        self.deliveries: list[Invocation] = []
        self.endpoint_url: str | None = None
        self._mock: Any = None
        self._moto_server: ThreadedMotoServer | None = None
        self._git: GitServer | None = None
        self._page: FunctionUrlServer | None = None
        self._saved_env: dict[str, str | None] = {}
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._developer_clients: dict[tuple[str, str | None], Any] = {}
        self._undelivered = False
        self._pipelines: PipelineRunner | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> Sandbox:
        try:
            return self._start()
        except BaseException:
            # A half-started sandbox (a taken port, say) still owns servers, env and its temp folder.
            self.stop()
            raise

    def _start(self) -> Sandbox:
        self._set_env({"AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region})
        self.store = gitstore.configure(gitstore.GitStore(root=self.state_dir / "git", region=self.region))
        self.store.root.mkdir(parents=True, exist_ok=True)
        moto_ext.install()
        if self._server_mode:
            self._moto_server = _MotoServer(ip_address="127.0.0.1", port=self._aws_port, verbose=False)
            self._moto_server.start()
            host, port = self._moto_server.get_host_and_port()
            self.endpoint_url = f"http://{host}:{port}"
        else:
            self._mock = moto.mock_aws()
            self._mock.start()
        # The developer who pushes is an IAM user, so events and comments name a real identity.
        iam = self.client("iam")
        self.developer = _iam_user(iam, DEVELOPER)
        self.developer_arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{DEVELOPER}"
        # Functions sign their git requests with their own keys (a role session's, as in Lambda), never
        # the developer's.
        self.functions = _role_session(iam, self.client("sts"), FUNCTIONS)
        self.functions_arn = self._caller_arn(self.functions.access_key)
        self.watcher = RefWatcher(self.store, caller_arn=self._caller_arn, publish=self._deliver_quietly)
        self._git = GitServer(
            self.store,
            {
                self.developer.access_key: self.developer.secret_key,
                self.functions.access_key: self.functions.secret_key,
            },
            region=self.region,
            on_push=self._on_push,
            port=self._git_port,
        ).start()
        resolver = Resolver(self._template, parameters=self._parameters, stack_name=self.stack_name, region=self.region)
        self.stack: Stack = create_stack(
            self._template.resources,
            stack_name=self.stack_name,
            region=self.region,
            session=self._session(),
            endpoint_url=self.endpoint_url,
            enabled=resolver.is_deployed,
            resolve=self._resolve_against,
        )
        if PAGE_FUNCTION in self._template.resources and resolver.is_deployed(PAGE_FUNCTION):
            # Bound before the router resolves the template, so `!GetAtt ApprovalPageFunctionUrl.FunctionUrl`
            # (the requests function's APPROVAL_PAGE_URL) is this loopback URL; it serves once the router exists.
            self._page = FunctionUrlServer(lambda event: self.invoke(PAGE_FUNCTION, event))
            self.stack.refs[f"{PAGE_FUNCTION}Url.FunctionUrl"] = self._page.url
        self.router = Router.from_template(
            self._template.path or TEMPLATE,
            parameters=self._parameters,
            resources=self.stack.refs,
            stack_name=self.stack_name,
            region=self.region,
        )
        # A new sandbox is a new deployment: its functions start cold. What a handler keeps for its
        # execution environment (clients, a backup's remembered catalogs and manifests) must not
        # outlive the buckets and endpoints it was made for; the same names come back every time.
        self.router.cold_start()
        if self._page is not None:
            self._page.start()
        self._inbox_url = self._subscribe_inbox()
        # CodePipeline's side: executions run here; over HTTP the functions' PutApprovalResult lands on
        # moto's server thread, so a worker picks it up (in-process, `pipelines.settle()` does).
        self.pipelines = PipelineRunner(
            client=self.client,
            deliver=self._deliver_quietly,
            publish=lambda topic, subject, message: self.publish(topic, message, subject=subject),
            account_id=ACCOUNT_ID,
            region=self.region,
            background=self._server_mode,
        )
        return self

    def _resolve_against(self, stack: Stack, value: Any) -> Any:
        """Intrinsics evaluated with the names of the resources created so far (CodeBuild projects need them)."""
        resolver = Resolver(
            self._template,
            parameters=self._parameters,
            resources=stack.refs,
            stack_name=self.stack_name,
            region=self.region,
        )
        return resolver.resolve(value)

    def stop(self) -> None:
        if self._page is not None:
            self._page.stop()
            self._page = None
        if self._pipelines is not None:
            self._pipelines.close()
            self._pipelines = None
        if self._git is not None:
            self._git.stop()
            self._git = None
        if self._moto_server is not None:
            self._moto_server.stop()
            self._moto_server = None
            # The server's backends are this process's globals (mock_aws resets its own on start):
            # without a reset the next sandbox finds this one's users, queues and buckets.
            moto_api_backend.reset()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _set_env(self, values: Mapping[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    # --- AWS access ----------------------------------------------------------------------------

    def _session(self) -> boto3.Session:
        if self.region not in _SESSIONS:
            _SESSIONS[self.region] = boto3.Session(
                aws_access_key_id="sandbox",
                aws_secret_access_key="sandbox",
                region_name=self.region,
            )
        return _SESSIONS[self.region]

    def client(self, service: str) -> Any:
        if (service, self.endpoint_url) not in self._clients:
            self._clients[service, self.endpoint_url] = self._session().client(  # type: ignore[call-overload]
                service, endpoint_url=self.endpoint_url
            )
        return self._clients[service, self.endpoint_url]

    def developer_client(self, service: str) -> Any:
        """A client with the developer's own keys: what a person does in the console or the CLI, recorded as theirs."""
        if (service, self.endpoint_url) not in self._developer_clients:
            session = boto3.Session(
                aws_access_key_id=self.developer.access_key,
                aws_secret_access_key=self.developer.secret_key,
                region_name=self.region,
            )
            self._developer_clients[service, self.endpoint_url] = session.client(  # type: ignore[call-overload]
                service, endpoint_url=self.endpoint_url
            )
        return self._developer_clients[service, self.endpoint_url]

    def _caller_arn(self, access_key_id: str) -> str:
        _, arn, _ = sts_backends[ACCOUNT_ID]["aws"].get_caller_identity(access_key_id, self.region)
        return str(arn)

    @property
    def git_url(self) -> str:
        return self.store.base_url

    @property
    def approval_page_url(self) -> str | None:
        """The approval page's loopback function URL (ends with "/"), or None when the stack has no page."""
        return self._page.url if self._page is not None else None

    def function_env(self) -> dict[str, str]:
        """What a function needs beyond the template's environment to reach this sandbox's AWS."""
        env = function_credentials_env(self.functions)
        # Lambda's /tmp, one per sandbox, so a warm mirror never outlives the sandbox's repositories.
        env["BACKUP_WORK_DIR"] = str(self.state_dir / "lambda-tmp" / "codereflex-backup")
        env.update(self._function_env)
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        return env

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until the git server has delivered the events of every finished push."""
        if self._git is not None and not self._git.settle(timeout):
            raise TimeoutError(f"the git server was still busy after {timeout} s")

    # --- repositories --------------------------------------------------------------------------

    def create_repository(self, name: str, description: str = "") -> str:
        """Create a CodeCommit repository (a bare git repository behind the git server); returns its clone URL."""
        metadata = self.client("codecommit").create_repository(
            repositoryName=name, repositoryDescription=description or f"{name} (sandbox)"
        )["repositoryMetadata"]
        self.watcher.prime(name)
        return str(metadata["cloneUrlHttp"])

    def import_repository(self, name: str, path: Path, *, in_place: bool = False) -> str:
        """Serve a copy of an existing bare repository as CodeCommit repository `name`; returns its clone URL.

        Pushes in the sandbox (and a restore's writes) go to the copy, never to the caller's repository;
        `in_place=True` serves the repository itself.
        """
        if not in_place:
            copy = self.state_dir / "imported" / f"{name}.git"
            shutil.copytree(path, copy, symlinks=True)
            path = copy
        metadata = moto_ext.import_repository(name, path, ACCOUNT_ID, self.region)
        self.watcher.prime(name)
        return str(metadata.get("cloneUrlHttp") or self.store.clone_url(name))

    # --- events and their effects --------------------------------------------------------------

    def deliver(self, event: dict[str, Any]) -> list[Invocation]:
        """EventBridge's part: every function whose rule matches gets the event."""
        invocations = self.router.route(event, env_overrides=self.function_env())
        self.deliveries.extend(invocations)
        return invocations

    @property
    def pipelines(self) -> PipelineRunner:
        """CodePipeline's execution engine: `create`, `start`, `settle` after an answer, `clock` for expiry."""
        if self._pipelines is None:
            raise RuntimeError("the sandbox is not running")
        return self._pipelines

    @pipelines.setter
    def pipelines(self, runner: PipelineRunner) -> None:
        self._pipelines = runner

    def publish(
        self,
        topic_arn: str,
        message: str,
        *,
        subject: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> list[Invocation]:
        """SNS Publish through moto (queues and mailboxes receive it), then to the functions subscribed in the template.

        `attributes` are String message attributes. Returns the functions' invocations.
        """
        values = dict(attributes or {})
        request: dict[str, Any] = {
            "TopicArn": topic_arn,
            "Message": message,
            "MessageAttributes": {name: {"DataType": "String", "StringValue": v} for name, v in values.items()},
        }
        if subject is not None:
            request["Subject"] = subject
        message_id = str(self.client("sns").publish(**request)["MessageId"])
        invocations = self.router.deliver_sns(
            topic_arn,
            message,
            message_id=message_id,
            subject=subject,
            attributes={name: {"Type": "String", "Value": v} for name, v in values.items()},
            env_overrides=self.function_env(),
        )
        self.deliveries.extend(invocations)
        return invocations

    def mailbox(self, address: str) -> list[Mail]:
        """What an email subscriber `address` received, on any topic, filter policies honoured (oldest first)."""
        return moto_ext.mailbox(address, account_id=ACCOUNT_ID, region=self.region)

    def _deliver_quietly(self, event: dict[str, Any]) -> None:
        if not self._undelivered:
            self.deliver(event)

    @contextmanager
    def undelivered(self) -> Iterator[None]:
        """Pushes made inside reach no function: state set up as if it had been there before the sandbox."""
        self._undelivered = True
        try:
            yield
        finally:
            self._undelivered = False

    def _on_push(self, repository: str, access_key_id: str) -> None:
        self.watcher.after_push(repository, access_key_id)

    def invoke(self, logical_id: str, event: Any) -> Any:
        return self.router.invoke(logical_id, event, env_overrides=self.function_env())

    def _subscribe_inbox(self) -> str | None:
        if self.stack.refs.get("NotificationTopic") is None:
            return None
        return self.subscribe("NotificationInbox")

    def subscribe(self, name: str, filter_policy: Mapping[str, Any] | None = None) -> str:
        """A queue subscribed to the notification topic (with an SNS filter policy, if given); returns its URL."""
        sqs = self.client("sqs")
        url = str(sqs.create_queue(QueueName=f"{self.stack_name}-{name}")["QueueUrl"])
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = {"FilterPolicy": json.dumps(filter_policy)} if filter_policy is not None else {}
        self.client("sns").subscribe(
            TopicArn=self.stack.refs["NotificationTopic"], Protocol="sqs", Endpoint=arn, Attributes=policy
        )
        return url

    def notices(self, queue_url: str | None = None) -> list[Notice]:
        """Drain what the notification topic delivered (to the inbox, or to a `subscribe` queue), oldest first."""
        url = queue_url or self._inbox_url
        if url is None:
            return []
        sqs, found = self.client("sqs"), list[Notice]()
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                envelope = json.loads(message["Body"])
                attributes = {name: value["Value"] for name, value in envelope.get("MessageAttributes", {}).items()}
                found.append(Notice(envelope.get("Subject", ""), envelope["Message"], attributes))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def description(self) -> dict[str, Any]:
        """The one JSON line `python -m sandbox up` prints."""
        return {
            "endpoint_url": self.endpoint_url,
            "git_url": self.git_url,
            "approval_page_url": self.approval_page_url,
            "region": self.region,
            "account_id": ACCOUNT_ID,
            "developer": {
                "arn": self.developer_arn,
                "aws_access_key_id": self.developer.access_key,
                "aws_secret_access_key": self.developer.secret_key,
            },
            "functions_identity": {
                "arn": self.functions_arn,
                "aws_access_key_id": self.functions.access_key,
                "aws_secret_access_key": self.functions.secret_key,
                "aws_session_token": self.functions.token,
            },
            "stack_name": self.stack_name,
            "resources": self.stack.outputs(),
            "functions": {spec.logical_id: spec.function_name for spec in self.router.enabled_functions},
        }


class _QuietHandler(MotoRequestHandler):
    """moto's request handler without werkzeug's line per request (errors are still logged)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class _MotoServer(ThreadedMotoServer):
    """moto's threaded server, bound in the caller's thread so a taken port raises instead of hanging.

    `ThreadedMotoServer.start` binds inside its thread and waits for it forever when binding fails;
    its `stop` leaves the socket open.
    """

    def start(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        try:
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=_QuietHandler)
        except SystemExit:
            # werkzeug exits the process when the port is taken (having said so on stderr).
            raise OSError(errno.EADDRINUSE, f"port {self._port} is in use") from None
        self._thread = Thread(target=self._server.serve_forever, name="sandbox-moto-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()


def _iam_user(iam: Any, name: str) -> Credentials:
    """A sandbox IAM user and its access key."""
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def _role_session(iam: Any, sts: Any, name: str) -> Credentials:
    """A role Lambda may assume, and a session of it: the credentials Lambda gives a function."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    # The session is named like Lambda's (the function's name there; one name for all functions here).
    # 12 hours, the longest a role session lasts; moto does not expire them, so `up` keeps working.
    session = sts.assume_role(RoleArn=role["Arn"], RoleSessionName=name, DurationSeconds=43200)["Credentials"]
    return Credentials(session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"])


def function_credentials_env(credentials: Credentials) -> dict[str, str]:
    """The variables Lambda gives a function for its role's credentials."""
    return {
        "AWS_ACCESS_KEY_ID": credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
        # Empty, not absent: a caller's own session token must not pair with these keys (botocore and
        # codereflex's git credentials both treat an empty token as none).
        "AWS_SESSION_TOKEN": credentials.token or "",
    }


@contextmanager
def running(**options: Any) -> Iterator[Sandbox]:
    with Sandbox(**options) as sandbox:
        yield sandbox
