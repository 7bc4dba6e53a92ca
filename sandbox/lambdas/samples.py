"""The state an event names (a repository and its refs, a pull request, a build, an ECS service), seeded for `invoke`.

Git cannot make a commit with a chosen id, and moto cannot make a build with one, so seeding
commits what the events/ samples' story needs and the event is rewritten to name the seeded ids
(printed by `python -m sandbox invoke`). Pull requests keep the event's number. Builds are started
by the PR builds function itself, so the build results function trusts them as it would in AWS. An
ECS lifecycle hook payload gets its service as a native blue/green stage (green healthy, on the test
listener) and a spec in the validation bucket; its servers run until `Seeded.stop`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode

import pygit2

from codereflex.approvals.links import Link, LinkSigner
from codereflex.approvals.model import APPROVED, ActionRef, Answer
from codereflex.approvals.subscriptions import filter_policy
from codereflex.aws.approvals import ApprovalStore
from codereflex.aws.codepipeline import CodePipelineApprovals
from codereflex.aws.secrets import keyring_from_secret
from codereflex.gitremote import CodeCommitCredentials
from sandbox.aws.bluegreen import EcsStage, native_blue_green
from sandbox.aws.moto_ext import number_pull_requests_from
from sandbox.aws.pipelines import approval_pipeline
from sandbox.aws.services import Behaviour
from sandbox.demo import demo_kit
from sandbox.demo.ci_scenario import CiScenario
from sandbox.lambdas.deployment_samples import MissingDeployment, seed_deployment
from sandbox.local import Sandbox

REPOSITORY = "payments-service"
MAIN = "refs/heads/main"
FEATURE = "refs/heads/feature/partial-refunds"
INITIAL = "4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c"
# The samples' main before anything happens to it (tag and feature-branch events leave it there).
MAIN_TIP = "9b2e4f6a8c0d1e3f5a7b9c1d3e5f7a9b1c3d5e7f"
# Every commit the samples name: id -> (message, parent id). A commit named by no sample gets
# a commit of its own on top of the repository's first.
HISTORY: dict[str, tuple[str, str | None]] = {
    INITIAL: ("Payments service", None),
    MAIN_TIP: ("Card payments", INITIAL),
    # force_push_main.json: main rewritten from MAIN_TIP to a commit that does not descend from it.
    "1d3f5b7d9f1b3d5f7b9d1f3b5d7f9b1d3f5b7d9f": ("Card payments, rewritten", INITIAL),
    "2c4e6a8c0e2a4c6e8a0c2e4a6c8e0a2c4e6a8c0e": ("Start refunds", INITIAL),
    "7e9a1c3e5a7c9e1a3c5e7a9c1e3a5c7e9a1c3e5a": ("Refunds", "2c4e6a8c0e2a4c6e8a0c2e4a6c8e0a2c4e6a8c0e"),
    "1f3e5d7c9b1a3e5d7c9b1a3e5d7c9b1a3e5d7c9b": ("Release 1.4.0", MAIN_TIP),
    # The pull request's destination, its source, and the source after a push.
    "9c4e0f7a1b2d3c4e5f60718293a4b5c6d7e8f901": ("Payments API", MAIN_TIP),
    "4f1c2a9b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b": ("Partial refunds", "9c4e0f7a1b2d3c4e5f60718293a4b5c6d7e8f901"),
    "a3d5f7b9c1e3a5c7e9b1d3f5a7c9e1b3d5f7a9c1": ("Fix partial refunds", "4f1c2a9b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b"),
}
ACTION_CHANGE = "CodePipeline Action Execution State Change"
# Who the seeded pipeline's tag names as approvers (the stack's default names nobody).
APPROVERS = ("alice@example.com", "bob@example.com")
_PULL_REQUEST_EVENTS = {"CodeCommit Pull Request State Change", "CodeCommit Comment on Pull Request"}


class MissingState(Exception):
    """What the event names cannot be seeded; the message says what is missing and how to create it."""


@dataclass
class Seeded:
    """The event as invoked (naming the seeded ids), what was created, and which ids were rewritten."""

    event: Any
    created: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    stop: Callable[[], None] = lambda: None  # stops what seeding started (an ECS stage's servers)


def _deployment(sandbox: Sandbox, event: Any, function: str | None) -> Seeded | None:
    """A CodeDeploy hook's payload (for the hook function `function`) or an ECS lifecycle hook's, seeded; else None."""
    if isinstance(event, dict) and "DeploymentId" in event and function is not None:
        try:
            seeded, created, stop = seed_deployment(sandbox, event, function)
        except MissingDeployment as missing:
            raise MissingState(str(missing)) from None
        renamed = {str(event[k]): str(seeded[k]) for k in seeded if event.get(k) and event[k] != seeded[k]}
        return Seeded(seeded, created, renamed, stop)
    if isinstance(event, dict) and "lifecycleStage" in event:
        return _ecs_native(sandbox, event)
    return None


def _direct_approval(sandbox: Sandbox, event: Any) -> Seeded | None:
    """A function URL request to the approval page, or the approval's SNS message, seeded; else None."""
    if isinstance(event, dict) and event.get("version") == "2.0" and isinstance(event.get("requestContext"), dict):
        return _approval_page(sandbox, event)
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        with sandbox.undelivered():
            world = _World(sandbox, REPOSITORY)
            event = _approval_notification(world, event)
        return _seeded(sandbox, event, world)
    return None


