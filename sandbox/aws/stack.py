"""Create a template's stateful resources in the local AWS (moto) and name them like CloudFormation would."""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

ACCOUNT_ID = "123456789012"

Properties = Mapping[str, Any]


@dataclass
class Stack:
    """Physical names of the created resources: `refs[logical]` is what `!Ref` gives,
    `refs["Logical.Attr"]` what `!GetAtt Logical.Attr` gives."""

    name: str
    region: str
    refs: dict[str, str] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)

    def outputs(self) -> dict[str, str]:
        return dict(sorted(self.refs.items()))


Resolve = Callable[[Stack, Any], Any]  # intrinsics evaluated against what the stack has so far


def _physical(stack: str, logical: str) -> str:
    return f"{stack}-{logical}"


def create_stack(
    resources: Mapping[str, Mapping[str, Any]],
    *,
    stack_name: str = "codereflex",
    region: str = "us-east-1",
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    enabled: Callable[[str], bool] = lambda _: True,
    resolve: Resolve | None = None,
) -> Stack:
    """Create every supported resource of a (SAM) template's Resources section.

    Supported: SNS topics, SQS queues (including the dead-letter queue SAM generates for an
    EventBridgeRule event with `DeadLetterConfig: {Type: SQS}`), DynamoDB tables, KMS keys,
    S3 buckets, and function names; with `resolve` (intrinsics evaluated against the resources
    created so far), CodeBuild projects too. Other types (alarms, policies, log groups, layers)
    have no behaviour the sandbox needs and are skipped. `enabled` says whether a resource's
    Condition holds, so a disabled capability leaves nothing behind.
    """
    session = session or boto3.Session(region_name=region)

    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(  # type: ignore[call-overload]
                service, region_name=region, endpoint_url=endpoint_url
            )
        return clients[service]

    stack = Stack(name=stack_name, region=region)
    for logical, resource in resources.items():
        if not enabled(logical):
            continue
        kind = resource.get("Type", "")
        props: Properties = resource.get("Properties") or {}
        creator = _CREATORS.get(kind)
        if creator is not None:
            creator(stack, logical, props, client)
        if kind == "AWS::Serverless::Function":
            _function(stack, logical, props, client, resolve)
        if kind == "AWS::CodeBuild::Project" and resolve is not None:
            _project(stack, logical, resolve(stack, props), client)
    return stack


def _topic(stack: Stack, logical: str, props: Properties, client: Callable[[str], Any]) -> None:
    arn = client("sns").create_topic(Name=_physical(stack.name, logical))["TopicArn"]
    stack.refs[logical] = arn
    stack.refs[f"{logical}.TopicArn"] = arn
    stack.refs[f"{logical}.TopicName"] = arn.rsplit(":", 1)[1]


def _queue(stack: Stack, logical: str, client: Callable[[str], Any]) -> None:
    sqs = client("sqs")
    name = _physical(stack.name, logical)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.refs.update({logical: url, f"{logical}.Arn": arn, f"{logical}.QueueName": name, f"{logical}.QueueUrl": url})


def _table(stack: Stack, logical: str, props: Properties, client: Callable[[str], Any]) -> None:
    dynamodb = client("dynamodb")
    name = _physical(stack.name, logical)
    table = dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=list(props["AttributeDefinitions"]),
        KeySchema=list(props["KeySchema"]),
        BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
    )["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=dict(ttl))
    stack.refs.update({logical: name, f"{logical}.Arn": table["TableArn"]})


def _key(stack: Stack, logical: str, props: Properties, client: Callable[[str], Any]) -> None:
    key = client("kms").create_key(Description=str(props.get("Description", logical)))["KeyMetadata"]
    stack.refs.update({logical: key["KeyId"], f"{logical}.Arn": key["Arn"], f"{logical}.KeyId": key["KeyId"]})


def _bucket(stack: Stack, logical: str, props: Properties, client: Callable[[str], Any]) -> None:
    name = _physical(stack.name, logical).lower()
    s3 = client("s3")
    if stack.region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": stack.region})
    if props.get("VersioningConfiguration"):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=dict(props["VersioningConfiguration"]))
    stack.refs.update({logical: name, f"{logical}.Arn": f"arn:aws:s3:::{name}"})


