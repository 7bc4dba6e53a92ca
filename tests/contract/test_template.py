"""template.yaml ↔ code ↔ events/: the handlers import, the events reach their functions, the hygiene holds."""

from __future__ import annotations

import copy
import importlib
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from sandbox.lambdas.router import Router
from sandbox.lambdas.template import FunctionSpec, Resolver, SamTemplate, load_template
from tests.conftest import AWS_SAMPLES, EVENTS, ROOT

TEMPLATE = ROOT / "template.yaml"


@pytest.fixture(scope="module")
def template() -> SamTemplate:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def router() -> Router:
    return Router.from_template(TEMPLATE)


def _functions() -> list[FunctionSpec]:
    return Router.from_template(TEMPLATE).functions


def _code_dir(spec: FunctionSpec) -> Path:
    assert spec.code_uri is not None, f"{spec.logical_id} has no local CodeUri"
    return spec.code_uri


def _event_files() -> list[tuple[FunctionSpec, Path]]:
    by_dir = {_code_dir(spec).name: spec for spec in _functions()}
    return [(by_dir[path.parent.name], path) for path in sorted(EVENTS.glob("*/*.json"))]


def test_every_events_folder_belongs_to_a_function() -> None:
    code_dirs = {_code_dir(spec).name for spec in _functions()}
    assert {path.name for path in EVENTS.iterdir() if path.is_dir()} <= code_dirs


def _has_url(router: Router, spec: FunctionSpec) -> bool:
    return bool(router.template.function_properties(spec.logical_id).get("FunctionUrlConfig"))


def _is_url_request(event: dict[str, Any]) -> bool:
    """A Lambda function URL request (payload format 2.0), not an EventBridge event."""
    return event.get("version") == "2.0" and isinstance(event.get("requestContext"), dict)


def test_every_function_has_sample_events(router: Router) -> None:
    with_events = {spec.logical_id for spec, _ in _event_files()}
    # Every function a rule or a function URL feeds has samples; a function invoked directly (ECS's hooks) may too.
    assert {spec.logical_id for spec in _functions() if spec.pattern_rules or _has_url(router, spec)} <= with_events


@pytest.mark.parametrize("spec", _functions(), ids=lambda spec: spec.logical_id)
def test_every_handler_imports_from_its_code_uri(spec: FunctionSpec) -> None:
    # Given the CodeUri on sys.path, as /var/task is in Lambda
    module_name, _, attribute = spec.handler.rpartition(".")
    code_dir = _code_dir(spec)
    sys.path.insert(0, str(code_dir))
    try:
        module = importlib.import_module(module_name)
    finally:
        sys.path.remove(str(code_dir))
    # Then the handler named in the template exists and is callable
    assert callable(getattr(module, attribute))
    assert Path(module.__file__ or "").is_relative_to(code_dir)


@pytest.mark.parametrize(("spec", "path"), _event_files(), ids=lambda value: getattr(value, "name", ""))
def test_every_sample_event_matches_its_function_rule(router: Router, spec: FunctionSpec, path: Path) -> None:
    if not spec.pattern_rules:
        pytest.skip("invoked directly (an ECS lifecycle hook), not by a rule: its tests read these samples")
    event = json.loads(path.read_text())
    if _is_url_request(event):
        # A request to a function URL: the function must have one, and the request its method and path.
        assert _has_url(router, spec)
        assert event["requestContext"]["http"]["path"] == event["rawPath"]
        return
    if "Records" in event:
        # An SNS delivery: the sample's topic must be one the function subscribes to.
        assert event["Records"][0]["Sns"]["TopicArn"] in _sns_topics(router, spec)
        return
    if event.get("detail-type") == "Scheduled Event":
        # A schedule has no pattern: the sample must be what the function's own schedule delivers.
        delivered = router.scheduled_event(spec.logical_id)
        assert {k: v for k, v in event.items() if k not in {"id", "time"}} == {
            k: v for k, v in delivered.items() if k not in {"id", "time"}
        }
        return
    assert spec.logical_id in {matched.logical_id for matched in router.match(event)}