def seed(sandbox: Sandbox, event: Any, function: str | None = None) -> Seeded:
    """Create in `sandbox` what `event` refers to, without any function seeing the pushes; the event rewritten."""
    direct = _deployment(sandbox, event, function) or _direct_approval(sandbox, event)
    if direct is not None:
        return direct
    if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
        return Seeded(event)
    kind, detail = event.get("detail-type"), event["detail"]
    with sandbox.undelivered():
        if kind == "Scheduled Event" and _is_approval_sweep(event):
            world = _World(sandbox, REPOSITORY)
            _approval_sweep(world)
        elif kind == ACTION_CHANGE:
            world = _World(sandbox, REPOSITORY)
            _approval_action(world, detail)
        elif kind == "Scheduled Event":
            world = _World(sandbox, REPOSITORY)
            world.push({MAIN: MAIN_TIP})
        elif kind == "CodeCommit Repository State Change":
            world = _World(sandbox, _repository(event))
            _reference_change(world, detail)
        elif kind in _PULL_REQUEST_EVENTS:
            world = _World(sandbox, _repository(event))
            _pull_request(world, detail)
        elif kind == "CodeBuild Build State Change":
            world = _World(sandbox, _repository(event), detail.get("project-name"))
            _build(world, detail)
        else:
            return Seeded(event)
    return _seeded(sandbox, event, world)


def _seeded(sandbox: Sandbox, event: Any, world: _World) -> Seeded:
    # Whatever seeding made the functions publish is not the event's doing.
    sandbox.notices()
    text = json.dumps(event)
    named = {old: new for old, new in world.ids.items() if old in text}
    return Seeded(_rewrite(event, named), world.created, named)


# What a seeded ECS service is checked against: green answers on the test listener, all its targets healthy.
ECS_SPEC = """
version: 1
kind: HookValidation
name: sample
platform: ecs
hooks: [AfterAllowTestTraffic, BeforeAllowTraffic, AfterAllowTraffic]
checks:
  - name: smoke
    type: http
    request: {url: "{{ ecs.testListener.url }}/health", timeoutMs: 2000}
    assert: {status: [200], body: [{jsonPath: "$.status", equals: ok}], latencyMs: {p99: "<=500"}}
    sampling: {count: 10, intervalMs: 100}
  - name: green-targets
    type: targetHealth
    targetGroup: "{{ ecs.green.targetGroupArn }}"
    minTargets: "{{ ecs.green.desiredCount }}"
    minHealthyPercent: 100
    sampling: {count: 1}
"""
_ECS_DEPLOYMENT = re.compile(r":service-deployment/([A-Za-z0-9_-]+)/([A-Za-z0-9_-]+)/")