def _secret(stack: Stack, logical: str, props: Properties, client: Callable[[str], Any]) -> None:
    """A generated secret as CloudFormation makes it: a random value of the asked length, never printed."""
    generate = props.get("GenerateSecretString") or {}
    length = int(generate.get("PasswordLength", 32))
    alphabet = string.ascii_letters + string.digits
    if not generate.get("ExcludePunctuation"):
        alphabet += string.punctuation
    value = "".join(secrets.choice(alphabet) for _ in range(length))
    arn = client("secretsmanager").create_secret(Name=_physical(stack.name, logical), SecretString=value)["ARN"]
    stack.refs.update({logical: arn, f"{logical}.Id": arn})


def _function(
    stack: Stack, logical: str, props: Properties, client: Callable[[str], Any], resolve: Resolve | None = None
) -> None:
    # A FunctionName the template gives (the hooks' CodeDeployHook_...) is the name, as in CloudFormation.
    given = props.get("FunctionName")
    name = str(resolve(stack, given)) if given is not None and resolve is not None else _physical(stack.name, logical)
    stack.functions[logical] = name
    stack.refs[logical] = name
    stack.refs[f"{logical}.Arn"] = f"arn:aws:lambda:{stack.region}:{ACCOUNT_ID}:function:{name}"
    # SAM generates a standard SQS dead-letter queue per EventBridgeRule event with DeadLetterConfig Type SQS.
    for event_name, event in (props.get("Events") or {}).items():
        dead_letter = (event.get("Properties") or {}).get("DeadLetterConfig") or {}
        if event.get("Type") in {"EventBridgeRule", "CloudWatchEvent"} and dead_letter.get("Type") == "SQS":
            _queue(stack, f"{logical}{event_name}Queue", client)


def _project(stack: Stack, logical: str, props: Properties, client: Callable[[str], Any]) -> None:
    """The project as CloudFormation would create it (CFN's PascalCase properties in CodeBuild's API shape)."""
    name = str(props.get("Name") or _physical(stack.name, logical))
    source, environment = props["Source"], props["Environment"]
    logs = (props.get("LogsConfig") or {}).get("CloudWatchLogs")
    optional: dict[str, Any] = {}
    if logs:
        optional["logsConfig"] = {"cloudWatchLogs": {"status": logs["Status"], "groupName": logs.get("GroupName", "")}}
    for cfn, api in (("TimeoutInMinutes", "timeoutInMinutes"), ("QueuedTimeoutInMinutes", "queuedTimeoutInMinutes")):
        if cfn in props:
            optional[api] = int(props[cfn])
    project = client("codebuild").create_project(
        name=name,
        description=str(props.get("Description", "")),
        source={"type": source["Type"], **({"buildspec": source["BuildSpec"]} if "BuildSpec" in source else {})},
        artifacts={"type": props["Artifacts"]["Type"]},
        environment={
            "type": environment["Type"],
            "image": environment["Image"],
            "computeType": environment["ComputeType"],
            "environmentVariables": [
                {"name": v["Name"], "value": str(v["Value"]), "type": v.get("Type", "PLAINTEXT")}
                for v in environment.get("EnvironmentVariables") or []
            ],
        },
        serviceRole=props["ServiceRole"],
        **optional,
    )["project"]
    stack.refs.update({logical: name, f"{logical}.Arn": project["arn"]})


_CREATORS: dict[str, Callable[[Stack, str, Properties, Callable[[str], Any]], None]] = {
    "AWS::SNS::Topic": _topic,
    "AWS::SQS::Queue": lambda stack, logical, _props, client: _queue(stack, logical, client),
    "AWS::DynamoDB::Table": _table,
    "AWS::KMS::Key": _key,
    "AWS::S3::Bucket": _bucket,
    "AWS::SecretsManager::Secret": _secret,
}