def _sns_topics(router: Router, spec: FunctionSpec) -> set[str]:
    events = router.template.function_properties(spec.logical_id).get("Events") or {}
    return {router.resolver.resolve(e["Properties"]["Topic"]) for e in events.values() if e["Type"] == "SNS"}


_OTHER_VALUE = {
    "aws.codebuild": "aws.codecommit",
    "CodeCommit Pull Request State Change": "CodeCommit Comment on Pull Request",
}


@pytest.mark.parametrize(("spec", "path"), _event_files(), ids=lambda value: getattr(value, "name", ""))
@pytest.mark.parametrize(
    "near_miss",
    [
        {"source": "aws.codebuild"},
        {"detail-type": "CodeCommit Pull Request State Change"},
        {"detail": {"event": "commentOnCommitCreated"}},
    ],
    ids=["other-source", "other-detail-type", "other-detail-event"],
)
def test_a_near_miss_of_a_sample_does_not_match(
    router: Router, spec: FunctionSpec, path: Path, near_miss: dict[str, Any]
) -> None:
    if not spec.pattern_rules:
        pytest.skip("invoked directly, not by a rule")
    event = json.loads(path.read_text())
    if "Records" in event:
        pytest.skip("an SNS delivery reaches its topic's subscribers, whatever a rule says")
    if _is_url_request(event):
        pytest.skip("a function URL request reaches its function, whatever a rule says")
    for key, value in near_miss.items():
        if isinstance(value, dict):
            if not set(value) <= set(event[key]):
                pytest.skip("the sample's detail has no such field, so its rule cannot filter on it")
            event[key] = {**event[key], **value}
        else:
            # A near miss must differ from the sample: a sample that already has the value gets another one.
            event[key] = _OTHER_VALUE.get(value, "aws.other") if event[key] == value else value
    assert spec.logical_id not in {matched.logical_id for matched in router.match(event)}


@pytest.mark.parametrize(
    ("field", "value", "routed"),
    [
        ("isMerged", "False", True),
        ("isMerged", "false", True),
        ("isMerged", "FALSE", True),
        ("isMerged", "True", False),
        ("isMerged", "true", False),
        ("pullRequestStatus", "Open", True),
        ("pullRequestStatus", "OPEN", True),
        ("pullRequestStatus", "open", True),
        ("pullRequestStatus", "Closed", False),
    ],
)
def test_the_pull_request_rule_reads_documented_values_in_any_case(
    router: Router, load_event: Callable[[str], dict[str, Any]], field: str, value: str, routed: bool
) -> None:
    # CodeCommit documents title-case strings; the function reads them in any case, so does its rule.
    event = load_event("pr_builds/created.json")
    event["detail"][field] = value
    assert ("PrBuildsFunction" in {spec.logical_id for spec in router.match(event)}) is routed


@pytest.mark.parametrize(
    ("change", "routed"),
    [
        ({}, True),
        ({"state": "SUCCEEDED"}, True),
        ({"state": "FAILED"}, True),
        ({"state": "ABANDONED"}, True),
        ({"state": "CANCELED"}, True),
        ({"state": "SUPERSEDED"}, False),
        ({"state": "started"}, False),
        ({"type": {"owner": "AWS", "category": "Deploy", "provider": "CodeDeploy", "version": "1"}}, False),
        ({"type": {"owner": "AWS", "category": "Approval", "provider": "Custom", "version": "1"}}, False),
        ({"type": {"owner": "Custom", "category": "Build", "provider": "Manual", "version": "1"}}, False),
    ],
    ids=str,
)
def test_only_manual_approval_actions_reach_the_approval_requests_function(
    router: Router, change: dict[str, Any], routed: bool
) -> None:
    # Given AWS's approval STARTED sample, changed to another state or another kind of action
    event = json.loads((AWS_SAMPLES / "codepipeline-action-execution-approval-started.json").read_text())
    event["detail"].update(change)
    # Then only a manual approval entering a state the function acts on is routed to it
    assert ("ApprovalRequestsFunction" in {spec.logical_id for spec in router.match(event)}) is routed