def _ecs_native(sandbox: Sandbox, event: dict[str, Any]) -> Seeded:
    matched = _ECS_DEPLOYMENT.search(str(event.get("resourceArn", "")))
    if not matched:
        return Seeded(event)
    cluster, service = matched.groups()
    stage = EcsStage(sandbox.client, cluster=cluster, service=service, green=Behaviour(body={"status": "ok"}))
    try:
        native_blue_green(stage, sandbox.client, cluster=cluster, service=service)
        bucket = sandbox.stack.refs["ValidationBucket"]
        key = f"specs/{cluster}/{service}.yaml"
        sandbox.client("s3").put_object(Bucket=bucket, Key=key, Body=ECS_SPEC.encode())
    except BaseException:
        stage.stop()
        raise
    created = [f"ECS service {cluster}/{service} (native blue/green, green on the test listener)", f"spec {key}"]
    return Seeded(event, created, stop=stage.stop)


class _World:
    """One repository (with its CodeBuild project and a developer's clone) and the sample ids seeded in it."""

    def __init__(self, sandbox: Sandbox, repository: str, project: str | None = None) -> None:
        self.sandbox = sandbox
        self.project = project or f"{repository}-ci"
        self.scenario = CiScenario(
            sandbox, sandbox.state_dir / "samples", repository=repository, projects=(self.project,)
        )
        self.ids: dict[str, str] = {}
        self.created = [f"repository {repository} with CodeBuild project {self.project}"]

    def commit(self, sample_id: str) -> str:
        """The seeded commit standing for `sample_id` (and its parents), committed once."""
        if sample_id not in self.ids:
            message, parent = HISTORY.get(sample_id, (f"Commit {sample_id[:7]}", None))
            parents = [pygit2.Oid(hex=self.commit(parent) if parent else self.scenario.main)]
            files = {"README.md": f"# {self.scenario.repository}\n\n{message}\n"}
            self.ids[sample_id] = str(demo_kit.commit(self.scenario.repo, message, files, parents))
        return self.ids[sample_id]

    def push(self, refs: Mapping[str, str | None]) -> None:
        """Set each ref to the seeded commit for a sample id (None deletes it) with a developer's push."""
        refspecs = []
        for ref, sample_id in refs.items():
            if sample_id is None:
                if ref.encode() in self.scenario.repo.raw_listall_references():
                    self.scenario.repo.lookup_reference(ref).delete()
                    refspecs.append(f":{ref}")
                continue
            self.scenario.repo.create_reference_direct(ref, self.commit(sample_id), True)
            refspecs.append(f"+{ref}")
        if refspecs:
            callbacks = CodeCommitCredentials(self.sandbox.developer, self.sandbox.region)
            self.scenario.remote.push(refspecs, callbacks=callbacks)
            self.sandbox.settle()


def _repository(event: dict[str, Any]) -> str:
    detail = event["detail"]
    variables = _variables(detail)
    names = detail.get("repositoryNames") or [detail.get("repositoryName") or variables.get("repositoryName")]
    if names[0]:
        return str(names[0])
    location = str(detail.get("additional-information", {}).get("source", {}).get("location", ""))
    if "/v1/repos/" in location:
        return location.rsplit("/", 1)[-1]
    raise MissingState(
        "The event names no repository (detail.repositoryName, repositoryNames or a CodeCommit build source): "
        "add one, or start `python -m sandbox up`, create the state there and invoke with AWS_ENDPOINT_URL set."
    )


