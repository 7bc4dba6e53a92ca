"""`{{ ecs.testListener.url }}` in a spec, resolved from what the deployment is: never to an empty string."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from codereflex.errors import ConfigurationError

_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")
_BRACES = re.compile(r"\{\{|\}\}")

# What a hook knows about its deployment (found from CodeDeploy, not configured), per platform. The
# names are matched case-insensitively, as the AppSpec's keys are; `vars` of the spec add to them.
KNOWN: Mapping[str, frozenset[str]] = {
    "common": frozenset(
        {
            "deployment.id",
            "deployment.application",
            "deployment.group",
            "deployment.alarms",
            "hook",
            "hookExecutionId",
        }
    ),
    "ecs": frozenset(
        {
            "ecs.cluster",
            "ecs.service",
            "ecs.testListener.arn",
            "ecs.testListener.url",
            "ecs.prodListener.arn",
            "ecs.prodListener.url",
            "ecs.loadBalancer.dimension",
            "ecs.blue.taskSet",
            "ecs.blue.targetGroupArn",
            "ecs.blue.targetGroupDimension",
            "ecs.blue.desiredCount",
            "ecs.green.taskSet",
            "ecs.green.targetGroupArn",
            "ecs.green.targetGroupDimension",
            "ecs.green.desiredCount",
        }
    ),
    "lambda": frozenset({"lambda.functionName", "lambda.alias", "lambda.currentVersion", "lambda.targetVersion"}),
}


class UnresolvedTemplate(ConfigurationError):
    """A `{{ name }}` the deployment does not provide: the spec cannot be checked, so the hook fails."""

    reason = "unresolved-template"


def names_in(value: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    """Every template name used anywhere in a spec value, with where it is."""
    if isinstance(value, str):
        for match in _TEMPLATE.finditer(value):
            yield match.group(1), path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from names_in(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from names_in(item, f"{path}[{index}]")


def malformed_in(value: Any, path: str = "$") -> Iterator[str]:
    """Paths of strings with braces that are not a well-formed `{{ name }}` (a typo would stay literal)."""
    if isinstance(value, str):
        if _BRACES.search(_TEMPLATE.sub("", value)):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from malformed_in(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from malformed_in(item, f"{path}[{index}]")


def is_known(name: str, platform: str, extra: frozenset[str] = frozenset()) -> bool:
    folded = name.casefold()
    pool = KNOWN["common"] | KNOWN.get(platform, frozenset()) | extra
    return any(folded == known.casefold() for known in pool)


def lookup(context: Mapping[str, Any], name: str) -> Any:
    """The value at a dotted name, keys compared case-insensitively; UnresolvedTemplate when absent or empty."""
    node: Any = context
    for part in name.split("."):
        if not isinstance(node, Mapping):
            raise UnresolvedTemplate(f"{{{{ {name} }}}} is not known for this deployment")
        matches = [key for key in node if isinstance(key, str) and key.casefold() == part.casefold()]
        if not matches:
            raise UnresolvedTemplate(f"{{{{ {name} }}}} is not known for this deployment")
        node = node[matches[0]]
    if node is None or node == "" or isinstance(node, Mapping):
        raise UnresolvedTemplate(f"{{{{ {name} }}}} has no value for this deployment")
    return node


def resolve(value: Any, context: Mapping[str, Any], path: str = "$") -> Any:
    """`value` with every template replaced. A string that is exactly one template takes the value's type."""
    if isinstance(value, str):
        whole = _TEMPLATE.fullmatch(value.strip())
        try:
            if whole:
                return lookup(context, whole.group(1))
            return _TEMPLATE.sub(lambda m: _text(lookup(context, m.group(1))), value)
        except UnresolvedTemplate as error:
            raise UnresolvedTemplate(f"{error} (at {path})") from None
    if isinstance(value, dict):
        return {key: resolve(item, context, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, context, f"{path}[{index}]") for index, item in enumerate(value)]
    return value


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        raise UnresolvedTemplate("a list cannot be part of a string")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