def test_the_real_deploy_action_samples_do_not_reach_the_approval_requests_function(router: Router) -> None:
    for sample in ("codepipeline-action-execution-started-deploy.json", "codepipeline-action-execution-failed.json"):
        event = json.loads((AWS_SAMPLES / sample).read_text())
        assert "ApprovalRequestsFunction" not in {spec.logical_id for spec in router.match(event)}, sample


# Which functions each real AWS sample must reach. A new capability updates this table.
EXPECTED_ROUTES: dict[str, set[str]] = {
    "codecommit-reference-created.json": {"RepoActivityFunction", "RepoBackupFunction"},
    "codecommit-reference-updated.json": {"RepoActivityFunction", "RepoBackupFunction"},
    "codecommit-reference-deleted.json": {"RepoActivityFunction", "RepoBackupFunction"},
    "codecommit-pull-request-created.json": {"PrBuildsFunction"},
    "codecommit-pull-request-source-branch-updated.json": {"PrBuildsFunction"},
    "codecommit-pull-request-merged.json": set(),
    "codecommit-pull-request-status-changed-closed.json": set(),
    "codecommit-pull-request-approval-state-changed.json": set(),
    "codecommit-comment-on-commit.json": set(),
    "codecommit-comment-on-pull-request.json": {"PrBuildsFunction"},
    "codecommit-comment-on-pull-request-updated.json": set(),
    "codebuild-build-state-succeeded.json": {"BuildResultsFunction"},
    "codebuild-build-state-failed.json": {"BuildResultsFunction"},
    "codebuild-build-state-in-progress.json": {"BuildResultsFunction"},
    "codebuild-phase-change.json": set(),
    "codedeploy-deployment-state-change.json": set(),
    "codedeploy-instance-state-change.json": set(),
    "codepipeline-action-execution-approval-started.json": {"ApprovalRequestsFunction"},
    "codepipeline-action-execution-failed.json": set(),
    "codepipeline-action-execution-started-deploy.json": set(),
    "codepipeline-pipeline-execution-failed.json": set(),
    "codepipeline-stage-execution.json": set(),
}
# Not EventBridge envelopes: delivered by SNS, by CodeDeploy directly, or a notification rule's shape.
NOT_EVENTBRIDGE = {
    "codepipeline-approval-sns-message.json",
    "sns-approval-lambda-event.json",
    "codedeploy-lifecycle-hook-ecs.json",
    "codedeploy-lifecycle-hook-lambda.json",
    "codepipeline-pipeline-execution-failed-notification.json",
}


def test_the_routing_table_covers_every_aws_sample() -> None:
    assert {p.name for p in AWS_SAMPLES.glob("*.json")} == EXPECTED_ROUTES.keys() | NOT_EVENTBRIDGE


def _id(value: object) -> str:
    """A test id that is the same in every process: a set's own order depends on string hashing, which
    differs per interpreter, and pytest-xdist's workers must collect the very same ids."""
    return "+".join(sorted(value)) or "nothing" if isinstance(value, (set, frozenset)) else str(value)


@pytest.mark.parametrize(("sample", "expected"), sorted(EXPECTED_ROUTES.items()), ids=_id)
def test_real_aws_samples_reach_exactly_the_expected_functions(router: Router, sample: str, expected: set[str]) -> None:
    event = json.loads((AWS_SAMPLES / sample).read_text())
    assert {spec.logical_id for spec in router.match(event)} == expected


# --- hygiene -----------------------------------------------------------------------------------


def _resources_of_type(template: SamTemplate, kind: str) -> dict[str, Mapping[str, Any]]:
    return {lid: res for lid, res in template.resources.items() if res.get("Type") == kind}


