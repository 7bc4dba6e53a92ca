"""In-process stand-in for EventBridge -> Lambda: matches events to the template's rules and runs the handlers."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import functools
import importlib
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Final, cast

from moto.sns.utils import FilterPolicyMatcher

from sandbox.aws.envelope import envelope, stamp
from sandbox.lambdas.eventpattern import EventPattern, EventPatternError
from sandbox.lambdas.template import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    EventSource,
    FunctionSpec,
    Resolver,
    SamTemplate,
    TemplateError,
    load_template,
)

__all__ = [
    "FunctionNotDeployedError",
    "HandlerImportError",
    "Invocation",
    "MarshalError",
    "Router",
    "RouterError",
    "SandboxLambdaContext",
    "UnknownFunctionError",
    "event_from_entry",
    "sns_event",
    "target_input",
]

Handler = Callable[[Any, Any], Any]

# os.environ and sys.path belong to the whole process, so one lock serves every Router. It is
# re-entrant so a handler that synchronously invokes another function through the sandbox (a
# Lambda Invoke served by the same process) does not deadlock on itself.
_PROCESS_LOCK: Final = threading.RLock()
_PLACEHOLDER: Final = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_JSON_PATH_STEP: Final = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\[['\"](.+?)['\"]\]")


class RouterError(Exception):
    """The sandbox cannot do what was asked (as opposed to a handler failing)."""


class UnknownFunctionError(RouterError, LookupError):
    """No AWS::Serverless::Function with that logical id."""


class FunctionNotDeployedError(RouterError):
    """The function's Condition is false, so CloudFormation would not have created it."""


class HandlerImportError(RouterError):
    """Lambda's Runtime.ImportModuleError / HandlerNotFound: the Handler cannot be loaded from CodeUri."""


class MarshalError(TypeError):
    """Lambda's Runtime.MarshalError: the handler returned something that is not JSON."""


