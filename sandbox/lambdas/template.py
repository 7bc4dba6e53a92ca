"""Reads a SAM template (cfn-lint's decoder, samtranslator's Globals) and resolves it for the sandbox."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar, cast

from cfnlint import decode as cfn_decode
from samtranslator.plugins.globals.globals import Globals, InvalidGlobalsSectionException

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_REGION",
    "DEFAULT_STACK_NAME",
    "NO_VALUE",
    "PATTERN_EVENT_TYPES",
    "SCHEDULE_EVENT_TYPES",
    "SERVERLESS_FUNCTION",
    "SNS_EVENT_TYPE",
    "EventSource",
    "FunctionSpec",
    "Resolver",
    "SamTemplate",
    "TemplateError",
    "UnresolvableReferenceError",
    "load_template",
    "merge_globals",
    "parse_yaml",
]

DEFAULT_ACCOUNT_ID: Final = "123456789012"
DEFAULT_REGION: Final = "us-east-1"
DEFAULT_STACK_NAME: Final = "codereflex"
SERVERLESS_FUNCTION: Final = "AWS::Serverless::Function"
PATTERN_EVENT_TYPES: Final = frozenset({"EventBridgeRule", "CloudWatchEvent"})
SCHEDULE_EVENT_TYPES: Final = frozenset({"Schedule", "ScheduleV2"})
SNS_EVENT_TYPE: Final = "SNS"
# What Lambda and SAM use when the template says nothing.
_DEFAULT_TIMEOUT_S: Final = 3
_DEFAULT_MEMORY_MB: Final = 128


class TemplateError(ValueError):
    """The template is malformed, or asks for something CloudFormation would refuse."""


class UnresolvableReferenceError(TemplateError):
    """A Ref, GetAtt, Sub variable, mapping key or import that has no value in this sandbox."""

    def __init__(self, reference: str, reason: str) -> None:
        super().__init__(f"cannot resolve {reference}: {reason}")
        self.reference = reference
        self.reason = reason


class _NoValue:
    """`Ref: AWS::NoValue`: the property (or list element) is removed, as if never written."""

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Final = _NoValue()


# --- reading: cfn-lint's decoder -----------------------------------------------------------------

# cfn-lint reads any `!X` as `Fn::X`; CloudFormation knows only these (plus Ref and Condition).
_INTRINSIC_FUNCTIONS: Final = frozenset(
    {
        "GetAtt",
        "Sub",
        "If",
        "Equals",
        "Not",
        "And",
        "Or",
        "Select",
        "Split",
        "Join",
        "FindInMap",
        "ImportValue",
        "Base64",
        "Cidr",
        "GetAZs",
        "Length",
        "ToJsonString",
        "Transform",
    }
)
_DUPLICATE: Final = re.compile(r"Duplicate found '(?P<key>.*)' \(line (?P<line>\d+)\)")


def parse_yaml(text: str) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML (or JSON) template body into plain dicts in long form."""
    body, problems = cfn_decode.decode_str(text)
    if problems:
        message = problems[-1].message
        duplicate = _DUPLICATE.fullmatch(message)
        if duplicate:  # cfn-lint reports both occurrences; the second one is the duplicate
            raise TemplateError(f"duplicate key {duplicate['key']!r} at line {duplicate['line']}")
        raise TemplateError(f"template is not valid YAML: {message}")
    if not isinstance(body, dict):
        raise TemplateError("a template must be a mapping at the top level")
    return cast(dict[str, Any], _plain(body))