@pytest.mark.parametrize("spec", _functions(), ids=lambda spec: spec.logical_id)
def test_every_function_has_a_log_group_with_retention(template: SamTemplate, spec: FunctionSpec) -> None:
    groups = _resources_of_type(template, "AWS::Logs::LogGroup").values()
    mine = [g for g in groups if f"${{{spec.logical_id}}}" in json.dumps(g["Properties"].get("LogGroupName"))]
    assert len(mine) == 1, f"{spec.logical_id} needs exactly one explicit log group"
    assert mine[0]["Properties"].get("RetentionInDays")
    assert mine[0].get("Condition") == template.resources[spec.logical_id].get("Condition")


@pytest.mark.parametrize("spec", _functions(), ids=lambda spec: spec.logical_id)
def test_every_function_retries_boundedly_and_keeps_what_fails(template: SamTemplate, spec: FunctionSpec) -> None:
    props = template.function_properties(spec.logical_id)
    on_failure = (props.get("EventInvokeConfig") or {}).get("DestinationConfig", {}).get("OnFailure")
    assert on_failure and on_failure.get("Destination"), "async invocations need a failure destination"
    assert props["EventInvokeConfig"]["MaximumRetryAttempts"] <= 2
    for name, event in (props.get("Events") or {}).items():
        if event["Type"] in {"EventBridgeRule", "CloudWatchEvent", "Schedule"}:
            rule = event["Properties"]
            assert rule.get("RetryPolicy"), f"{spec.logical_id}.{name} needs a RetryPolicy"
            assert rule.get("DeadLetterConfig"), f"{spec.logical_id}.{name} needs a DeadLetterConfig"


def test_every_function_counts_its_metrics_under_its_own_service(router: Router) -> None:
    # The service is the dimension of every metric: shared, no alarm could tell the functions apart.
    services = [spec.environment.get("POWERTOOLS_SERVICE_NAME") for spec in router.functions]
    assert None not in services
    assert len(set(services)) == len(services)


@pytest.mark.parametrize("spec", _functions(), ids=lambda spec: spec.logical_id)
def test_every_function_has_an_alarm_on_its_rejections(
    router: Router, template: SamTemplate, spec: FunctionSpec
) -> None:
    # A misconfigured function rejects every event: that must reach the topic, not only the logs.
    service = router.function(spec.logical_id).environment["POWERTOOLS_SERVICE_NAME"]
    alarms = [
        res["Properties"]
        for res in _resources_of_type(template, "AWS::CloudWatch::Alarm").values()
        if res["Properties"].get("MetricName") == "Rejected"
        and res.get("Condition") == template.resources[spec.logical_id].get("Condition")
        and [router.resolver.resolve(d) for d in res["Properties"]["Dimensions"]]
        == [{"Name": "service", "Value": service}]
    ]
    assert len(alarms) == 1, f"{spec.logical_id} needs one alarm on Rejected for service {service}"
    (alarm,) = alarms
    assert alarm["Namespace"] == template.globals_function["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Statistic"] == "Sum"
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]
    assert '"Event rejected"' in alarm["AlarmDescription"]


def _statements(template: SamTemplate) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for lid in template.function_ids():
        for policy in template.function_properties(lid).get("Policies") or []:
            assert isinstance(policy, dict) and "Statement" in policy, f"{lid}: only hand-written statements"
            found += [(lid, statement) for statement in policy["Statement"]]
    for lid, res in _resources_of_type(template, "AWS::IAM::Policy").items():
        found += [(lid, statement) for statement in res["Properties"]["PolicyDocument"]["Statement"]]
    # Roles written out in the template (a CodeBuild project's) carry their policies inline.
    for lid, res in _resources_of_type(template, "AWS::IAM::Role").items():
        for policy in res["Properties"].get("Policies") or []:
            found += [(lid, statement) for statement in policy["PolicyDocument"]["Statement"]]
    return found


def test_every_codebuild_project_logs_to_its_own_group_with_retention(template: SamTemplate) -> None:
    projects = _resources_of_type(template, "AWS::CodeBuild::Project")
    assert projects, "the backup hand-off project was not found"
    groups = _resources_of_type(template, "AWS::Logs::LogGroup")
    for lid, res in projects.items():
        logs = res["Properties"]["LogsConfig"]["CloudWatchLogs"]
        assert logs["Status"] == "ENABLED", lid
        group = groups[logs["GroupName"]["Ref"]]
        assert group["Properties"].get("RetentionInDays"), lid
        assert group.get("Condition") == res.get("Condition"), lid
        assert res["Properties"]["Environment"]["Type"] == "ARM_CONTAINER", lid