@dataclass
class SandboxLambdaContext:
    """The `context` Lambda's Python runtime passes a handler, with a deadline from the template's Timeout."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    timeout_ms: int
    identity: Any = None
    client_context: Any = None
    started: float = field(default_factory=time.monotonic, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        elapsed_ms = (time.monotonic() - self.started) * 1000
        return max(0, int(self.timeout_ms - elapsed_ms))


@dataclass(frozen=True)
class Invocation:
    """One delivery of an event to one function, and what came of it."""

    logical_id: str
    function_name: str
    request_id: str
    event: Any
    rule: str | None = None
    result: Any = None
    error: Exception | None = None
    duration_ms: float = 0.0
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class Router:
    """Routes events to a SAM template's functions and runs their handlers in this process.

    Lambda semantics kept: each matching rule invokes its target independently (one failure does
    not stop the others, and a function with two matching rules runs twice); the payload is the
    event as JSON, shaped by the rule's Input/InputPath/InputTransformer; the handler sees its
    CodeUri on sys.path, its Environment (plus Lambda's reserved variables) in os.environ, and a
    context whose remaining time counts down from Timeout. Not kept: isolation. Handlers share this
    interpreter, so imported modules stay warm between invocations (see `cold_start`), a timeout is
    only reported (`Invocation.timed_out`), never enforced, and invocations are serialised because
    os.environ is process-wide.
    """

    def __init__(self, template: SamTemplate, resolver: Resolver | None = None) -> None:
        self.template = template
        self.resolver = resolver or Resolver(template)
        self._functions = {spec.logical_id: spec for spec in template.functions(self.resolver)}
        self._patterns = self._compile_patterns()
        self._handlers: dict[str, Handler] = {}
        # Each function's configuration (environment) when its handler was imported: Lambda starts new
        # execution environments when a function's configuration changes, so the router does too.
        self._configured: dict[str, dict[str, str]] = {}

    @classmethod
    def from_template(
        cls,
        path: str | Path,
        *,
        parameters: Mapping[str, Any] | None = None,
        resources: Mapping[str, Any] | None = None,
        imports: Mapping[str, Any] | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        generate_names: bool = True,
    ) -> Router:
        """Load `path` and resolve it with these parameter values and physical resource names."""
        template = load_template(path)
        resolver = Resolver(
            template,
            parameters=parameters,
            resources=resources,
            imports=imports,
            stack_name=stack_name,
            region=region,
            account_id=account_id,
            generate_names=generate_names,
        )
        return cls(template, resolver)

    # - the template's functions --------------------------------------------------------------

    @property
    def functions(self) -> list[FunctionSpec]:
        """Every function in template order, disabled ones included (`enabled=False`)."""
        return list(self._functions.values())

    @property
    def enabled_functions(self) -> list[FunctionSpec]:
        return [spec for spec in self._functions.values() if spec.enabled]

    @property
    def disabled_functions(self) -> list[FunctionSpec]:
        return [spec for spec in self._functions.values() if not spec.enabled]

    def function(self, logical_id: str) -> FunctionSpec:
        try:
            return self._functions[logical_id]
        except KeyError:
            known = ", ".join(self._functions) or "none"
            raise UnknownFunctionError(f"no function {logical_id!r} in the template (functions: {known})") from None

    # - EventBridge ---------------------------------------------------------------------------

    def match_rules(
        self, event: Mapping[str, Any], *, event_bus_name: str = "default"
    ) -> list[tuple[FunctionSpec, EventSource]]:
        """Every enabled (function, rule) pair on `event_bus_name` whose pattern matches `event`."""
        return [
            (spec, rule)
            for spec in self.enabled_functions
            for rule in spec.pattern_rules
            if rule.enabled
            and rule.event_bus_name == event_bus_name
            and self._patterns[(spec.logical_id, rule.name)].matches(event)
        ]

    def match(self, event: Mapping[str, Any], *, event_bus_name: str = "default") -> list[FunctionSpec]:
        """The enabled functions with at least one rule matching `event`, in template order."""
        matched: dict[str, FunctionSpec] = {}
        for spec, _ in self.match_rules(event, event_bus_name=event_bus_name):
            matched.setdefault(spec.logical_id, spec)
        return list(matched.values())

    def route(
        self,
        event: Mapping[str, Any],
        *,
        event_bus_name: str = "default",
        env_overrides: Mapping[str, str] | None = None,
    ) -> list[Invocation]:
        """Deliver `event` like EventBridge: invoke every matching rule's target, recording each outcome."""
        event = _as_json(event)
        invocations = []
        for spec, rule in self.match_rules(event, event_bus_name=event_bus_name):
            try:
                payload = target_input(rule, event)
            except RouterError as exc:
                invocations.append(_failed(spec, event, rule.name, exc))
                continue
            invocations.append(self._run(spec, payload, env_overrides=env_overrides, rule=rule.name))
        return invocations

    def put_events(
        self, entries: Iterable[Mapping[str, Any]], *, env_overrides: Mapping[str, str] | None = None
    ) -> list[Invocation]:
        """Route PutEvents entries (Source, DetailType, Detail, EventBusName...) as EventBridge would."""
        invocations = []
        for entry in entries:
            event = event_from_entry(entry, region=self.resolver.region, account_id=self.resolver.account_id)
            bus = str(entry.get("EventBusName") or "default").rsplit("event-bus/", 1)[-1]
            invocations.extend(self.route(event, event_bus_name=bus, env_overrides=env_overrides))
        return invocations

    # - SNS -----------------------------------------------------------------------------------

    def sns_subscribers(
        self, topic_arn: str, attributes: Mapping[str, Mapping[str, str]] | None = None, message: str = ""
    ) -> list[tuple[FunctionSpec, EventSource]]:
        """Every enabled (function, subscription) on `topic_arn` whose FilterPolicy accepts the message."""
        return [
            (spec, subscription)
            for spec in self.enabled_functions
            for subscription in spec.sns_subscriptions
            if subscription.topic_arn == topic_arn and _filter_accepts(subscription, attributes or {}, message)
        ]

    def deliver_sns(
        self,
        topic_arn: str,
        message: str,
        *,
        message_id: str,
        subject: str | None = None,
        attributes: Mapping[str, Mapping[str, str]] | None = None,
        timestamp: dt.datetime | None = None,
        env_overrides: Mapping[str, str] | None = None,
    ) -> list[Invocation]:
        """Deliver one published message like SNS to Lambda: each accepting subscription invokes its function.

        `attributes` are SNS's MessageAttributes as a subscriber sees them: `{name: {Type, Value}}`.
        """
        invocations = []
        for spec, subscription in self.sns_subscribers(topic_arn, attributes, message):
            event = sns_event(
                subscription,
                message,
                message_id=message_id,
                subject=subject,
                attributes=attributes or {},
                timestamp=timestamp or dt.datetime.now(dt.UTC),
            )
            invocations.append(self._run(spec, event, env_overrides=env_overrides, rule=subscription.name))
        return invocations

    # - schedules -----------------------------------------------------------------------------

    def scheduled_event(
        self, logical_id: str, event_name: str | None = None, *, when: dt.datetime | None = None
    ) -> Any:
        """The payload the function's schedule delivers (a `Scheduled Event`, or the schedule's Input)."""
        rule = self._schedule(self.function(logical_id), event_name)
        scheduled = stamp(when or dt.datetime.now(dt.UTC))
        if rule.type == "ScheduleV2":
            # EventBridge Scheduler sends the Input as is (after filling in its context keywords).
            if rule.input is None:
                return {}
            text = (
                rule.input.replace("<aws.scheduler.schedule-arn>", rule.rule_arn)
                .replace("<aws.scheduler.scheduled-time>", scheduled)
                .replace("<aws.scheduler.execution-id>", uuid.uuid4().hex[:16])
                .replace("<aws.scheduler.attempt-number>", "1")
            )
            return _parse_input(text, rule)
        if rule.input is not None:
            return _parse_input(rule.input, rule)
        return envelope(
            source="aws.events",
            detail_type="Scheduled Event",
            detail={},
            account=self.resolver.account_id,
            region=self.resolver.region,
            resources=[rule.rule_arn],
            time=scheduled,
        )

    def invoke_scheduled(
        self,
        logical_id: str,
        event_name: str | None = None,
        *,
        when: dt.datetime | None = None,
        env_overrides: Mapping[str, str] | None = None,
    ) -> Invocation:
        """Fire the function's schedule once now (its State is not checked: this is a manual trigger)."""
        spec = self._deployed(logical_id)
        rule = self._schedule(spec, event_name)
        payload = self.scheduled_event(logical_id, rule.name, when=when)
        return self._run(spec, payload, env_overrides=env_overrides, rule=rule.name)

    # - direct invocation ---------------------------------------------------------------------

    def invoke(self, logical_id: str, event: Any, *, env_overrides: Mapping[str, str] | None = None) -> Any:
        """Invoke synchronously (like `sam local invoke`): return the JSON result or raise the handler's error."""
        invocation = self.invoke_recorded(logical_id, event, env_overrides=env_overrides)
        if invocation.error is not None:
            raise invocation.error
        return invocation.result

    def invoke_recorded(
        self, logical_id: str, event: Any, *, env_overrides: Mapping[str, str] | None = None
    ) -> Invocation:
        """Invoke, recording the outcome (result or exception) instead of raising."""
        spec = self._deployed(logical_id)
        return self._run(spec, _as_json(event), env_overrides=env_overrides, rule=None)

    def cold_start(self, logical_id: str | None = None) -> None:
        """Forget imported handler modules so the next invocation re-imports them (a new execution environment)."""
        with _PROCESS_LOCK:
            specs = [self.function(logical_id)] if logical_id else self.functions
            for spec in specs:
                self._forget(spec)

    def handler_module(self, logical_id: str, *, env_overrides: Mapping[str, str] | None = None) -> ModuleType:
        """The module `logical_id`'s invocations run, initialised as its next invocation would find it.

        Imported (when it is not yet) in the function's environment, as Lambda's init phase does, so a
        caller can replace one of its attributes (a clock, say) for the invocations that follow.
        """
        spec = self._deployed(logical_id)
        env = self._environment(spec, "init", env_overrides)
        with _PROCESS_LOCK, _environment(env):
            self._initialised(spec, env)
        return sys.modules[spec.handler.replace("/", ".").rpartition(".")[0]]

    def _initialised(self, spec: FunctionSpec, env: Mapping[str, str]) -> Handler:
        """The handler, imported afresh when the function's configuration (its environment, but for the
        log stream each invocation names) changed since the last import."""
        configuration = {k: v for k, v in env.items() if k != "AWS_LAMBDA_LOG_STREAM_NAME"}
        if self._configured.get(spec.logical_id, configuration) != configuration:
            self._forget(spec)  # a changed configuration: a new execution environment
        self._configured[spec.logical_id] = configuration
        return self._handler(spec)

    def _forget(self, spec: FunctionSpec) -> None:
        self._handlers.pop(spec.logical_id, None)
        self._configured.pop(spec.logical_id, None)
        if spec.code_uri is None:
            return
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if file and _real_path(file).is_relative_to(spec.code_uri):
                del sys.modules[name]
        _forget_service_logger(spec.environment.get("POWERTOOLS_SERVICE_NAME"))

    # - internals -----------------------------------------------------------------------------

    def _compile_patterns(self) -> dict[tuple[str, str], EventPattern]:
        patterns = {}
        for spec in self.enabled_functions:
            for rule in spec.pattern_rules:
                where = f"{spec.logical_id}.Events.{rule.name}"
                if rule.pattern is None:
                    raise TemplateError(f"{where}: an {rule.type} event needs a Pattern")
                try:
                    patterns[(spec.logical_id, rule.name)] = EventPattern(rule.pattern)
                except EventPatternError as exc:
                    raise TemplateError(f"{where}: {exc}") from exc
        return patterns

    def _deployed(self, logical_id: str) -> FunctionSpec:
        spec = self.function(logical_id)
        if not spec.enabled:
            raise FunctionNotDeployedError(f"{logical_id} is not deployed: {spec.disabled_reason}")
        return spec

    @staticmethod
    def _schedule(spec: FunctionSpec, event_name: str | None) -> EventSource:
        schedules = spec.schedules
        if event_name is not None:
            matching = [s for s in schedules if s.name == event_name]
            if not matching:
                raise RouterError(f"{spec.logical_id} has no Schedule/ScheduleV2 event named {event_name!r}")
            return matching[0]
        if len(schedules) != 1:
            names = ", ".join(s.name for s in schedules) or "none"
            raise RouterError(f"{spec.logical_id} has {len(schedules)} schedules ({names}); name the one to fire")
        return schedules[0]

    def _run(
        self, spec: FunctionSpec, payload: Any, *, env_overrides: Mapping[str, str] | None, rule: str | None
    ) -> Invocation:
        request_id = str(uuid.uuid4())
        stream = f"{dt.datetime.now(dt.UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        env = self._environment(spec, stream, env_overrides)
        result: Any = None
        error: Exception | None = None
        started = time.monotonic()
        with _PROCESS_LOCK, _environment(env):
            try:
                handler = self._initialised(spec, env)
                # The clock starts after the import: Lambda's init phase has its own time limit.
                started = time.monotonic()
                context = SandboxLambdaContext(
                    function_name=spec.function_name,
                    function_version="$LATEST",
                    invoked_function_arn=spec.function_arn,
                    memory_limit_in_mb=spec.memory_size,
                    aws_request_id=request_id,
                    log_group_name=spec.log_group_name,
                    log_stream_name=stream,
                    timeout_ms=spec.timeout * 1000,
                    started=started,
                )
                # The handler gets its own copy, so the record keeps what was delivered.
                result = _marshal(handler(_as_json(payload), context))
            except Exception as exc:  # Lambda reports any handler error; so does the record
                error = exc
            except SystemExit as exc:  # Lambda's Runtime.ExitError: the function fails, the sandbox lives on
                error = RouterError(f"Runtime.ExitError: the handler called sys.exit({exc.code!r})")
        duration_ms = (time.monotonic() - started) * 1000
        return Invocation(
            logical_id=spec.logical_id,
            function_name=spec.function_name,
            request_id=request_id,
            event=payload,
            rule=rule,
            result=result,
            error=error,
            duration_ms=duration_ms,
            timed_out=duration_ms > spec.timeout * 1000,
        )

    def _environment(self, spec: FunctionSpec, stream: str, overrides: Mapping[str, str] | None) -> dict[str, str]:
        env = dict(spec.environment)
        # Lambda's reserved variables: a template cannot override these, so they go on top.
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group_name,
                "AWS_LAMBDA_LOG_STREAM_NAME": stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_REGION": self.resolver.region,
                "AWS_DEFAULT_REGION": self.resolver.region,
                "_HANDLER": spec.handler,
            }
        )
        if spec.runtime:
            env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{spec.runtime}"
        if spec.code_uri:
            env["LAMBDA_TASK_ROOT"] = str(spec.code_uri)
        env.update(overrides or {})
        return env

    def _handler(self, spec: FunctionSpec) -> Handler:
        cached = self._handlers.get(spec.logical_id)
        if cached is not None:
            return cached
        module_name, _, attribute = spec.handler.replace("/", ".").rpartition(".")
        where = f"{spec.logical_id} (Handler {spec.handler!r})"
        if not module_name or not attribute:
            raise HandlerImportError(f"{where}: a Python handler looks like package.module.function")
        if spec.code_uri is None:
            raise HandlerImportError(f"{where}: no local CodeUri directory to import from")
        if not spec.code_uri.is_dir():
            raise HandlerImportError(f"{where}: CodeUri {spec.code_uri} is not a directory")
        _put_on_sys_path(spec.code_uri, spec.layer_dirs)
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise HandlerImportError(f"{where}: cannot import {module_name} from {spec.code_uri}: {exc}") from exc
        file = getattr(module, "__file__", None)
        if file and not Path(file).resolve().is_relative_to(spec.code_uri):
            # Two CodeUris with the same top-level package: Lambda would keep them apart, one
            # interpreter cannot. Fail loudly rather than run the other function's code.
            raise HandlerImportError(
                f"{where}: module {module_name} is already imported from {file}, not from {spec.code_uri}; "
                "give each function its own package name"
            )
        handler = getattr(module, attribute, None)
        if not callable(handler):
            raise HandlerImportError(f"{where}: {module_name} has no function {attribute}")
        self._handlers[spec.logical_id] = cast(Handler, handler)
        return self._handlers[spec.logical_id]


