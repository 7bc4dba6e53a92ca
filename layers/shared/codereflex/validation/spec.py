"""Load a validation spec (YAML or JSON): schema, then the rules a schema cannot say, then the plan's time."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from codereflex.errors import ConfigurationError
from codereflex.validation import schemacheck, templates

MAX_SPEC_BYTES = 256 * 1024
ECS_HOOKS = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")
LAMBDA_HOOKS = ("BeforeAllowTraffic", "AfterAllowTraffic")
HOOKS = {"ecs": ECS_HOOKS, "lambda": LAMBDA_HOOKS}
_CONDITION = re.compile(
    r"^\s*(max|min|avg|sum|last|count|p[0-9]{1,2})\(\s*([a-z][A-Za-z0-9_]*)\s*\)\s*(\S+)\s*(\S+)\s*$"
)

OnError = Literal["fail", "inconclusive"]
OnInconclusive = Literal["fail", "succeed", "person"]
OnNoData = Literal["inconclusive", "fail", "pass"]


class SpecError(ConfigurationError):
    """A spec that must not run: every problem found, one per line, so an operator fixes them at once."""

    reason = "bad-spec"

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(problems))


class Limits(NamedTuple):
    """How much a check tolerates before it fails, and what missing evidence means (fail-closed defaults)."""

    failure_limit: int = 0
    consecutive_failure_limit: int | None = None
    max_failure_rate: float | None = None
    min_samples: int | None = None
    consecutive_error_limit: int = 2
    on_error: OnError = "fail"
    on_inconclusive: OnInconclusive = "fail"
    on_no_data: OnNoData = "inconclusive"


class Check(NamedTuple):
    """One check of a spec: its name, type, hooks, whether it decides, its limits and its own fields."""

    name: str
    type: str
    hooks: tuple[str, ...]
    gating: bool
    limits: Limits
    body: Mapping[str, Any]
    planned: int  # measurements a success needs: every one must exist


class People(NamedTuple):
    """Who decides a check that ended inconclusive (onInconclusive person), how many must approve, how long
    the hook waits for them (cut short by CodeDeploy's hour, less the spec's margin)."""

    approvers: tuple[str, ...]
    quorum: int = 1
    wait_minutes: int = 30


class Spec(NamedTuple):
    name: str
    platform: str
    checks: tuple[Check, ...]
    vars: Mapping[str, Any]
    hook_margin_seconds: int
    run_margin_seconds: int
    sha256: str
    warnings: tuple[str, ...]
    people: People | None = None

    def for_hook(self, hook: str) -> tuple[Check, ...]:
        canonical = canonical_hook(hook)
        return tuple(check for check in self.checks if canonical in check.hooks)


def canonical_hook(name: str) -> str:
    """The AppSpec's hook name for `name` in any case; ConfigurationError when it is none."""
    for known in ECS_HOOKS:
        if known.casefold() == name.strip().casefold():
            return known
    raise ConfigurationError(f"{name!r} is not a CodeDeploy lifecycle hook ({', '.join(ECS_HOOKS)})")


def parse_text(text: str | bytes) -> Any:
    """The spec document: JSON, else YAML (safe loader); a SpecError saying why it could not be read."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError([f"the spec is {len(raw)} bytes, more than {MAX_SPEC_BYTES}"])
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(["the spec is not UTF-8 text"]) from None
    try:
        return json.loads(decoded, parse_constant=_no_constant)
    except RecursionError:
        raise SpecError(["the spec is nested too deeply"]) from None
    except ValueError:
        pass
    import yaml  # noqa: PLC0415 (about 25 ms, paid only by a YAML spec)

    try:
        # An alias (*name) lets a few bytes stand for an exponential tree ("billion laughs"): none in a spec.
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(decoded, Loader=yaml.SafeLoader)):
            raise SpecError(["YAML aliases (*name) are not allowed in a spec"])
        return yaml.safe_load(decoded)
    except RecursionError:
        raise SpecError(["the spec is nested too deeply"]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SpecError([f"the spec is neither JSON nor YAML{where}"]) from None


def _no_constant(name: str) -> None:
    # NaN compares false with every bound, so a NaN limit would never be crossed: refused, as YAML's .nan is
    # by the schema check (no number there may be non-finite).
    raise SpecError([f"{name} is not a number a spec may hold"])


def load(text: str | bytes, *, hook_deadline_seconds: float = 3600, run_seconds: float = 900) -> Spec:
    """A spec that may run: schema-valid, its rules kept, and every hook's plan fits the time it will have."""
    document = parse_text(text)
    problems = schemacheck.problems(document)
    if problems:
        raise SpecError(problems)
    spec, problems = _build(document)
    if problems:  # the plan is computed only from a spec whose rules hold
        raise SpecError(problems)
    from codereflex.validation.plan import plan_problems  # noqa: PLC0415 (plan imports this module)

    for hook in sorted({h for check in spec.checks for h in check.hooks}):
        problems += plan_problems(spec, hook, hook_deadline_seconds=hook_deadline_seconds, run_seconds=run_seconds)
    if problems:
        raise SpecError(problems)
    return spec