def _plain(node: Any) -> Any:
    """cfn-lint's nodes as plain values, refusing the functions CloudFormation does not have.

    Ours because cfn-lint's decoder accepts any tag (its linter reports unknown functions later),
    and YAML reads an unquoted `2010-09-09` as a date where CloudFormation reads the string.
    """
    if isinstance(node, dict):
        if len(node) == 1:
            (key,) = node
            name = key.removeprefix("Fn::") if isinstance(key, str) else ""
            if name != key and name not in _INTRINSIC_FUNCTIONS:
                line = getattr(node, "start_mark", None)
                where = f" at line {line.line + 1}" if line else ""
                raise TemplateError(f"unknown tag !{name} (CloudFormation has no {key}){where}")
        return {_plain(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if isinstance(node, (datetime.date, datetime.datetime)):
        return node.isoformat()
    if isinstance(node, str):
        return str(node)
    return node


def load_template(path: str | Path) -> SamTemplate:
    """Read a template file; relative CodeUri/ContentUri paths resolve against its directory."""
    path = Path(path)
    return SamTemplate(parse_yaml(path.read_text(encoding="utf-8")), path.resolve())


# --- the template -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SamTemplate:
    """A parsed SAM template (long-form intrinsics, unresolved)."""

    body: Mapping[str, Any]
    path: Path | None = None

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    @property
    def parameters(self) -> Mapping[str, Mapping[str, Any]]:
        return cast(Mapping[str, Mapping[str, Any]], self.body.get("Parameters") or {})

    @property
    def conditions(self) -> Mapping[str, Any]:
        return cast(Mapping[str, Any], self.body.get("Conditions") or {})

    @property
    def mappings(self) -> Mapping[str, Any]:
        return cast(Mapping[str, Any], self.body.get("Mappings") or {})

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        return cast(Mapping[str, Mapping[str, Any]], self.body.get("Resources") or {})

    @property
    def globals_function(self) -> Mapping[str, Any]:
        return cast(Mapping[str, Any], (self.body.get("Globals") or {}).get("Function") or {})

    def function_ids(self) -> list[str]:
        """Logical ids of every AWS::Serverless::Function, in template order."""
        return [lid for lid, res in self.resources.items() if res.get("Type") == SERVERLESS_FUNCTION]

    def function_properties(self, logical_id: str) -> dict[str, Any]:
        """The function's Properties merged over Globals.Function the way SAM does it (unresolved)."""
        resource = self.resources.get(logical_id)
        if resource is None or resource.get("Type") != SERVERLESS_FUNCTION:
            raise TemplateError(f"{logical_id} is not an {SERVERLESS_FUNCTION} in the template")
        return merge_globals(self.globals_function, resource.get("Properties") or {})

    def resource_types(self) -> dict[str, str]:
        """Logical id -> type for declared resources plus the ones SAM generates that templates refer to."""
        # Ours: samtranslator's transform generates these too (a contract test checks the names
        # agree), but it needs S3 CodeUris, a region and an IAM policy loader, renames layers by
        # content hash and costs more than reading the template; two naming rules suffice.
        types = {lid: str(res.get("Type", "")) for lid, res in self.resources.items()}
        for lid in self.function_ids():
            props = self.function_properties(lid)
            if "Role" not in props:
                types.setdefault(f"{lid}Role", "AWS::IAM::Role")
            if props.get("FunctionUrlConfig"):
                types.setdefault(f"{lid}Url", "AWS::Lambda::Url")
            events = props.get("Events")
            for name, event in (events if isinstance(events, Mapping) else {}).items():
                kind = event.get("Type") if isinstance(event, Mapping) else None
                if kind in PATTERN_EVENT_TYPES or kind == "Schedule":
                    types.setdefault(f"{lid}{name}", "AWS::Events::Rule")
                elif kind == "ScheduleV2":
                    types.setdefault(f"{lid}{name}", "AWS::Scheduler::Schedule")
                elif kind == SNS_EVENT_TYPE:
                    types.setdefault(f"{lid}{name}", "AWS::SNS::Subscription")
        return types

    def functions(self, resolver: Resolver | None = None) -> list[FunctionSpec]:
        """Every function, resolved; those whose Condition is false come back with enabled=False."""
        resolver = resolver or Resolver(self)
        if resolver.template is not self:
            raise TemplateError("the resolver was built for a different template")
        return [resolver.function(lid) for lid in self.function_ids()]


def merge_globals(global_function: Mapping[str, Any], local: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's Globals rules, by samtranslator: maps merge key by key, lists concatenate, the rest is overridden.

    Intrinsics count as plain values (they resolve to one). samtranslator 1.106 (the newest that
    accepts the layers' pydantic) still concatenates `Architectures`; SAM's transform today
    replaces it, as newer samtranslator releases do, so that one property is ours.
    """
    try:
        merged = Globals({"Globals": {"Function": dict(global_function)}}).merge(SERVERLESS_FUNCTION, dict(local))
    except InvalidGlobalsSectionException as exc:
        raise TemplateError(exc.message) from exc
    if "Architectures" in local:
        merged["Architectures"] = local["Architectures"]
    return cast(dict[str, Any], merged)


def _is_intrinsic(value: Mapping[str, Any]) -> bool:
    if len(value) != 1:
        return False
    key = next(iter(value))
    return isinstance(key, str) and (key in {"Ref", "Condition"} or key.startswith("Fn::"))


# --- resolved model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EventSource:
    """One EventBridge rule, schedule or SNS subscription under a function's `Events`, resolved.

    An SNS subscription has `topic_arn` (and a `filter_policy`, if any) and its `rule_*` fields name
    the AWS::SNS::Subscription SAM generates.
    """

    name: str
    type: str
    rule_logical_id: str
    rule_name: str
    rule_arn: str
    enabled: bool = True
    pattern: Mapping[str, Any] | None = None
    schedule: str | None = None
    event_bus_name: str = "default"
    input: str | None = None
    input_path: str | None = None
    input_transformer: Mapping[str, Any] | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    topic_arn: str | None = None
    filter_policy: Mapping[str, Any] | None = None
    filter_policy_scope: str = "MessageAttributes"

    @property
    def is_schedule(self) -> bool:
        return self.type in SCHEDULE_EVENT_TYPES


@dataclass(frozen=True)
class FunctionSpec:
    """An AWS::Serverless::Function as it would be deployed: Globals merged, intrinsics resolved."""

    logical_id: str
    enabled: bool
    function_name: str
    function_arn: str
    handler: str
    code_uri: Path | None
    runtime: str | None = None
    timeout: int = _DEFAULT_TIMEOUT_S
    memory_size: int = _DEFAULT_MEMORY_MB
    architectures: tuple[str, ...] = ("x86_64",)
    layers: tuple[str, ...] = ()
    layer_dirs: tuple[Path, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    events: tuple[EventSource, ...] = ()
    condition: str | None = None
    disabled_reason: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def pattern_rules(self) -> tuple[EventSource, ...]:
        return tuple(e for e in self.events if e.type in PATTERN_EVENT_TYPES)

    @property
    def schedules(self) -> tuple[EventSource, ...]:
        return tuple(e for e in self.events if e.is_schedule)

    @property
    def sns_subscriptions(self) -> tuple[EventSource, ...]:
        return tuple(e for e in self.events if e.type == SNS_EVENT_TYPE)

    def event(self, name: str) -> EventSource:
        for source in self.events:
            if source.name == name:
                return source
        raise KeyError(f"{self.logical_id} has no EventBridge/Schedule event named {name!r}")


# --- resolution ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Naming:
    """How CloudFormation names a resource type: its name property, what Ref returns, its GetAtts."""

    name_property: str | None
    ref: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    lowercase: bool = False


_LAMBDA_ARN: Final = "arn:{partition}:lambda:{region}:{account}:function:{name}"
_LAYER_ARN: Final = "arn:{partition}:lambda:{region}:{account}:layer:{name}:1"
_TABLE_ARN: Final = "arn:{partition}:dynamodb:{region}:{account}:table/{name}"
_SNS_ARN: Final = "arn:{partition}:sns:{region}:{account}:{name}"
_SQS_ARN: Final = "arn:{partition}:sqs:{region}:{account}:{name}"
_SQS_URL: Final = "https://sqs.{region}.amazonaws.com/{account}/{name}"
_BUS_ARN: Final = "arn:{partition}:events:{region}:{account}:event-bus/{name}"
_RULE_ARN: Final = "arn:{partition}:events:{region}:{account}:rule/{name}"
_SCHEDULE_ARN: Final = "arn:{partition}:scheduler:{region}:{account}:schedule/default/{name}"
_STATES_ARN: Final = "arn:{partition}:states:{region}:{account}:stateMachine:{name}"
_SECRET_ARN: Final = "arn:{partition}:secretsmanager:{region}:{account}:secret:{name}-AbCdEf"
_REPO_URL: Final = "git-codecommit.{region}.amazonaws.com/v1/repos/{name}"

_NAMING: Final[Mapping[str, _Naming]] = {
    "AWS::Serverless::Function": _Naming("FunctionName", "{name}", {"Arn": _LAMBDA_ARN}),
    "AWS::Lambda::Function": _Naming("FunctionName", "{name}", {"Arn": _LAMBDA_ARN}),
    "AWS::Serverless::LayerVersion": _Naming("LayerName", _LAYER_ARN),
    # A function URL's id is random in AWS; the sandbox serving one gives its loopback URL instead.
    "AWS::Lambda::Url": _Naming(None, _LAMBDA_ARN, {"FunctionUrl": "https://{id_hex}.lambda-url.{region}.on.aws/"}),
    "AWS::Lambda::LayerVersion": _Naming("LayerName", _LAYER_ARN, {"LayerVersionArn": _LAYER_ARN}),
    "AWS::DynamoDB::Table": _Naming(
        "TableName", "{name}", {"Arn": _TABLE_ARN, "StreamArn": _TABLE_ARN + "/stream/1970-01-01T00:00:00.000"}
    ),
    "AWS::Serverless::SimpleTable": _Naming("TableName", "{name}", {"Arn": _TABLE_ARN}),
    "AWS::SNS::Topic": _Naming("TopicName", _SNS_ARN, {"TopicArn": _SNS_ARN, "TopicName": "{name}"}),
    "AWS::SQS::Queue": _Naming("QueueName", _SQS_URL, {"Arn": _SQS_ARN, "QueueName": "{name}", "QueueUrl": _SQS_URL}),
    "AWS::S3::Bucket": _Naming(
        "BucketName",
        "{name}",
        {
            "Arn": "arn:{partition}:s3:::{name}",
            "DomainName": "{name}.s3.amazonaws.com",
            "RegionalDomainName": "{name}.s3.{region}.amazonaws.com",
        },
        lowercase=True,
    ),
    "AWS::Events::EventBus": _Naming("Name", "{name}", {"Arn": _BUS_ARN, "Name": "{name}"}),
    "AWS::Events::Rule": _Naming("Name", "{name}", {"Arn": _RULE_ARN}),
    "AWS::Scheduler::Schedule": _Naming("Name", "{name}", {"Arn": _SCHEDULE_ARN}),
    "AWS::IAM::Role": _Naming(
        "RoleName", "{name}", {"Arn": "arn:{partition}:iam::{account}:role/{name}", "RoleId": "AROA{id_hex}"}
    ),
    "AWS::KMS::Key": _Naming(None, "{id}", {"Arn": "arn:{partition}:kms:{region}:{account}:key/{id}", "KeyId": "{id}"}),
    "AWS::KMS::Alias": _Naming("AliasName", "{name}"),
    "AWS::SSM::Parameter": _Naming("Name", "{name}"),
    "AWS::SecretsManager::Secret": _Naming("Name", _SECRET_ARN, {"Id": _SECRET_ARN}),
    "AWS::Logs::LogGroup": _Naming(
        "LogGroupName", "{name}", {"Arn": "arn:{partition}:logs:{region}:{account}:log-group:{name}:*"}
    ),
    "AWS::CodeCommit::Repository": _Naming(
        "RepositoryName",
        "{id}",
        {
            "Arn": "arn:{partition}:codecommit:{region}:{account}:{name}",
            "Name": "{name}",
            "CloneUrlHttp": "https://" + _REPO_URL,
            "CloneUrlSsh": "ssh://" + _REPO_URL,
        },
    ),
    "AWS::CodeBuild::Project": _Naming(
        "Name", "{name}", {"Arn": "arn:{partition}:codebuild:{region}:{account}:project/{name}"}
    ),
    "AWS::CodePipeline::Pipeline": _Naming("Name", "{name}"),
    "AWS::CodeDeploy::Application": _Naming("ApplicationName", "{name}"),
    "AWS::StepFunctions::StateMachine": _Naming(
        "StateMachineName", _STATES_ARN, {"Arn": _STATES_ARN, "Name": "{name}"}
    ),
    "AWS::Serverless::StateMachine": _Naming("Name", _STATES_ARN, {"Arn": _STATES_ARN, "Name": "{name}"}),
    "AWS::CloudWatch::Alarm": _Naming(
        "AlarmName", "{name}", {"Arn": "arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}"}
    ),
}
_LIST_PARAMETER: Final = re.compile(r"^(CommaDelimitedList|List<.+>|AWS::SSM::Parameter::Value<List<.+>>)$")
_SUB_VARIABLE: Final = re.compile(r"\$\{([^}]*)\}")
_NAME_LIMIT: Final = 64
_T = TypeVar("_T")


class Resolver:
    """Evaluates intrinsic functions and Conditions for one template and one (pretend) deployment.

    Ours: cfn-lint reasons about Conditions without evaluating them, and samtranslator's
    IntrinsicsResolver resolves only Ref, Fn::Sub and Fn::GetAtt, leaving what it cannot resolve in
    place; the sandbox needs every intrinsic evaluated against the names it created, and an error
    naming whatever has no value.

    `parameters` override the template's Parameter defaults. `resources` maps a logical id to what
    `Ref` returns and `"<LogicalId>.<Attr>"` to what `Fn::GetAtt` returns: give it the names the
    sandbox really created. Resources missing from the mapping get CloudFormation-style generated
    names (`<stack>-<LogicalId>`, ARNs to match) unless `generate_names=False`. Anything that still
    has no value raises UnresolvableReferenceError naming it.
    """

    def __init__(
        self,
        template: SamTemplate,
        *,
        parameters: Mapping[str, Any] | None = None,
        resources: Mapping[str, Any] | None = None,
        imports: Mapping[str, Any] | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        partition: str = "aws",
        generate_names: bool = True,
    ) -> None:
        self.template = template
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self.partition = partition
        self.generate_names = generate_names
        self.resources: dict[str, Any] = dict(resources or {})
        self.imports: dict[str, Any] = dict(imports or {})
        self._parameters = self._effective_parameters(parameters or {})
        # An AWS::SSM::Parameter::Value<...> default names an SSM parameter; CloudFormation would
        # look its value up, which the sandbox cannot, so such parameters must be given.
        self._ssm_lookups = {
            name
            for name, spec in template.parameters.items()
            if str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::Value<") and name not in (parameters or {})
        }
        self._types = template.resource_types()
        self._conditions: dict[str, bool] = {}
        self._evaluating: list[str] = []

    # - public --------------------------------------------------------------------------------

    @property
    def parameters(self) -> Mapping[str, Any]:
        """Parameter values in effect (overrides over defaults); parameters with neither are absent."""
        return dict(self._parameters)

    @property
    def pseudo_parameters(self) -> Mapping[str, Any]:
        suffix = "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"
        stack_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.account_id}/{self.region}/{self.stack_name}")
        return {
            "AWS::AccountId": self.account_id,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/{stack_id}"
            ),
            "AWS::URLSuffix": suffix,
            "AWS::NotificationARNs": [],
        }

    def resolve(self, value: Any) -> Any:
        """Evaluate every intrinsic in `value`; returns NO_VALUE if `value` itself is `Ref: AWS::NoValue`."""
        if isinstance(value, dict):
            if _is_intrinsic(value) and "Condition" not in value:
                ((key, argument),) = value.items()
                return self._ref(argument) if key == "Ref" else self._function(key, argument)
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        return value

    def condition(self, name: str) -> bool:
        """The value of a named condition from the template's Conditions section."""
        if name in self._conditions:
            return self._conditions[name]
        if name not in self.template.conditions:
            raise UnresolvableReferenceError(f"Condition {name}", "no such condition in the template")
        if name in self._evaluating:
            cycle = " -> ".join([*self._evaluating[self._evaluating.index(name) :], name])
            raise TemplateError(f"conditions refer to each other in a cycle: {cycle}")
        self._evaluating.append(name)
        try:
            result = self.evaluate_condition(self.template.conditions[name])
        finally:
            self._evaluating.pop()
        self._conditions[name] = result
        return result

    def evaluate_condition(self, expression: Any) -> bool:
        """Evaluate a condition expression (Fn::Equals/Not/And/Or or `Condition: Name`)."""
        if not isinstance(expression, dict) or len(expression) != 1:
            raise TemplateError(f"not a condition function: {expression!r}")
        ((key, argument),) = expression.items()
        if key == "Condition":
            return self.condition(_string(argument, "Condition"))
        args = _list(argument, key)
        match key:
            case "Fn::Equals":
                if len(args) != 2:  # Fn::Equals compares exactly two values
                    raise TemplateError(f"Fn::Equals takes two values, got {args!r}")
                left, right = (_canonical(self.resolve(a)) for a in args)
                return left == right
            case "Fn::Not":
                if len(args) != 1:
                    raise TemplateError(f"Fn::Not takes one condition, got {args!r}")
                return not self.evaluate_condition(args[0])
            case "Fn::And":
                return all(self.evaluate_condition(a) for a in args)
            case "Fn::Or":
                return any(self.evaluate_condition(a) for a in args)
        raise TemplateError(f"{key} is not a condition function")

    def is_deployed(self, logical_id: str) -> bool:
        """False if the resource has a Condition that evaluates to false."""
        resource = self.template.resources.get(logical_id) or {}
        condition = resource.get("Condition")
        return condition is None or self.condition(_string(condition, f"{logical_id}.Condition"))

    def ref(self, name: str) -> Any:
        """What `Ref: name` returns (parameter, pseudo parameter or resource)."""
        value = self._ref(name)
        if value is NO_VALUE:
            raise TemplateError("Ref AWS::NoValue has no value outside a property")
        return value

    def get_att(self, logical_id: str, attribute: str) -> Any:
        """What `Fn::GetAtt: [logical_id, attribute]` returns."""
        reference = f"Fn::GetAtt {logical_id}.{attribute}"
        key = f"{logical_id}.{attribute}"
        if logical_id not in self._types:
            if key in self.resources:
                return self.resources[key]
            raise UnresolvableReferenceError(reference, f"{logical_id} is not a resource in the template")
        self._require_deployed(logical_id, reference)
        if key in self.resources:
            return self.resources[key]
        naming = _NAMING.get(self._types[logical_id])
        if self.generate_names and naming and attribute in naming.attributes:
            return self._format(naming.attributes[attribute], logical_id)
        raise UnresolvableReferenceError(reference, f"no value for {key!r} in the resource mapping")

    def physical_name(self, logical_id: str) -> str:
        """The name CloudFormation would give the resource: its name property, else `<stack>-<LogicalId>`."""
        kind = self._types.get(logical_id, "")
        naming = _NAMING.get(kind)
        props = (self.template.resources.get(logical_id) or {}).get("Properties") or {}
        if kind == SERVERLESS_FUNCTION and logical_id in self.template.resources:
            props = self.template.function_properties(logical_id)
        if naming and naming.name_property and props.get(naming.name_property) is not None:
            explicit = self.resolve(props[naming.name_property])
            if explicit is not NO_VALUE:
                return _scalar(explicit, f"{logical_id}.{naming.name_property}")
        name = f"{self.stack_name}-{logical_id}"[:_NAME_LIMIT]
        if kind == "AWS::KMS::Alias":
            name = f"alias/{name}"
        return name.lower() if naming and naming.lowercase else name

    def function(self, logical_id: str) -> FunctionSpec:
        """Resolve one AWS::Serverless::Function (disabled ones are resolved as far as possible)."""
        return _FunctionBuilder(self, logical_id).build()

    # - internals -----------------------------------------------------------------------------

    def _effective_parameters(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        declared = self.template.parameters
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise TemplateError(f"parameters not declared in the template: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in overrides:
                raw = overrides[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                continue  # only an error if something refers to it
            values[name] = self._parameter_value(name, spec, raw)
        return values

    @staticmethod
    def _parameter_value(name: str, spec: Mapping[str, Any], raw: Any) -> Any:
        kind = str(spec.get("Type", "String"))
        if _LIST_PARAMETER.match(kind):
            items = raw if isinstance(raw, list) else str(raw).split(",")
            value: Any = [_canonical(item).strip() for item in items]
            checked = value
        else:
            value = _canonical(raw)
            checked = [value]
            if kind == "Number":
                try:
                    float(value)
                except ValueError:
                    raise TemplateError(f"parameter {name} is a Number, got {value!r}") from None
        allowed = spec.get("AllowedValues")
        if allowed is not None:
            allowed_values = {_canonical(v) for v in allowed}
            bad = [v for v in checked if v not in allowed_values]
            if bad:
                raise TemplateError(f"parameter {name}={bad[0]!r} is not one of its AllowedValues {allowed!r}")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not all(re.fullmatch(str(pattern), v) for v in checked):
            raise TemplateError(f"parameter {name}={value!r} does not match its AllowedPattern {pattern!r}")
        return value

    def _ref(self, argument: Any) -> Any:
        name = _string(self.resolve(argument) if isinstance(argument, dict) else argument, "Ref")
        reference = f"Ref {name}"
        if name == "AWS::NoValue":
            return NO_VALUE
        if name.startswith("AWS::"):
            if name in self.pseudo_parameters:
                return self.pseudo_parameters[name]
            raise UnresolvableReferenceError(reference, "unknown pseudo parameter")
        if name in self.template.parameters:
            return self._parameter(name, reference)
        if name in self._types:
            self._require_deployed(name, reference)
        if name in self.resources:
            return self.resources[name]
        if name not in self._types:
            raise UnresolvableReferenceError(reference, "not a parameter, pseudo parameter or resource in the template")
        naming = _NAMING.get(self._types[name])
        if not self.generate_names:
            raise UnresolvableReferenceError(reference, f"no value for {name!r} in the resource mapping")
        return self._format(naming.ref if naming else "{name}", name)

    def _parameter(self, name: str, reference: str) -> Any:
        if name in self._ssm_lookups:
            raise UnresolvableReferenceError(
                reference, f"parameter {name} is read from SSM Parameter Store; pass its value in parameters"
            )
        if name not in self._parameters:
            raise UnresolvableReferenceError(reference, f"parameter {name} has no Default and no value was given")
        return self._parameters[name]

    def _require_deployed(self, logical_id: str, reference: str) -> None:
        if logical_id in self.template.resources and not self.is_deployed(logical_id):
            condition = self.template.resources[logical_id].get("Condition")
            raise UnresolvableReferenceError(
                reference, f"{logical_id} is not deployed (condition {condition} is false)"
            )

    def _format(self, template: str, logical_id: str) -> str:
        ident = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.stack_name}/{logical_id}")
        return template.format(
            name=self.physical_name(logical_id),
            region=self.region,
            account=self.account_id,
            partition=self.partition,
            id=ident,
            id_hex=ident.hex[:17].upper(),
        )

    def _function(self, key: str, argument: Any) -> Any:  # noqa: C901, PLR0911, PLR0912 - one branch per intrinsic
        match key:
            case "Fn::GetAtt":
                return self._get_att(argument)
            case "Fn::Sub":
                return self._sub(argument)
            case "Fn::If":
                args = _list(argument, key)
                if len(args) != 3:  # condition, then, else
                    raise TemplateError(f"Fn::If takes [condition, then, else], got {args!r}")
                return self.resolve(args[1] if self.condition(_string(args[0], key)) else args[2])
            case "Fn::Equals" | "Fn::Not" | "Fn::And" | "Fn::Or":
                return self.evaluate_condition({key: argument})
            case "Fn::Join":
                delimiter, values = _pair(argument, key)
                items = _list(self.resolve(values), key)
                return _string(self.resolve(delimiter), key).join(_scalar(i, key) for i in items)
            case "Fn::Select":
                index, values = _pair(argument, key)
                items = _list(self.resolve(values), key)
                position = _int(self.resolve(index), key)
                if not 0 <= position < len(items):
                    raise TemplateError(f"Fn::Select index {position} is out of range for {items!r}")
                return items[position]
            case "Fn::Split":
                delimiter, source = _pair(argument, key)
                return _scalar(self.resolve(source), key).split(_string(self.resolve(delimiter), key))
            case "Fn::FindInMap":
                return self._find_in_map(argument)
            case "Fn::Base64":
                return base64.b64encode(_scalar(self.resolve(argument), key).encode()).decode()
            case "Fn::GetAZs":
                region = _scalar(self.resolve(argument), key) or self.region
                return [f"{region}{zone}" for zone in "abc"]
            case "Fn::Cidr":
                return self._cidr(argument)
            case "Fn::ImportValue":
                export = _scalar(self.resolve(argument), key)
                if export not in self.imports:
                    raise UnresolvableReferenceError(f"Fn::ImportValue {export}", "no such export was given")
                return self.imports[export]
            case "Fn::Length":
                return len(_list(self.resolve(argument), key))
            case "Fn::ToJsonString":
                return json.dumps(self.resolve(argument), separators=(",", ":"))
        raise TemplateError(f"unsupported intrinsic function {key}")

    def _get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        args = _list(argument, "Fn::GetAtt")
        if len(args) != 2:  # [LogicalId, Attribute]
            raise TemplateError(f"Fn::GetAtt takes [LogicalId, Attribute], got {argument!r}")
        logical_id = _string(args[0], "Fn::GetAtt")
        attribute = _scalar(self.resolve(args[1]), "Fn::GetAtt")
        return self.get_att(logical_id, attribute)

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            if len(argument) != 2:  # [string, variables]
                raise TemplateError(f"Fn::Sub takes a string or [string, {{variables}}], got {argument!r}")
            text, variables = argument[0], self.resolve(argument[1])
            if not isinstance(variables, dict):
                raise TemplateError(f"Fn::Sub variables must be a mapping, got {variables!r}")
        else:
            text, variables = argument, {}
        text = _string(text, "Fn::Sub")

        def substitute(match: re.Match[str]) -> str:
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"  # `${!Literal}` writes `${Literal}`
            name = inner.strip()
            if name in variables:
                value = variables[name]
            elif "." in name:
                logical_id, attribute = name.split(".", 1)
                value = self.get_att(logical_id, attribute)
            else:
                value = self._ref(name)
            if value is NO_VALUE or isinstance(value, (dict, list)):
                raise TemplateError(f"Fn::Sub variable ${{{name}}} does not resolve to a string: {value!r}")
            return _canonical(value)

        return _SUB_VARIABLE.sub(substitute, text)

    def _find_in_map(self, argument: Any) -> Any:
        args = _list(argument, "Fn::FindInMap")
        default: Any = NO_VALUE
        if len(args) == 4 and isinstance(args[3], dict) and "DefaultValue" in args[3]:
            default = args.pop()["DefaultValue"]
        if len(args) != 3:  # [MapName, TopLevelKey, SecondLevelKey]
            raise TemplateError(f"Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey], got {argument!r}")
        map_name, top, second = (_scalar(self.resolve(a), "Fn::FindInMap") for a in args)
        reference = f"Fn::FindInMap {map_name}.{top}.{second}"
        try:
            return self.template.mappings[map_name][top][second]
        except (KeyError, TypeError):
            if default is not NO_VALUE:
                return self.resolve(default)
            raise UnresolvableReferenceError(reference, "no such key in the template's Mappings") from None

    def _cidr(self, argument: Any) -> list[str]:
        args = _list(argument, "Fn::Cidr")
        if len(args) != 3:  # [ipBlock, count, cidrBits]
            raise TemplateError(f"Fn::Cidr takes [ipBlock, count, cidrBits], got {argument!r}")
        block = _scalar(self.resolve(args[0]), "Fn::Cidr")
        count, bits = (_int(self.resolve(a), "Fn::Cidr") for a in args[1:])
        try:
            network = ipaddress.ip_network(block, strict=False)
            subnets = network.subnets(new_prefix=network.max_prefixlen - bits)
            return [str(subnet) for subnet, _ in zip(subnets, range(count), strict=False)]
        except ValueError as exc:
            raise TemplateError(f"Fn::Cidr cannot split {block!r} into /{bits} blocks: {exc}") from exc


class _FunctionBuilder:
    """Turns one function's merged properties into a FunctionSpec."""

    def __init__(self, resolver: Resolver, logical_id: str) -> None:
        self.resolver = resolver
        self.logical_id = logical_id
        self.template = resolver.template
        self.props = self.template.function_properties(logical_id)
        condition = self.template.resources[logical_id].get("Condition")
        self.condition = None if condition is None else _string(condition, f"{logical_id}.Condition")
        self.enabled = self.condition is None or resolver.condition(self.condition)

    def build(self) -> FunctionSpec:
        r = self.resolver
        lid = self.logical_id
        name = str(r.resources.get(lid) or self._try(lambda: r.physical_name(lid), f"{r.stack_name}-{lid}"))
        arn = _LAMBDA_ARN.format(partition=r.partition, region=r.region, account=r.account_id, name=name)
        return FunctionSpec(
            logical_id=lid,
            enabled=self.enabled,
            condition=self.condition,
            disabled_reason=None if self.enabled else f"condition {self.condition} is false",
            function_name=name,
            function_arn=str(r.resources.get(f"{lid}.Arn") or arn),
            handler=self._try(lambda: _scalar(self._get("Handler", ""), f"{lid}.Handler"), ""),
            code_uri=self._try(self._code_uri, None),
            runtime=self._try(lambda: self._optional_str("Runtime"), None),
            timeout=self._try(
                lambda: _int(self._get("Timeout", _DEFAULT_TIMEOUT_S), f"{lid}.Timeout"), _DEFAULT_TIMEOUT_S
            ),
            memory_size=self._try(
                lambda: _int(self._get("MemorySize", _DEFAULT_MEMORY_MB), f"{lid}.MemorySize"), _DEFAULT_MEMORY_MB
            ),
            architectures=self._try(lambda: self._strings("Architectures", ("x86_64",)), ("x86_64",)),
            layers=self._try(lambda: self._strings("Layers", ()), ()),
            layer_dirs=tuple(self._try(self._layer_dirs, [])),
            environment=self._try(self._environment, {}),
            events=tuple(self._try(self._events, [])),
            properties=self.props,
        )

    def _try(self, compute: Callable[[], _T], fallback: _T) -> _T:
        # A function whose condition is false is never created, so CloudFormation never evaluates
        # its properties; they may well refer to other resources that do not exist either.
        if self.enabled:
            return compute()
        try:
            return compute()
        except TemplateError:
            return fallback

    def _get(self, key: str, default: Any) -> Any:
        if key not in self.props:
            return default
        value = self.resolver.resolve(self.props[key])
        return default if value is NO_VALUE else value

    def _optional_str(self, key: str) -> str | None:
        value = self._get(key, None)
        return None if value is None else _scalar(value, f"{self.logical_id}.{key}")

    def _strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        if key not in self.props:
            return default
        return tuple(_scalar(item, f"{self.logical_id}.{key}") for item in _list(self._get(key, []), key))

    def _code_uri(self) -> Path | None:
        code_uri = self._get("CodeUri", None)
        # s3:// URIs and {Bucket, Key} objects are deployed artifacts, not importable directories.
        if not isinstance(code_uri, str) or code_uri.startswith("s3://"):
            return None
        return (self.template.base_dir / code_uri).resolve()

    def _layer_dirs(self) -> list[Path]:
        dirs = []
        for layer in self.props.get("Layers") or []:
            if not (isinstance(layer, dict) and set(layer) == {"Ref"}):
                continue
            resource = self.template.resources.get(str(layer["Ref"])) or {}
            if resource.get("Type") not in {"AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"}:
                continue
            content = self.resolver.resolve((resource.get("Properties") or {}).get("ContentUri"))
            if isinstance(content, str) and not content.startswith("s3://"):
                root = (self.template.base_dir / content).resolve()
                # A built layer holds its modules under python/; a SAM source dir holds them at the top.
                dirs.append(root / "python" if (root / "python").is_dir() else root)
        return dirs

    def _environment(self) -> dict[str, str]:
        environment = self._get("Environment", {})
        variables = (environment.get("Variables") if isinstance(environment, dict) else None) or {}
        if not isinstance(variables, dict):
            raise TemplateError(f"{self.logical_id}: Environment.Variables must be a mapping")
        env = {}
        for key, value in variables.items():
            if isinstance(value, (dict, list)):
                raise TemplateError(f"{self.logical_id}: environment variable {key} resolves to {value!r}")
            env[str(key)] = _canonical(value)
        return env

    def _events(self) -> list[EventSource]:
        sources = []
        for name, event in (self.props.get("Events") or {}).items():
            if not isinstance(event, dict):
                raise TemplateError(f"{self.logical_id}: event {name} must be a mapping")
            kind = event.get("Type")
            if kind in PATTERN_EVENT_TYPES or kind in SCHEDULE_EVENT_TYPES:
                sources.append(self._event(str(name), str(kind), self.resolver.resolve(event.get("Properties") or {})))
            elif kind == SNS_EVENT_TYPE:
                sources.append(self._sns_event(str(name), self.resolver.resolve(event.get("Properties") or {})))
        return sources

    def _sns_event(self, name: str, props: dict[str, Any]) -> EventSource:
        """SAM's `Type: SNS`: the function subscribed to `Topic`, with an optional FilterPolicy."""
        topic = props.get("Topic")
        if not isinstance(topic, str) or not topic.startswith("arn:"):
            raise TemplateError(f"{self.logical_id}.Events.{name}: Topic must resolve to a topic ARN, not {topic!r}")
        policy = props.get("FilterPolicy")
        if policy is not None and not isinstance(policy, dict):
            raise TemplateError(f"{self.logical_id}.Events.{name}: FilterPolicy must be a mapping")
        scope = str(props.get("FilterPolicyScope") or "MessageAttributes")
        if scope not in {"MessageAttributes", "MessageBody"}:
            raise TemplateError(f"{self.logical_id}.Events.{name}: FilterPolicyScope {scope!r} is not one SNS knows")
        rule_id = f"{self.logical_id}{name}"
        return EventSource(
            name=name,
            type=SNS_EVENT_TYPE,
            rule_logical_id=rule_id,
            rule_name=rule_id,
            # What Ref on an AWS::SNS::Subscription returns: the subscription ARN (topic ARN plus an id).
            rule_arn=str(self.resolver.resources.get(rule_id) or f"{topic}:{uuid.uuid5(uuid.NAMESPACE_URL, rule_id)}"),
            topic_arn=topic,
            filter_policy=policy,
            filter_policy_scope=scope,
            properties=props,
        )

    def _event(self, name: str, kind: str, props: dict[str, Any]) -> EventSource:
        r = self.resolver
        rule_id = f"{self.logical_id}{name}"
        bus = str(props.get("EventBusName") or "default")
        bus = bus.rsplit("event-bus/", 1)[-1]  # an ARN names the same bus
        explicit = props.get("Name" if kind in SCHEDULE_EVENT_TYPES else "RuleName")
        rule_name = str(r.resources.get(rule_id) or explicit or f"{r.stack_name}-{rule_id}"[:_NAME_LIMIT])
        if kind == "ScheduleV2":
            group = props.get("GroupName") or "default"
            arn = f"arn:{r.partition}:scheduler:{r.region}:{r.account_id}:schedule/{group}/{rule_name}"
        else:
            path = rule_name if bus == "default" else f"{bus}/{rule_name}"
            arn = f"arn:{r.partition}:events:{r.region}:{r.account_id}:rule/{path}"
        state = str(props.get("State", "ENABLED")).upper()
        enabled = state != "DISABLED" and _canonical(props.get("Enabled", True)).lower() != "false"
        pattern = props.get("Pattern")
        if pattern is not None and not isinstance(pattern, dict):
            raise TemplateError(f"{self.logical_id}.Events.{name}: Pattern must be a mapping")
        schedule = props.get("ScheduleExpression" if kind == "ScheduleV2" else "Schedule")
        transformer = props.get("InputTransformer")
        return EventSource(
            name=name,
            type=kind,
            rule_logical_id=rule_id,
            rule_name=rule_name,
            rule_arn=str(r.resources.get(f"{rule_id}.Arn") or arn),
            enabled=enabled,
            pattern=pattern if kind in PATTERN_EVENT_TYPES else None,
            schedule=None if schedule is None else str(schedule),
            event_bus_name=bus,
            input=None if props.get("Input") is None else str(props["Input"]),
            input_path=None if props.get("InputPath") is None else str(props["InputPath"]),
            input_transformer=transformer if isinstance(transformer, dict) else None,
            properties=props,
        )


# --- small helpers ------------------------------------------------------------------------------


def _canonical(value: Any) -> str:
    """How CloudFormation spells a scalar as a string (booleans lower-case, as written in YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _scalar(value: Any, where: str) -> str:
    if value is NO_VALUE or value is None or isinstance(value, (dict, list)):
        raise TemplateError(f"{where} needs a string here, got {value!r}")
    return _canonical(value)


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise TemplateError(f"{where} needs a name (string), got {value!r}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise TemplateError(f"{where} needs a list, got {value!r}")
    return list(value)


def _pair(value: Any, where: str) -> tuple[Any, Any]:
    items = _list(value, where)
    if len(items) != 2:  # these intrinsics take exactly two arguments
        raise TemplateError(f"{where} takes two arguments, got {items!r}")
    return items[0], items[1]


def _int(value: Any, where: str) -> int:
    text = _scalar(value, where)
    try:
        return int(text)
    except ValueError:
        raise TemplateError(f"{where} needs an integer, got {value!r}") from None
