"""The sandbox's SAM template reader: short-form tags, Globals, intrinsic resolution and function specs."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from sandbox.lambdas.template import (
    NO_VALUE,
    Resolver,
    SamTemplate,
    TemplateError,
    UnresolvableReferenceError,
    load_template,
    merge_globals,
    parse_yaml,
)

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_TEMPLATE = FIXTURES / "template.yaml"
RESOURCES = {
    "Table": "sandbox-table",
    "Table.Arn": "arn:aws:dynamodb:us-east-1:123456789012:table/sandbox-table",
    "Topic": "arn:aws:sns:us-east-1:123456789012:sandbox-topic",
}


def template_from(yaml_text: str) -> SamTemplate:
    return SamTemplate(parse_yaml(textwrap.dedent(yaml_text)))


def resolver_for(resources_yaml: str = "", **kwargs: Any) -> Resolver:
    """A resolver over a small template with parameters, conditions, mappings and a few resources."""
    template = template_from(
        """
        Parameters:
          Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
          Repo: {Type: String}
          Subnets: {Type: CommaDelimitedList, Default: "a, b,c"}
          Size: {Type: Number, Default: 3}
        Conditions:
          IsProd: !Equals [!Ref Stage, prod]
          IsDev: !Not [!Condition IsProd]
          DevAndSmall: !And [!Condition IsDev, !Equals [!Ref Size, 3]]
          ProdOrSmall: !Or [!Condition IsProd, !Equals [3, !Ref Size]]
        Mappings:
          Sizes: {dev: {memory: 256}, prod: {memory: 1024}}
        Resources:
          Table: {Type: AWS::DynamoDB::Table}
          Bucket: {Type: AWS::S3::Bucket}
          Queue: {Type: AWS::SQS::Queue, Properties: {QueueName: !Sub "${AWS::StackName}-jobs"}}
          ProdTable: {Type: AWS::DynamoDB::Table, Condition: IsProd}
          Custom: {Type: Custom::Thing}
        """
        + textwrap.dedent(resources_yaml)
    )
    return Resolver(template, **kwargs)


# --- YAML ---------------------------------------------------------------------------------------

SHORT_FORMS = [
    ("!Ref Stage", {"Ref": "Stage"}),
    ("!GetAtt Table.Arn", {"Fn::GetAtt": ["Table", "Arn"]}),
    ("!GetAtt Db.Endpoint.Address", {"Fn::GetAtt": ["Db", "Endpoint.Address"]}),
    ("!GetAtt [Table, Arn]", {"Fn::GetAtt": ["Table", "Arn"]}),
    ("!Sub 'x-${AWS::Region}'", {"Fn::Sub": "x-${AWS::Region}"}),
    ("!Sub ['${A}', {A: !Ref B}]", {"Fn::Sub": ["${A}", {"A": {"Ref": "B"}}]}),
    ("!If [C, a, b]", {"Fn::If": ["C", "a", "b"]}),
    ("!Equals [a, b]", {"Fn::Equals": ["a", "b"]}),
    ("!Not [!Condition C]", {"Fn::Not": [{"Condition": "C"}]}),
    ("!And [!Condition A, !Condition B]", {"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]}),
    ("!Or [!Condition A, !Condition B]", {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}),
    ("!Select [0, !Split [',', 'a,b']]", {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}),
    ("!Join ['-', [a, b]]", {"Fn::Join": ["-", ["a", "b"]]}),
    ("!FindInMap [M, a, b]", {"Fn::FindInMap": ["M", "a", "b"]}),
    ("!ImportValue shared-vpc", {"Fn::ImportValue": "shared-vpc"}),
    ("!Base64 hello", {"Fn::Base64": "hello"}),
    ("!Cidr [10.0.0.0/16, 2, 8]", {"Fn::Cidr": ["10.0.0.0/16", 2, 8]}),
    ("!GetAZs ''", {"Fn::GetAZs": ""}),
    ("!Condition IsProd", {"Condition": "IsProd"}),
]


@pytest.mark.parametrize(("short", "long"), SHORT_FORMS, ids=[s for s, _ in SHORT_FORMS])
def test_short_form_tags_become_long_form(short: str, long: dict[str, Any]) -> None:
    # Given a value written with a short-form tag
    # When the template is parsed
    body = parse_yaml(f"Value: {short}\n")
    # Then it reads exactly like the long form cfn-lint and samtranslator see
    assert body["Value"] == long


def test_yaml_oddities_follow_cloudformation() -> None:
    # Given an unquoted template version date and a JSON-style body
    # When parsed
    body = parse_yaml("AWSTemplateFormatVersion: 2010-09-09\nResources: {}\n")
    # Then the date stays the string CloudFormation reads
    assert body["AWSTemplateFormatVersion"] == "2010-09-09"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A: 1\nA: 2\n", "duplicate key 'A'"),
        ("Value: !Bogus x\n", "unknown tag !Bogus"),
        ("- a\n- b\n", "mapping at the top level"),
        ("A: [unclosed\n", "not valid YAML"),
    ],
    ids=["duplicate key", "unknown tag", "not a mapping", "broken yaml"],
)
def test_malformed_templates_are_rejected(text: str, message: str) -> None:
    # Given template text CloudFormation would refuse
    # When parsed / Then the error says why
    with pytest.raises(TemplateError, match=message):
        parse_yaml(text)


# --- Globals --------------------------------------------------------------------------------------


def test_globals_merge_the_sam_way() -> None:
    # Given Globals and a function that both set primitives, maps, lists and Architectures
    globals_function: dict[str, Any] = {
        "Timeout": 10,
        "Layers": ["arn:layer:a"],
        "Architectures": ["x86_64"],
        "Environment": {"Variables": {"A": "global", "B": "global"}},
        "Tags": {"team": "x"},
    }
    function: dict[str, Any] = {
        "Timeout": 30,
        "Layers": [{"Ref": "Shared"}],
        "Architectures": ["arm64"],
        "Environment": {"Variables": {"B": "function", "C": "function"}},
        "Tags": {"Fn::If": ["C", {"a": "b"}, {"Ref": "AWS::NoValue"}]},
    }
    # When merged
    merged = merge_globals(globals_function, function)
    # Then primitives are overridden, maps merge key by key, lists concatenate (global first),
    # Architectures is replaced, and an intrinsic counts as a primitive
    assert merged["Timeout"] == 30
    assert merged["Environment"] == {"Variables": {"A": "global", "B": "function", "C": "function"}}
    assert merged["Layers"] == ["arn:layer:a", {"Ref": "Shared"}]
    assert merged["Architectures"] == ["arm64"]
    assert merged["Tags"] == function["Tags"]
    assert globals_function["Environment"]["Variables"] == {"A": "global", "B": "global"}  # inputs untouched


def test_globals_sam_would_refuse_are_refused() -> None:
    # Given Globals.Function with a property SAM does not take from Globals
    template = template_from(
        """
        Globals:
          Function: {Timeout: 10, FunctionName: shared}
        Resources:
          Fn: {Type: AWS::Serverless::Function, Properties: {Handler: app.handler}}
        """
    )
    # When the function is read / Then the error names the property, as `sam deploy` would
    with pytest.raises(TemplateError, match="'FunctionName' is not a supported property of 'Function'"):
        template.function_properties("Fn")


def test_fixture_functions_take_globals_and_override_them() -> None:
    # Given the fixture template
    template = load_template(FIXTURE_TEMPLATE)
    # When its functions are resolved
    specs = {spec.logical_id: spec for spec in template.functions(Resolver(template, resources=RESOURCES))}
    # Then unset properties come from Globals and set ones override them
    on_push, on_build = specs["OnPush"], specs["OnBuild"]
    assert (on_push.timeout, on_push.memory_size) == (30, 512)
    assert (on_build.timeout, on_build.memory_size) == (10, 256)
    assert on_build.handler == "router_fixture_fn.app.record"
    assert specs["Exploder"].handler == "router_fixture_fn.app.explode"
    assert on_push.runtime == "python3.11"
    assert on_push.architectures == ("arm64",)
    assert on_push.code_uri == (FIXTURES / "fn").resolve()
    # And Environment.Variables merge key by key
    assert on_push.environment["FIXTURE_SCOPE"] == "function"
    assert on_build.environment["FIXTURE_SCOPE"] == "globals"
    assert on_push.environment["FIXTURE_LOG_LEVEL"] == on_build.environment["FIXTURE_LOG_LEVEL"] == "INFO"


# --- environment resolution ----------------------------------------------------------------------


def test_environment_resolves_parameters_resources_and_sub() -> None:
    # Given the fixture, a stack name and the physical names the sandbox created
    template = load_template(FIXTURE_TEMPLATE)
    resolver = Resolver(template, resources=RESOURCES, stack_name="sandbox", region="eu-west-1")
    # When OnPush is resolved
    env = resolver.function("OnPush").environment
    # Then Ref to a parameter gives its default, Ref/GetAtt to a resource come from the mapping,
    # and Sub fills in resources, pseudo parameters and parameters
    assert env["FIXTURE_STAGE"] == "dev"
    assert env["FIXTURE_TABLE"] == "sandbox-table"
    assert env["FIXTURE_TABLE_ARN"] == RESOURCES["Table.Arn"]
    assert env["FIXTURE_TOPIC"] == f"{RESOURCES['Topic']}|eu-west-1|dev|sandbox"
    # And an If that yields AWS::NoValue removes the variable altogether
    assert "FIXTURE_PROD_ONLY" not in env


def test_parameter_overrides_change_values_and_conditions() -> None:
    # Given the fixture with Stage overridden to prod
    template = load_template(FIXTURE_TEMPLATE)
    resolver = Resolver(template, parameters={"Stage": "prod", "LogLevel": "DEBUG"}, resources=RESOURCES)
    # When its functions are resolved
    specs = {spec.logical_id: spec for spec in template.functions(resolver)}
    # Then the override reaches the environment, the If branch and the conditional function
    assert specs["OnPush"].environment["FIXTURE_STAGE"] == "prod"
    assert specs["OnPush"].environment["FIXTURE_LOG_LEVEL"] == "DEBUG"
    assert specs["OnPush"].environment["FIXTURE_PROD_ONLY"] == "yes-prod"
    assert specs["ProdAudit"].enabled


def test_a_function_whose_condition_is_false_is_disabled() -> None:
    # Given the fixture at its default Stage (dev)
    template = load_template(FIXTURE_TEMPLATE)
    # When resolved
    audit = Resolver(template, resources=RESOURCES).function("ProdAudit")
    # Then it is exposed, but as not deployed and why
    assert not audit.enabled
    assert audit.condition == "IsProd"
    assert audit.disabled_reason == "condition IsProd is false"


def test_event_sources_are_modelled() -> None:
    # Given the fixture
    template = load_template(FIXTURE_TEMPLATE)
    # When OnPush and OnBuild are resolved under a stack name
    resolver = Resolver(template, stack_name="sandbox")
    on_push, on_build = resolver.function("OnPush"), resolver.function("OnBuild")
    # Then rules carry their pattern, SAM's logical id, a rule name and ARN, and schedules their expression
    push = on_push.event("Push")
    assert push.type == "EventBridgeRule"
    assert push.pattern is not None
    assert push.pattern["detail"]["referenceType"] == ["branch"]
    assert push.rule_logical_id == "OnPushPush"
    assert push.rule_arn == "arn:aws:events:us-east-1:123456789012:rule/sandbox-OnPushPush"
    assert push.event_bus_name == "default"
    assert [e.name for e in on_push.schedules] == ["Nightly"]
    assert on_push.event("Nightly").schedule == "cron(0 3 * * ? *)"
    assert [e.type for e in on_build.pattern_rules] == ["CloudWatchEvent"]
    assert on_push.function_name == "sandbox-OnPush"
    assert on_push.function_arn == "arn:aws:lambda:us-east-1:123456789012:function:sandbox-OnPush"
    with pytest.raises(KeyError, match="no EventBridge/Schedule event named 'Nope'"):
        on_push.event("Nope")


def test_function_properties_shape_the_spec(tmp_path: Path) -> None:
    # Given a function with an explicit name, a local layer, a disabled rule on a custom bus and a ScheduleV2
    (tmp_path / "layer" / "python").mkdir(parents=True)
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent(
            """
            Resources:
              Bus: {Type: AWS::Events::EventBus, Properties: {Name: pipeline-bus}}
              Shared: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: layer/}}
              Fn:
                Type: AWS::Serverless::Function
                Properties:
                  FunctionName: !Sub "${AWS::StackName}-named"
                  CodeUri: src/
                  Handler: app.handler
                  Layers: [!Ref Shared]
                  Events:
                    OnBus:
                      Type: EventBridgeRule
                      Properties:
                        EventBusName: !Ref Bus
                        RuleName: on-bus
                        State: DISABLED
                        Pattern: {source: [custom]}
                    Hourly:
                      Type: ScheduleV2
                      Properties: {ScheduleExpression: rate(1 hour), Name: hourly, GroupName: jobs}
            """
        )
    )
    template = load_template(tmp_path / "template.yaml")
    # When resolved
    spec = Resolver(template, stack_name="st").function("Fn")
    # Then the name, defaults, layer directory and event details follow the template
    assert spec.function_name == "st-named"
    assert (spec.timeout, spec.memory_size, spec.architectures) == (3, 128, ("x86_64",))
    assert spec.layers == ("arn:aws:lambda:us-east-1:123456789012:layer:st-Shared:1",)
    assert spec.layer_dirs == ((tmp_path / "layer" / "python").resolve(),)
    on_bus = spec.event("OnBus")
    assert (on_bus.enabled, on_bus.event_bus_name, on_bus.rule_name) == (False, "pipeline-bus", "on-bus")
    assert on_bus.rule_arn == "arn:aws:events:us-east-1:123456789012:rule/pipeline-bus/on-bus"
    hourly = spec.event("Hourly")
    assert (hourly.schedule, hourly.is_schedule) == ("rate(1 hour)", True)
    assert hourly.rule_arn == "arn:aws:scheduler:us-east-1:123456789012:schedule/jobs/hourly"


# --- the resolver ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Ref": "Stage"}, "dev"),
        ({"Ref": "Size"}, "3"),
        ({"Ref": "Subnets"}, ["a", "b", "c"]),
        ({"Ref": "AWS::Region"}, "us-east-1"),
        ({"Ref": "AWS::AccountId"}, "123456789012"),
        ({"Ref": "AWS::Partition"}, "aws"),
        ({"Ref": "AWS::StackName"}, "codereflex"),
        ({"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
        ({"Fn::Sub": "${AWS::StackName}-${Stage}-${!Literal}"}, "codereflex-dev-${Literal}"),
        ({"Fn::Sub": ["${Stage}/${Name}", {"Name": {"Ref": "Stage"}, "Stage": "var-wins"}]}, "var-wins/dev"),
        ({"Fn::Sub": "${Table}:${Table.Arn}"}, "mapped-table:arn:mapped"),
        ({"Fn::Join": ["-", ["a", {"Ref": "Stage"}, 3]]}, "a-dev-3"),
        ({"Fn::Join": [",", {"Ref": "Subnets"}]}, "a,b,c"),
        ({"Fn::Select": ["1", {"Ref": "Subnets"}]}, "b"),
        ({"Fn::Split": ["/", "x/y/z"]}, ["x", "y", "z"]),
        ({"Fn::Select": [1, {"Fn::Split": [":", {"Fn::GetAtt": ["Table", "Arn"]}]}]}, "mapped"),
        ({"Fn::If": ["IsProd", "p", "d"]}, "d"),
        ({"Fn::If": ["IsDev", {"Ref": "Stage"}, {"Ref": "Repo"}]}, "dev"),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "memory"]}, 256),
        ({"Fn::FindInMap": ["Sizes", "test", "memory", {"DefaultValue": 128}]}, 128),
        ({"Fn::Base64": "hello"}, "aGVsbG8="),
        ({"Fn::GetAZs": ""}, ["us-east-1a", "us-east-1b", "us-east-1c"]),
        ({"Fn::Cidr": ["10.0.0.0/16", 2, 8]}, ["10.0.0.0/24", "10.0.1.0/24"]),
        ({"Fn::ImportValue": "shared-vpc"}, "vpc-123"),
        ({"Fn::Length": [1, 2, {"Ref": "AWS::NoValue"}]}, 2),
        ({"Fn::ToJsonString": {"a": {"Ref": "Stage"}}}, '{"a":"dev"}'),
        ({"Fn::Equals": [{"Ref": "Size"}, 3]}, True),
        ([1, {"Ref": "AWS::NoValue"}, 2], [1, 2]),
        ({"Keep": 1, "Drop": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]}}, {"Keep": 1}),
        ({"Ref": "AWS::NoValue"}, NO_VALUE),
        ({"Ref": "Table"}, "mapped-table"),
        ({"Fn::GetAtt": ["Table", "Arn"]}, "arn:mapped"),
        ({"Fn::GetAtt": "Table.Arn"}, "arn:mapped"),
    ],
)
def test_intrinsics_resolve(expression: Any, expected: Any) -> None:
    # Given a resolver with a resource mapping and an import
    resolver = resolver_for(
        resources={"Table": "mapped-table", "Table.Arn": "arn:mapped"}, imports={"shared-vpc": "vpc-123"}
    )
    # When the expression is resolved / Then it has the value CloudFormation would give it
    assert resolver.resolve(expression) == expected


def test_conditions_evaluate_and_combine() -> None:
    # Given the resolver's Conditions at the defaults / When evaluated / Then And, Or, Not and Condition compose
    resolver = resolver_for()
    assert (resolver.condition("IsProd"), resolver.condition("IsDev")) == (False, True)
    assert resolver.condition("DevAndSmall") is True
    assert resolver.condition("ProdOrSmall") is True
    # And a parameter override flips them
    prod = resolver_for(parameters={"Stage": "prod"})
    assert (prod.condition("IsProd"), prod.condition("DevAndSmall")) == (True, False)


def test_resources_missing_from_the_mapping_get_cloudformation_style_names() -> None:
    # Given no resource mapping and a stack name
    resolver = resolver_for(stack_name="Demo")
    # When resources are referenced / Then Ref and GetAtt give the names CloudFormation would generate
    assert resolver.resolve({"Ref": "Table"}) == "Demo-Table"
    assert (
        resolver.resolve({"Fn::GetAtt": ["Table", "Arn"]}) == "arn:aws:dynamodb:us-east-1:123456789012:table/Demo-Table"
    )
    assert resolver.resolve({"Ref": "Bucket"}) == "demo-bucket"
    assert resolver.resolve({"Ref": "Queue"}) == "https://sqs.us-east-1.amazonaws.com/123456789012/Demo-jobs"
    assert resolver.resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == "arn:aws:sqs:us-east-1:123456789012:Demo-jobs"


def test_sam_generated_resources_can_be_referenced() -> None:
    # Given a function with an EventBridge rule and no Role
    template = template_from(
        """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Handler: a.b
              Events: {Push: {Type: EventBridgeRule, Properties: {Pattern: {source: [x]}}}}
        """
    )
    resolver = Resolver(template, stack_name="st")
    # When the role and rule SAM generates are referenced / Then they resolve like declared resources
    assert resolver.resolve({"Fn::GetAtt": ["FnRole", "Arn"]}) == "arn:aws:iam::123456789012:role/st-FnRole"
    assert resolver.resolve({"Ref": "FnPush"}) == "st-FnPush"
    assert resolver.resolve({"Ref": "Fn"}) == "st-Fn"


@pytest.mark.parametrize(
    ("expression", "kwargs", "reference", "reason"),
    [
        ({"Ref": "Repo"}, {}, "Ref Repo", "parameter Repo has no Default and no value was given"),
        ({"Ref": "Nope"}, {}, "Ref Nope", "not a parameter, pseudo parameter or resource"),
        ({"Ref": "AWS::Nope"}, {}, "Ref AWS::Nope", "unknown pseudo parameter"),
        ({"Fn::Sub": "x-${Nope}"}, {}, "Ref Nope", "not a parameter"),
        ({"Fn::Sub": "x-${Nope.Arn}"}, {}, "Fn::GetAtt Nope.Arn", "not a resource in the template"),
        ({"Fn::GetAtt": ["Table", "Bogus"]}, {}, "Fn::GetAtt Table.Bogus", "no value for 'Table.Bogus'"),
        ({"Fn::GetAtt": ["Custom", "Value"]}, {}, "Fn::GetAtt Custom.Value", "no value for 'Custom.Value'"),
        ({"Ref": "Table"}, {"generate_names": False}, "Ref Table", "no value for 'Table' in the resource mapping"),
        ({"Ref": "ProdTable"}, {}, "Ref ProdTable", "ProdTable is not deployed (condition IsProd is false)"),
        ({"Fn::FindInMap": ["Sizes", "qa", "memory"]}, {}, "Fn::FindInMap Sizes.qa.memory", "no such key"),
        ({"Fn::ImportValue": "other-stack-export"}, {}, "Fn::ImportValue other-stack-export", "no such export"),
        ({"Fn::If": ["Unknown", 1, 2]}, {}, "Condition Unknown", "no such condition"),
    ],
)
def test_unresolvable_references_raise_naming_the_reference(
    expression: Any, kwargs: dict[str, Any], reference: str, reason: str
) -> None:
    # Given a resolver that has no value for something the expression needs
    resolver = resolver_for(**kwargs)
    # When resolved
    with pytest.raises(UnresolvableReferenceError) as raised:
        resolver.resolve(expression)
    # Then the error names the reference and why, instead of quietly yielding None
    assert raised.value.reference == reference
    assert reason in str(raised.value)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ({"Fn::Bogus": 1}, "unsupported intrinsic function Fn::Bogus"),
        ({"Fn::Select": [5, ["a"]]}, "out of range"),
        ({"Fn::Select": ["x", ["a"]]}, "needs an integer"),
        ({"Fn::Join": ["-", "not-a-list"]}, "Fn::Join needs a list"),
        ({"Fn::Sub": "${Subnets}"}, "does not resolve to a string"),
        ({"Fn::If": ["IsProd", 1]}, "Fn::If takes"),
        ({"Fn::Equals": ["a"]}, "Fn::Equals takes two values"),
    ],
)
def test_malformed_intrinsics_raise_template_errors(expression: Any, message: str) -> None:
    # Given a malformed intrinsic / When resolved / Then a TemplateError explains it
    with pytest.raises(TemplateError, match=message):
        resolver_for().resolve(expression)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"Stage": "qa"}, "Stage='qa' is not one of its AllowedValues"),
        ({"Unknown": "x"}, "parameters not declared in the template: Unknown"),
        ({"Size": "many"}, "Size is a Number"),
    ],
)
def test_bad_parameter_values_are_rejected(parameters: dict[str, Any], message: str) -> None:
    # Given parameter values CloudFormation would refuse / When the resolver is built / Then it says why
    with pytest.raises(TemplateError, match=message):
        resolver_for(parameters=parameters)


def test_condition_cycles_are_reported() -> None:
    # Given two conditions that refer to each other
    template = template_from(
        """
        Conditions:
          A: !Not [!Condition B]
          B: !Not [!Condition A]
        """
    )
    # When one is evaluated / Then the cycle is named instead of recursing forever
    with pytest.raises(TemplateError, match="cycle: A -> B -> A"):
        Resolver(template).condition("A")


def test_a_resolver_must_match_its_template() -> None:
    # Given two templates / When one's functions are resolved with the other's resolver / Then it refuses
    first, second = template_from("Resources: {}"), template_from("Resources: {}")
    with pytest.raises(TemplateError, match="different template"):
        first.functions(Resolver(second))


def test_ssm_typed_parameters_must_be_given() -> None:
    # Given a parameter whose default names an SSM parameter CloudFormation would look up
    template = template_from(
        """
        Parameters:
          Ami: {Type: "AWS::SSM::Parameter::Value<String>", Default: /codereflex/ami}
        """
    )
    # When it is referenced without a value / Then the sandbox says it cannot do the lookup
    with pytest.raises(UnresolvableReferenceError, match="read from SSM Parameter Store"):
        Resolver(template).resolve({"Ref": "Ami"})
    # And a given value is used as is
    assert Resolver(template, parameters={"Ami": "ami-123"}).resolve({"Ref": "Ami"}) == "ami-123"


def test_yaml_anchors_and_merge_keys_still_work() -> None:
    # Given a template that reuses a mapping through an anchor and a merge key
    body = parse_yaml("Base: &base {A: 1, B: 1}\nUse: {<<: *base, B: 2}\n")
    # When parsed / Then the merge applies and is not mistaken for a duplicate key
    assert body["Use"] == {"A": 1, "B": 2}