def _variables(detail: Mapping[str, Any]) -> dict[str, str]:
    environment = detail.get("additional-information", {}).get("environment", {})
    return {v["name"]: str(v["value"]) for v in environment.get("environment-variables", [])}


def _reference_change(world: _World, detail: Mapping[str, Any]) -> None:
    """The repository before the change (main, and the ref at its old commit), then the change itself."""
    ref = str(detail["referenceFullName"])
    before: dict[str, str | None] = {} if ref == MAIN else {MAIN: MAIN_TIP}
    if detail.get("oldCommitId"):
        before[ref] = str(detail["oldCommitId"])
    world.push(before)
    world.push({ref: detail.get("commitId")})
    world.created.append(f"{ref} as the event leaves it")


def _pull_request(world: _World, detail: Mapping[str, Any]) -> None:
    """Main at the destination, the source branch, the open pull request with the event's number (and comment)."""
    number = str(detail.get("pullRequestId") or "1")
    source = str(detail.get("sourceCommit") or detail.get("afterCommitId"))
    destination = str(detail.get("destinationCommit") or detail.get("beforeCommitId"))
    branch = str(detail.get("sourceReference") or FEATURE)
    updated = detail.get("event") == "pullRequestSourceBranchUpdated"
    # A source branch update is a push to an open pull request: it opens at the source's parent.
    first = HISTORY.get(source, ("", None))[1] if updated else None
    world.push({MAIN: destination, branch: first or source})
    number_pull_requests_from(int(number), region=world.sandbox.region)
    opened = world.scenario.open_pull_request(branch=branch.removeprefix("refs/heads/"))
    if opened["pullRequestId"] != number:
        raise MissingState(
            f"Pull request {number} cannot be seeded (this sandbox numbered it {opened['pullRequestId']}): "
            "invoke the event with its pullRequestId changed to that number."
        )
    if updated and first:
        world.push({branch: source})
        world.scenario.refresh()
    world.created.append(f"open pull request {number} from {branch} into main")
    if detail.get("revisionId"):
        world.ids[str(detail["revisionId"])] = str(world.scenario.pull_request()["revisionId"])
    if detail.get("commentId"):
        pull_request = world.scenario.pull_request()
        comment = world.scenario.developer_codecommit.post_comment_for_pull_request(
            pullRequestId=number,
            repositoryName=world.scenario.repository,
            beforeCommitId=world.commit(destination),
            afterCommitId=world.commit(source),
            content="/rebuild",
        )["comment"]
        world.ids[str(detail["commentId"])] = str(comment["commentId"])
        world.created.append(f"the comment /rebuild on pull request {pull_request['pullRequestId']}")


def _build(world: _World, detail: Mapping[str, Any]) -> None:
    """The build the event reports, started as in AWS (by the PR builds function for a pull request), in its state."""
    variables = _variables(detail)
    information = detail.get("additional-information", {})
    if "pullRequestId" in variables:
        _pull_request(world, variables)
        started = world.sandbox.router.invoke(
            "PrBuildsFunction",
            world.scenario.pull_request_event("pullRequestCreated"),
            env_overrides={**world.sandbox.function_env(), **demo_kit.QUIET},
        )
        builds = world.scenario.builds(world.project)
        if len(builds) != 1:
            raise MissingState(
                f"The PR builds function started no {world.project} build for pull request "
                f"{variables['pullRequestId']} (it answered {started}): enable it (EnablePullRequestBuilds) "
                "and let it start the build, since the build results function trusts no other."
            )
        build_id = str(builds[0]["id"])
        world.created.append(f"build {build_id}, started by PrBuildsFunction for the pull request")
    else:
        commit = str(information.get("source-version") or MAIN_TIP)
        world.push({MAIN: commit})
        build_id = world.scenario.start(world.project, world.commit(commit))
        world.created.append(f"build {build_id} of main (a commit build, as a pipeline starts one)")
    world.ids[str(detail["build-id"]).rsplit(":", 1)[-1]] = build_id.rsplit(":", 1)[-1]
    world.scenario.running(build_id)
    status = str(detail.get("build-status", "IN_PROGRESS"))
    if status != "IN_PROGRESS":
        world.scenario.finish(build_id, status)