def test_the_backup_build_role_is_checked_like_the_functions(template: SamTemplate) -> None:
    assert any(lid == "RepoBackupBuildRole" for lid, _ in _statements(template))


# Actions that IAM authorises only on Resource "*" (no resource type in the Service Authorization
# Reference). A statement may use "*" only if every one of its actions is listed here.
ACTIONS_WITHOUT_RESOURCE_TYPES = frozenset(
    {
        "codecommit:ListRepositories",
        # The hooks' reads of what is under test: ELBv2's Describe* and GetMetricData name no resource.
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetHealth",
        "cloudwatch:GetMetricData",
    }
)


def test_no_policy_statement_grants_a_wildcard_action(template: SamTemplate) -> None:
    statements = _statements(template)
    assert statements, "the functions' policies were not found"
    for lid, statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions), f"{lid}: {actions}"
        if statement.get("Resource") == "*" and set(actions) <= ACTIONS_WITHOUT_RESOURCE_TYPES:
            continue
        assert statement.get("Resource") not in (None, "*"), f"{lid}: {actions} must name its resources"


def test_the_resource_check_would_catch_a_scopeable_action_on_star(template: SamTemplate) -> None:
    # Given a copy of the template where a scopeable action joins ListRepositories on "*"
    body = copy.deepcopy(template.body)
    first = next(iter(template.function_ids()))
    body["Resources"][first]["Properties"]["Policies"][0]["Statement"].append(
        {"Effect": "Allow", "Action": ["codecommit:ListRepositories", "codecommit:GitPull"], "Resource": "*"}
    )
    # Then the check fails on it
    with pytest.raises(AssertionError, match="must name its resources"):
        test_no_policy_statement_grants_a_wildcard_action(SamTemplate(body))


def test_the_wildcard_check_would_catch_one(template: SamTemplate) -> None:
    # Given a copy of the template with a statement granting codecommit:*
    body = copy.deepcopy(template.body)
    first = next(iter(template.function_ids()))
    body["Resources"][first]["Properties"]["Policies"][0]["Statement"].append(
        {"Effect": "Allow", "Action": "codecommit:*", "Resource": "arn:aws:codecommit:*:*:*"}
    )
    # Then the check above fails on it
    with pytest.raises(AssertionError, match=r"codecommit:\*"):
        test_no_policy_statement_grants_a_wildcard_action(SamTemplate(body))


def test_layers_are_built_for_arm64_and_functions_run_there(template: SamTemplate) -> None:
    for lid, res in _resources_of_type(template, "AWS::Serverless::LayerVersion").items():
        assert res["Metadata"]["BuildArchitecture"] == "arm64", lid
        assert res["Properties"]["CompatibleArchitectures"] == ["arm64"], lid
    assert template.globals_function["Architectures"] == ["arm64"]
    assert template.globals_function["Runtime"] == "python3.11"


def test_every_layer_and_function_is_packaged_with_its_bytecode(template: SamTemplate) -> None:
    # packaging/Makefile ships hash-checked .pyc files; SAM's own python builder ships none, and a
    # resource that fell back to it would compile its modules on every cold start.
    makefile = (ROOT / "packaging" / "Makefile").read_text()
    for kind in ("AWS::Serverless::LayerVersion", "AWS::Serverless::Function"):
        for lid, res in _resources_of_type(template, kind).items():
            assert res["Metadata"]["BuildMethod"] == "makefile", lid
            assert res["Metadata"]["ContextPath"] == "packaging", lid
            assert f"\nbuild-{lid}:" in makefile, f"packaging/Makefile has no build-{lid} target"