# --- payload shaping ------------------------------------------------------------------------------


def _filter_accepts(subscription: EventSource, attributes: Mapping[str, Mapping[str, str]], message: str) -> bool:
    if not subscription.filter_policy:
        return True
    # moto's matcher implements SNS's filter policy semantics (and the sandbox's SNS is moto's).
    matcher = FilterPolicyMatcher(dict(subscription.filter_policy), subscription.filter_policy_scope)
    return bool(matcher.matches({k: dict(v) for k, v in attributes.items()}, message))


def sns_event(
    subscription: EventSource,
    message: str,
    *,
    message_id: str,
    subject: str | None,
    attributes: Mapping[str, Mapping[str, str]],
    timestamp: dt.datetime,
) -> dict[str, Any]:
    """The Lambda event for one SNS message (the "Example Amazon SNS message event" in the Lambda guide)."""
    topic = str(subscription.topic_arn)
    region = topic.split(":")[3]
    endpoint = f"https://sns.{region}.amazonaws.com"
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.rule_arn,
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": "1",
                    "Timestamp": timestamp.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.")
                    + f"{timestamp.microsecond // 1000:03d}Z",
                    # The sandbox has no SNS signing key: a placeholder, never a valid signature.
                    "Signature": "U0FOREJPWC1VTlNJR05FRA==",
                    "SigningCertUrl": f"{endpoint}/SimpleNotificationService-sandbox.pem",
                    "MessageId": message_id,
                    "Message": message,
                    "MessageAttributes": {
                        name: {"Type": v["Type"], "Value": v["Value"]} for name, v in attributes.items()
                    },
                    "Type": "Notification",
                    "UnsubscribeUrl": f"{endpoint}/?Action=Unsubscribe&SubscriptionArn={subscription.rule_arn}",
                    "TopicArn": topic,
                    "Subject": subject,
                },
            }
        ]
    }