def _approval_page(sandbox: Sandbox, event: dict[str, Any]) -> Seeded:
    """A function URL request to the approval page: the approval its link names, waiting, with its request.

    The pipeline and the request are seeded as for the requests function's samples (the function
    opens the request itself); the sample's link, and its form token, are then signed with this
    sandbox's link key for the seeded execution. A request that is no link (a 404) needs nothing.
    """
    path = str(event.get("rawPath") or "")
    if not path.startswith("/a/"):
        return Seeded(event)
    token = path.removeprefix("/a/")
    payload = token.split(".", 1)[0]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        pipeline, stage, action, execution, approver = (str(claims[k]) for k in ("p", "s", "a", "e", "r"))
    except (ValueError, KeyError, TypeError) as error:
        raise MissingState(f"the sample's link names no approval ({error}): nothing to seed") from error
    with sandbox.undelivered():
        world = _World(sandbox, REPOSITORY)
        ref = _waiting(world, pipeline, action, execution, timeout_minutes=7 * 24 * 60)
        _open(world, ref)
    request = ApprovalStore(sandbox.client("dynamodb"), sandbox.stack.refs["ApprovalsTable"]).get(ref)
    if request is None or stage != ref.stage or approver not in request.approvers:
        raise MissingState(
            f"the sample's link must name stage {ref.stage} and one of {', '.join(APPROVERS)}, "
            "and ApprovalRequestsFunction must be enabled (EnableApprovalLinks) to open the request"
        )
    links = LinkSigner(keyring_from_secret(sandbox.client("secretsmanager"), sandbox.stack.refs["ApprovalLinkKey"]))
    signed = links.issue(Link(ref, approver, request.link_expires_at))
    event = _rewrite(event, {token: signed})
    if event.get("body"):
        body = str(event["body"])
        text = base64.b64decode(body).decode() if event.get("isBase64Encoded") else body
        fields = [
            (k, links.form_token(signed) if k == "form" else v) for k, v in parse_qsl(text, keep_blank_values=True)
        ]
        text = urlencode(fields)
        event["body"] = base64.b64encode(text.encode()).decode() if event.get("isBase64Encoded") else text
    world.created.append("the sample's link (and form token) signed with this sandbox's link key")
    return _seeded(sandbox, event, world)


def _rewrite(value: Any, ids: Mapping[str, str]) -> Any:
    """`value` with every sample id in its strings (ARNs and links too) replaced by the seeded one."""
    if isinstance(value, str):
        for old, new in ids.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_rewrite(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: _rewrite(item, ids) for key, item in value.items()}
    return value


# --- approvals: a pipeline waiting at the approval the sample names ---------------------------


def _is_approval_sweep(event: Mapping[str, Any]) -> bool:
    return any("ApprovalRequestsFunction" in str(resource) for resource in event.get("resources") or [])


def _waiting(
    world: _World, pipeline: str, action: str, sample_execution: str | None, *, timeout_minutes: int
) -> ActionRef:
    """The pipeline (source, build, approval) with its approvers' subscriptions, and an execution waiting."""
    sandbox = world.sandbox
    world.push({MAIN: MAIN_TIP})
    refs = sandbox.stack.refs
    for approver in APPROVERS:
        sandbox.client("sns").subscribe(
            TopicArn=refs["ApprovalMailTopic"],
            Protocol="email",
            Endpoint=approver,
            Attributes={"FilterPolicy": filter_policy(approver)},
        )
    approval = {"name": action, "timeoutInMinutes": timeout_minutes}
    declaration = approval_pipeline(
        pipeline, repository=world.scenario.repository, project=world.project, approval=approval
    )
    sandbox.pipelines.create(declaration, tags={"codereflex:approvers": " ".join(APPROVERS)})
    with sandbox.undelivered():
        execution = sandbox.pipelines.start(pipeline)
    if sample_execution:
        world.ids[sample_execution] = execution
    ref = ActionRef(pipeline, "Approval", action, execution)
    world.created.append(
        f"pipeline {pipeline} waiting at Approval/{action} (execution {execution}), approvers {', '.join(APPROVERS)}"
    )
    return ref