def test_a_failed_backup_build_alarms_to_the_topic(template: SamTemplate) -> None:
    alarms = _resources_of_type(template, "AWS::CloudWatch::Alarm").values()
    failed_builds = [
        alarm["Properties"]
        for alarm in alarms
        if alarm["Properties"].get("Namespace") == "AWS/CodeBuild"
        and alarm["Properties"]["MetricName"] == "FailedBuilds"
    ]
    assert len(failed_builds) == 1, "one alarm on the backup project's failed builds"
    [props] = failed_builds
    assert props["Dimensions"] == [{"Name": "ProjectName", "Value": {"Ref": "RepoBackupProject"}}]
    assert props["AlarmActions"] == [{"Ref": "NotificationTopic"}]
    recovered = [a["Properties"] for a in alarms if a["Properties"].get("MetricName") == "HandOffsRecovered"]
    assert [a["AlarmActions"] for a in recovered] == [[{"Ref": "NotificationTopic"}]]


def test_the_backup_function_may_check_only_its_own_builds(template: SamTemplate) -> None:
    # The hand-off check reads builds: scoped to the backup project, as StartBuild is.
    granted = {
        action: statement["Resource"]
        for lid, statement in _statements(template)
        if lid == "RepoBackupFunction"
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        if action.startswith("codebuild:")
    }
    project = {"Fn::GetAtt": ["RepoBackupProject", "Arn"]}
    assert granted == {
        "codebuild:StartBuild": project,
        "codebuild:BatchGetBuilds": project,
        "codebuild:ListBuildsForProject": project,
    }


# --- trust: what the build results and PR builds functions may believe and start ------------------


def _function(spec_id: str) -> FunctionSpec:
    return next(spec for spec in _functions() if spec.logical_id == spec_id)


def test_a_comment_claim_outlives_any_run_of_the_build_results_function() -> None:
    # A claim older than CLAIM_SECONDS is taken over: its claimer must be certain to have ended
    sys.path.insert(0, str(_code_dir(_function("BuildResultsFunction"))))
    try:
        records = importlib.import_module("build_results.records")
    finally:
        sys.path.pop(0)
    assert _function("BuildResultsFunction").timeout * 2 < records.CLAIM_SECONDS