def _build(document: Mapping[str, Any]) -> tuple[Spec, list[str]]:
    problems: list[str] = []
    warnings: list[str] = []
    platform = str(document["platform"])
    allowed = HOOKS[platform]
    spec_hooks = _hooks(document.get("hooks"), allowed, platform, "$.hooks", problems)
    defaults: Mapping[str, Any] = document.get("defaults", {})
    problems += _template_problems(document, platform)
    checks: list[Check] = []
    seen: dict[str, tuple[str, ...]] = {}
    for index, body in enumerate(document["checks"]):
        where = f"$.checks[{index}]"
        name = str(body["name"])
        if name in seen:
            problems.append(f"{where}: a second check named {name}")
        hooks = _hooks(body.get("hooks"), allowed, platform, f"{where}.hooks", problems) or spec_hooks
        if not hooks:
            problems.append(f"{where}: no hooks (set hooks on the spec or on the check)")
        limits = _limits(body, defaults)
        planned = planned_measurements(body)
        problems += [f"{where} ({name}): {p}" for p in _rules(body, limits, planned, seen, hooks)]
        warnings += [f"check {name}: {w}" for w in _loosened(limits)]
        gating = bool(body.get("gating", True))
        checks.append(Check(name, str(body["type"]), hooks, gating, limits, body, planned))
        seen[name] = hooks if body["type"] == "http" else ()
    for hook in sorted({h for check in checks for h in check.hooks}):
        if not any(check.gating and hook in check.hooks for check in checks):
            problems.append(f"hook {hook}: no gating check (dry-run checks never decide, so nothing would)")
    people = _people(document.get("people"), checks, problems)
    budget: Mapping[str, Any] = document.get("budget", {})
    digest = hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()
    spec = Spec(
        name=str(document["name"]),
        platform=platform,
        checks=tuple(checks),
        vars=dict(document.get("vars", {})),
        hook_margin_seconds=int(budget.get("hookMarginSeconds", 300)),
        run_margin_seconds=int(budget.get("runMarginSeconds", 30)),
        sha256=digest,
        warnings=tuple(warnings),
        people=people,
    )
    return spec, problems


def _people(value: Mapping[str, Any] | None, checks: list[Check], problems: list[str]) -> People | None:
    asking = [c.name for c in checks if c.limits.on_inconclusive == "person"]
    if value is None:
        if asking:
            problems.append(f"checks {', '.join(asking)} ask a person (onInconclusive person): set people.approvers")
        return None
    approvers = tuple(dict.fromkeys(str(a).strip().lower() for a in value["approvers"]))
    people = People(approvers, int(value.get("quorum", 1)), int(value.get("waitMinutes", 30)))
    if people.quorum > len(approvers):
        problems.append(f"people.quorum {people.quorum} > the {len(approvers)} approvers: nobody could approve")
    return people


def _template_problems(document: Mapping[str, Any], platform: str) -> list[str]:
    """Templates the deployment will not provide, and braces that are not templates (a typo would stay literal)."""
    problems = []
    extra_vars = frozenset(str(name) for name in document.get("vars", {}))
    for name, where in templates.names_in(document.get("vars", {}), "$.vars"):
        if not templates.is_known(name, platform):
            problems.append(f"{where}: {{{{ {name} }}}} is not known for {platform} deployments")
    for index, body in enumerate(document["checks"]):
        for name, where in templates.names_in(body, f"$.checks[{index}]"):
            if not templates.is_known(name, platform, extra_vars):
                problems.append(f"{where}: {{{{ {name} }}}} is not known for {platform} deployments")
    problems += [
        f"{where}: braces that are not a {{{{ name }}}} template" for where in templates.malformed_in(document)
    ]
    return problems