def _open(world: _World, ref: ActionRef) -> None:
    """The request, opened by the function itself from the STARTED event (its emails are part of the seeding)."""
    started = next(
        event
        for event in world.sandbox.pipelines.events
        if event["detail"].get("action") == ref.action
        and event["detail"]["state"] == "STARTED"
        and event["detail"]["execution-id"] == ref.execution_id
    )
    world.sandbox.router.invoke(
        "ApprovalRequestsFunction", started, env_overrides={**world.sandbox.function_env(), **demo_kit.QUIET}
    )
    world.created.append("the request, opened by ApprovalRequestsFunction")


def _approval_action(world: _World, detail: Mapping[str, Any]) -> None:
    pipeline, action = str(detail.get("pipeline")), str(detail.get("action"))
    ref = _waiting(world, pipeline, action, str(detail.get("execution-id")), timeout_minutes=7 * 24 * 60)
    if detail.get("state") == "STARTED":
        return
    # A terminal sample: the request was opened, and alice approved it on the page, as the page does it.
    _open(world, ref)
    summary = str(detail.get("execution-result", {}).get("external-execution-summary", ""))
    reason = summary.split(": ", 1)[1] if ": " in summary else "approved"
    sandbox = world.sandbox
    store = ApprovalStore(sandbox.client("dynamodb"), sandbox.stack.refs["ApprovalsTable"])
    answer = Answer(APPROVERS[0], APPROVED, reason, datetime.now(UTC))
    request = store.answer(ref, answer)
    outcome = request.outcome_for(answer)
    store.claim_outcome(ref, outcome)
    pipelines = CodePipelineApprovals(sandbox.client("codepipeline"))
    token = pipelines.waiting_token(ref)
    if token is None or pipelines.put_result(ref, token, outcome.status, outcome.summary) != "decided":
        raise MissingState(f"the seeded approval {ref.key} could not be decided")
    store.mark_reported(ref)
    with sandbox.undelivered():
        sandbox.pipelines.settle()
    world.created.append(f"{APPROVERS[0]} approved it on the page: {outcome.summary}")


def _approval_notification(world: _World, event: dict[str, Any]) -> dict[str, Any]:
    """CodePipeline's message names no execution: the seeded one's token stands in for the sample's.

    The token is put in here rather than through `ids`, whose renames are printed.
    """
    try:
        message = json.loads(event["Records"][0]["Sns"]["Message"])
        approval = message["approval"]
        pipeline, action, token = str(approval["pipelineName"]), str(approval["actionName"]), str(approval["token"])
    except (KeyError, IndexError, TypeError, ValueError):
        raise MissingState("The SNS event holds no CodePipeline approval message (Records[0].Sns.Message)") from None
    ref = _waiting(world, pipeline, action, None, timeout_minutes=7 * 24 * 60)
    waiting = CodePipelineApprovals(world.sandbox.client("codepipeline")).waiting_token(ref)
    if waiting is None:
        raise MissingState(f"the seeded approval {ref.key} is not waiting")
    world.created.append("the sample's token replaced by the waiting approval's (not printed)")
    return cast(dict[str, Any], json.loads(json.dumps(event).replace(token, waiting)))


def _approval_sweep(world: _World) -> None:
    """An approval expiring in 20 minutes, inside the default reminder window: the sweep reminds its approvers."""
    ref = _waiting(world, "payments-service-release", "ApproveRelease", None, timeout_minutes=20)
    _open(world, ref)