def test_the_comment_signing_key_is_generated_and_only_the_build_results_function_reads_it(
    template: SamTemplate,
) -> None:
    secret = template.resources["CommentSigningKey"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    readers = [
        lid
        for lid, statement in _statements(template)
        if "secretsmanager:GetSecretValue" in json.dumps(statement["Action"])
        and statement["Resource"] == {"Ref": "CommentSigningKey"}
    ]
    assert readers == ["BuildResultsFunction"]
    env = template.function_properties("BuildResultsFunction")["Environment"]["Variables"]
    assert env["SIGNING_KEY_SECRET"] == {"Ref": "CommentSigningKey"}


def test_every_secret_read_names_its_one_secret(template: SamTemplate) -> None:
    secrets = set(_resources_of_type(template, "AWS::SecretsManager::Secret"))
    for lid, statement in _statements(template):
        if "secretsmanager:GetSecretValue" in json.dumps(statement["Action"]):
            assert statement["Resource"] in [{"Ref": name} for name in secrets], lid


def test_the_ecs_hook_state_key_is_generated_and_only_the_ecs_hook_function_reads_it(template: SamTemplate) -> None:
    secret = template.resources["EcsHookStateKey"]
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    readers = [lid for lid, statement in _statements(template) if statement["Resource"] == {"Ref": "EcsHookStateKey"}]
    assert readers == ["EcsHooksFunction"]
    env = template.function_properties("EcsHooksFunction")["Environment"]["Variables"]
    assert env["STATE_SECRET_ARN"] == {"Ref": "EcsHookStateKey"}


def test_pr_builds_may_start_only_the_projects_its_setting_names(template: SamTemplate) -> None:
    statements = [s for lid, s in _statements(template) if lid == "PrBuildsFunction"]
    (start,) = [s for s in statements if s["Action"] == "codebuild:StartBuild"]
    assert start["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:codebuild:${AWS::Region}:${AWS::AccountId}:project/${BuildProjectsStartable}"
    }
    env = template.function_properties("PrBuildsFunction")["Environment"]["Variables"]
    assert env["STARTABLE_PROJECTS"] == {"Ref": "BuildProjectsStartable"}
    # The default convention's projects are startable by default, and nothing else is
    assert template.body["Parameters"]["BuildProjectsStartable"]["Default"] == "*-ci"


def test_the_resources_the_sandbox_names_for_sam_are_the_ones_sam_generates(
    template: SamTemplate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the template as samtranslator transforms it (local code paths as the S3 URIs `sam
    # deploy` would upload them to; no managed policies to look up)
    body = copy.deepcopy(dict(template.body))
    for resource in body["Resources"].values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://artifacts/{properties[key]}"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    transformed = transform(body, {}, _NoManagedPolicies())["Resources"]
    # When the sandbox lists the resources SAM generates (roles, rules, rule dead-letter queues)
    declared = set(template.resources)
    generated = {lid: kind for lid, kind in template.resource_types().items() if lid not in declared}
    dead_letter_queues = {
        f"{spec.logical_id}{rule.name}Queue"
        for spec in template.functions()
        for rule in spec.events
        if (rule.properties.get("DeadLetterConfig") or {}).get("Type") == "SQS"
    }
    # Then SAM generates each under the same logical id and type
    assert generated
    assert dead_letter_queues
    assert {lid: transformed[lid]["Type"] for lid in generated if lid in transformed} == generated
    assert all(transformed[lid]["Type"] == "AWS::SQS::Queue" for lid in dead_letter_queues)


class _NoManagedPolicies:
    """samtranslator's policy loader: the template names no AWS managed policies to resolve."""

    def load(self) -> dict[str, str]:
        return {}


# --- deployment validation: the CodeDeploy hook functions ------------------------------------------

HOOKS = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")


def test_there_is_one_hook_function_per_hook_each_told_its_own(router: Router) -> None:
    for hook in HOOKS:
        spec = router.function(f"DeployHook{hook}Function")
        assert spec.environment["DEPLOYMENT_HOOK"] == hook
        # Its runs are as long as the function may run: the engine cuts the plan at that length
        assert int(spec.environment["RUN_SECONDS"]) == spec.timeout


@pytest.mark.parametrize("stack", ["codereflex", "codereflex-dev", "codereflex-prod", "x" * 27])
def test_hook_function_names_are_ones_codedeploys_managed_policy_accepts_and_lambda_allows(
    template: SamTemplate, stack: str
) -> None:
    # AWSCodeDeployRoleForECSLimited may invoke only CodeDeployHook_*; Lambda names are at most 64 characters
    for hook in HOOKS:
        spec = Router(template, Resolver(template, stack_name=stack)).function(f"DeployHook{hook}Function")
        assert spec.function_name.startswith("CodeDeployHook_"), spec.function_name
        assert len(spec.function_name) <= 64, spec.function_name
    # The name parameter allows no more than what fits
    assert template.body["Parameters"]["DeploymentHooksName"]["AllowedPattern"].endswith("{1,27}$")


def test_the_hook_functions_are_exported_for_other_stacks(template: SamTemplate) -> None:
    outputs = template.body["Outputs"]
    for hook in HOOKS:
        for kind in ("FunctionName", "FunctionArn"):
            output = outputs[f"DeployHook{hook}{kind}"]
            assert output["Export"]["Name"] == {"Fn::Sub": f"${{AWS::StackName}}-DeployHook{hook}{kind}"}


def test_the_hook_functions_invoke_only_qualified_versions_of_what_is_under_test(template: SamTemplate) -> None:
    for hook in HOOKS:
        statements = [s for lid, s in _statements(template) if lid == f"DeployHook{hook}Function"]
        (invoke,) = [s for s in statements if s.get("Sid") == "InvokeVersionsUnderTest"]
        assert invoke["Resource"]["Fn::Sub"].endswith(":function:${ValidationInvokeFunctions}:*")