def target_input(rule: EventSource, event: Mapping[str, Any]) -> Any:
    """What the rule's Lambda target receives for `event`: the event, or its Input/InputPath/InputTransformer."""
    if rule.input is not None:
        return _parse_input(rule.input, rule)
    if rule.input_path is not None:
        return _json_path(event, rule.input_path)
    if rule.input_transformer is not None:
        return _transform(rule, event)
    return event


def event_from_entry(
    entry: Mapping[str, Any],
    *,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """The event EventBridge builds from one PutEvents entry (Source, DetailType, Detail, Resources, Time)."""
    for key in ("Source", "DetailType"):
        if not entry.get(key):
            raise RouterError(f"a PutEvents entry needs {key}")
    when = entry.get("Time")
    detail = entry.get("Detail") or "{}"
    try:
        detail = json.loads(detail) if isinstance(detail, str) else dict(detail)
    except json.JSONDecodeError as exc:
        raise RouterError(f"PutEvents Detail is not valid JSON: {exc}") from exc
    if not isinstance(detail, dict):
        raise RouterError("PutEvents Detail must be a JSON object")
    return envelope(
        source=entry["Source"],
        detail_type=entry["DetailType"],
        detail=detail,
        account=account_id,
        region=region,
        resources=entry.get("Resources") or [],
        time=when if when is None or isinstance(when, dt.datetime) else str(when),
    )


def _parse_input(text: str, rule: EventSource) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RouterError(f"{rule.rule_logical_id}: Input is not valid JSON: {exc}") from exc


def _json_path(event: Any, path: str) -> Any:
    """The subset of JSONPath EventBridge uses: `$`, `$.a.b`, `$.a[0]`, `$['a.b']`; missing gives null."""
    if not path.startswith("$"):
        raise RouterError(f"JSON path {path!r} must start with $")
    value = event
    position = 1
    while position < len(path):
        step = _JSON_PATH_STEP.match(path, position)
        if step is None:
            raise RouterError(f"unsupported JSON path {path!r}")
        key, index, quoted = step.groups()
        if index is not None:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
        else:
            value = value.get(key if key is not None else quoted) if isinstance(value, dict) else None
        position = step.end()
    return value


def _transform(rule: EventSource, event: Mapping[str, Any]) -> Any:
    transformer = rule.input_transformer or {}
    template = str(transformer.get("InputTemplate", ""))
    values: dict[str, Any] = {
        name: _json_path(event, str(path)) for name, path in (transformer.get("InputPathsMap") or {}).items()
    }
    values.setdefault("aws.events.rule-arn", rule.rule_arn)
    values.setdefault("aws.events.rule-name", rule.rule_name)
    values.setdefault("aws.events.event.ingestion-time", event.get("time"))
    values.setdefault("aws.events.event", {k: v for k, v in event.items() if k != "detail"})
    values.setdefault("aws.events.event.json", dict(event))
    is_json = template.lstrip().startswith(("{", "["))
    text = _render(template, values, is_json=is_json)
    if not is_json:
        return text  # a plain-text template reaches Lambda as a JSON string
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RouterError(f"{rule.rule_logical_id}: InputTemplate does not produce valid JSON: {exc}") from exc


def _render(template: str, values: Mapping[str, Any], *, is_json: bool) -> str:
    # Inside a JSON string a placeholder is replaced by the bare text; elsewhere by the JSON value
    # (so `"<repo>"` and `<repo>` both yield a proper JSON string).
    out: list[str] = []
    in_string = False
    index = 0
    while index < len(template):
        char = template[index]
        placeholder = _PLACEHOLDER.match(template, index) if char == "<" else None
        if placeholder and placeholder.group(1) in values:
            value = values[placeholder.group(1)]
            if is_json and not in_string:
                out.append(json.dumps(value))
            else:
                bare = value if isinstance(value, str) else json.dumps(value)
                out.append(json.dumps(bare)[1:-1] if is_json else bare)
            index = placeholder.end()
            continue
        if is_json and in_string and char == "\\":
            out.append(template[index : index + 2])
            index += 2
            continue
        if is_json and char == '"':
            in_string = not in_string
        out.append(char)
        index += 1
    return "".join(out)


# --- process plumbing -----------------------------------------------------------------------------


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Apply `values` to os.environ, then put back exactly what was there (whatever the handler changed)."""
    saved = dict(os.environ)
    try:
        os.environ.update(values)
        yield
    finally:
        for key in [key for key in os.environ if key not in saved]:
            del os.environ[key]
        for key, value in saved.items():
            if os.environ.get(key) != value:
                os.environ[key] = value


def _forget_service_logger(service: str | None) -> None:
    """A new execution environment has fresh logging: undo what Powertools' Logger set on its stdlib logger.

    Python's loggers outlive a module's re-import. Powertools marks the stdlib logger named by the
    service as configured and, when it meets that mark again, keeps the level and the handler it
    set the first time: the log level of an earlier execution environment (another sandbox's
    POWERTOOLS_LOG_LEVEL) and a stream handler bound to the sys.stdout of that time. Lambda never
    carries either from one execution environment to the next; nor does the sandbox.
    """
    if not service:
        return
    stdlib_logger = logging.getLogger(service)
    handler = getattr(stdlib_logger, "powertools_handler", None)
    if handler is not None:
        stdlib_logger.removeHandler(handler)
    for mark in ("init", "powertools_handler", "powertools_buffer_config", "powertools_buffer_cache"):
        if mark in vars(stdlib_logger):
            delattr(stdlib_logger, mark)
    stdlib_logger.setLevel(logging.NOTSET)


def _put_on_sys_path(code_dir: Path, layer_dirs: Iterable[Path]) -> None:
    # Lambda's order: the function's code (/var/task) first, then its layers (/opt/python).
    changed = False
    if str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
        changed = True
    position = sys.path.index(str(code_dir)) + 1
    for layer in layer_dirs:
        if str(layer) not in sys.path:
            sys.path.insert(position, str(layer))
            position += 1
            changed = True
    if changed:
        importlib.invalidate_caches()


def _as_json(value: Any) -> Any:
    """A deep copy through JSON, as Lambda delivers it: handlers cannot share or mutate the caller's object."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise RouterError(f"the event is not JSON-serialisable: {exc}") from exc


def _marshal(result: Any) -> Any:
    # Lambda's Python runtime serialises Decimal as a number and fails on anything else non-JSON.
    def default(value: Any) -> Any:
        if isinstance(value, decimal.Decimal):
            return float(value) if value % 1 else int(value)
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    try:
        return json.loads(json.dumps(result, default=default))
    except (TypeError, ValueError) as exc:
        raise MarshalError(f"Runtime.MarshalError: unable to marshal response: {exc}") from exc


def _failed(spec: FunctionSpec, event: Any, rule: str, error: Exception) -> Invocation:
    return Invocation(
        logical_id=spec.logical_id,
        function_name=spec.function_name,
        request_id=str(uuid.uuid4()),
        event=event,
        rule=rule,
        error=error,
    )


@functools.cache
def _real_path(file: str) -> Path:
    # cold_start looks at every loaded module (thousands, with moto, cfn-lint and samtranslator)
    # on every sandbox start; a module's file does not move, so each is resolved once.
    return Path(file).resolve()