def _hooks(value: Any, allowed: tuple[str, ...], platform: str, where: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    hooks: list[str] = []
    for item in value:
        try:
            hook = canonical_hook(str(item))
        except ConfigurationError as error:
            problems.append(f"{where}: {error}")
            continue
        if hook not in allowed:
            problems.append(f"{where}: {hook} is not a hook of {platform} deployments ({', '.join(allowed)})")
        elif hook not in hooks:
            hooks.append(hook)
    return tuple(hooks)


def _limits(body: Mapping[str, Any], defaults: Mapping[str, Any]) -> Limits:
    def pick(key: str, fallback: Any) -> Any:
        return body.get(key, defaults.get(key, fallback))

    base = Limits()
    return Limits(
        failure_limit=int(pick("failureLimit", base.failure_limit)),
        consecutive_failure_limit=body.get("consecutiveFailureLimit"),
        max_failure_rate=body.get("maxFailureRate"),
        min_samples=body.get("minSamples"),
        consecutive_error_limit=int(pick("consecutiveErrorLimit", base.consecutive_error_limit)),
        on_error=pick("onError", base.on_error),
        on_inconclusive=pick("onInconclusive", base.on_inconclusive),
        on_no_data=pick("onNoData", base.on_no_data),
    )


def planned_measurements(body: Mapping[str, Any]) -> int:
    """How many measurements the check's success needs (warm-up samples are taken but not counted)."""
    kind = body["type"]
    if kind == "http":
        return int(body["sampling"]["count"]) + (1 if "latencyMs" in body["assert"] else 0)
    if kind == "lambdaInvoke":
        per_case = 2 if "differential" in body else 1
        return len(body["cases"]) * int(body.get("repeat", 1)) * per_case
    if kind == "compare":
        return 1
    return int(body["sampling"]["count"])


def _rules(
    body: Mapping[str, Any],
    limits: Limits,
    planned: int,
    earlier: Mapping[str, tuple[str, ...]],
    hooks: tuple[str, ...],
) -> list[str]:
    problems: list[str] = []
    if limits.failure_limit >= planned:
        problems.append(
            f"failureLimit {limits.failure_limit} tolerates all {planned} measurements: it could never fail"
        )
    if limits.consecutive_failure_limit is not None and limits.consecutive_failure_limit > planned:
        problems.append(f"consecutiveFailureLimit {limits.consecutive_failure_limit} > the {planned} measurements")
    if limits.min_samples is not None and limits.min_samples > planned:
        problems.append(f"minSamples {limits.min_samples} > the {planned} measurements planned")
    for assertion in _text_assertions(body):
        problems += _assertion_problems(assertion)
    kind = body["type"]
    if kind == "http" and "json" in body["request"] and "body" in body["request"]:
        problems.append("request has both body and json")
    if kind == "cloudwatchMetric":
        problems += _metric_problems(body)
    if kind == "cloudwatchAlarm" and not body["alarms"].get("fromDeploymentGroup") and not body["alarms"].get("names"):
        problems.append("alarms names no alarm (set fromDeploymentGroup or names)")
    if kind == "targetHealth" and isinstance(body.get("minTargets"), str) and "{{" not in body["minTargets"]:
        problems.append("minTargets must be a number or a {{ template }}")
    if kind == "compare":
        problems += _compare_problems(body, earlier, hooks)
    return problems


def _metric_problems(body: Mapping[str, Any]) -> list[str]:
    problems = []
    match = _CONDITION.match(str(body["condition"]))
    ids = {str(query["id"]) for query in body["queries"]}
    if match and match.group(2) not in ids:
        problems.append(f"condition names {match.group(2)}, which is not a query id ({', '.join(sorted(ids))})")
    for query in body["queries"]:
        if ("expression" in query) == ("metric" in query):
            problems.append(f"query {query['id']} needs exactly one of expression and metric")
        if "metric" in query and "stat" not in query:
            problems.append(f"query {query['id']} needs a stat")
    return problems


def _compare_problems(
    body: Mapping[str, Any], earlier: Mapping[str, tuple[str, ...]], hooks: tuple[str, ...]
) -> list[str]:
    problems: list[str] = []
    for side in ("experiment", "control"):
        source: Mapping[str, Any] = body[side]
        kinds = [key for key in ("check", "request", "metrics") if key in source]
        if len(kinds) != 1:
            problems.append(f"{side} needs exactly one of check, request (with sampling) and metrics")
            continue
        if kinds[0] == "request" and "sampling" not in source:
            problems.append(f"{side} probes need sampling")
        if kinds[0] == "check":
            named = str(source["check"])
            if named not in earlier or not earlier[named]:
                problems.append(f"{side} names {named}, which is not an earlier http check")
            elif not set(hooks) <= set(earlier[named]):
                problems.append(f"{side} names {named}, which does not run in every hook this check does")
        if kinds[0] == "metrics" and body["test"] == "mannWhitney":
            problems.append(f"{side}: mannWhitney compares samples (check or request), not metric sums")
    return problems


def _text_assertions(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    if body["type"] == "http":
        found += body["assert"].get("body", [])
        found += list(body["assert"].get("headers", {}).values())
    if body["type"] == "lambdaInvoke":
        for case in body["cases"]:
            found += case.get("expect", {}).get("body", [])
    return found


def _assertion_problems(assertion: Mapping[str, Any]) -> list[str]:
    ways = [key for key in ("equals", "contains", "regex") if key in assertion]
    if len(ways) != 1:
        return [f"assertion {json.dumps(assertion, default=str)} needs exactly one of equals, contains and regex"]
    if "regex" in assertion:
        try:
            re.compile(str(assertion["regex"]))
        except re.error as error:
            return [f"regex {assertion['regex']!r} does not compile: {error}"]
    return []


def _loosened(limits: Limits) -> list[str]:
    said: list[str] = []
    if limits.on_error != "fail":
        said.append(f"onError {limits.on_error}: an error of our own tooling will not fail it by itself")
    if limits.on_inconclusive == "succeed":
        said.append("onInconclusive succeed: missing evidence will pass the hook")
    if limits.on_inconclusive == "person":
        said.append("onInconclusive person: missing evidence holds the hook for the spec's people to decide")
    if limits.on_no_data == "pass":
        said.append("onNoData pass: a measurement without data counts as passed")
    return said
