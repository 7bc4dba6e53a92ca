"""A JSON Schema validator for exactly the keywords schema.json uses (jsonschema costs ~90 ms of a cold start)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

# What this validator understands. Anything else in a schema is a bug in the schema, not ignored:
# tests/unit/validation/test_schemacheck.py walks schema.json and compares verdicts with jsonschema's.
KEYWORDS = frozenset(
    {
        "$schema",
        "$id",
        "title",
        "description",
        "$defs",
        "$ref",
        "type",
        "properties",
        "required",
        "additionalProperties",
        "const",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "items",
        "minItems",
        "maxItems",
        "minProperties",
        "allOf",
        "if",
        "then",
    }
)

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and math.isfinite(v) and v.is_integer())
    ),
    # Finite only: NaN passes every minimum and maximum (comparisons with it are false), and would then
    # be a limit no measurement crosses. JSON has no NaN; YAML's .nan and .inf must not sneak in.
    "number": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and math.isfinite(v)),
}


@cache
def spec_schema() -> Mapping[str, Any]:
    """The published schema of a validation spec, as shipped beside this module."""
    # Beside this module in the layer (importlib.resources would cost ~10 ms of imports more).
    text = Path(__file__).with_name("schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def problems(instance: Any, schema: Mapping[str, Any] | None = None) -> list[str]:
    """Every way `instance` breaks the schema, each as `path: what`; empty when it is valid."""
    root = schema if schema is not None else spec_schema()
    return list(_check(instance, root, root, "$"))


def _check(  # noqa: C901 - one branch per keyword family
    value: Any, schema: Mapping[str, Any], root: Mapping[str, Any], path: str
) -> Iterator[str]:
    unknown = set(schema) - KEYWORDS
    if unknown:
        raise ValueError(f"schema keyword(s) {sorted(unknown)} at {path} are not implemented")
    if "$ref" in schema:
        yield from _check(value, _resolve(root, schema["$ref"]), root, path)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            yield f"{path}: must be {' or '.join(types)}, not {_kind(value)}"
            return
    if "const" in schema and not _equal(value, schema["const"]):
        yield f"{path}: must be {json.dumps(schema['const'])}"
    if "enum" in schema and not any(_equal(value, option) for option in schema["enum"]):
        yield f"{path}: must be one of {', '.join(json.dumps(o) for o in schema['enum'])}"
    if _TYPES["number"](value):
        yield from _number(value, schema, path)
    if isinstance(value, str):
        yield from _string(value, schema, path)
    if isinstance(value, list):
        yield from _array(value, schema, root, path)
    if isinstance(value, dict):
        yield from _object(value, schema, root, path)
    for part in schema.get("allOf", ()):
        yield from _check(value, part, root, path)
    if "if" in schema and "then" in schema and not any(_check(value, schema["if"], root, path)):
        yield from _check(value, schema["then"], root, path)


def _number(value: float, schema: Mapping[str, Any], path: str) -> Iterator[str]:
    if "minimum" in schema and value < schema["minimum"]:
        yield f"{path}: must be at least {schema['minimum']}"
    if "maximum" in schema and value > schema["maximum"]:
        yield f"{path}: must be at most {schema['maximum']}"
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        yield f"{path}: must be below {schema['exclusiveMaximum']}"


def _string(value: str, schema: Mapping[str, Any], path: str) -> Iterator[str]:
    if "minLength" in schema and len(value) < schema["minLength"]:
        yield f"{path}: must be at least {schema['minLength']} characters"
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        yield f"{path}: must be at most {schema['maxLength']} characters"
    if "pattern" in schema and not re.search(schema["pattern"], value):
        yield f"{path}: does not match {schema['pattern']}"


def _array(value: list[Any], schema: Mapping[str, Any], root: Mapping[str, Any], path: str) -> Iterator[str]:
    if "minItems" in schema and len(value) < schema["minItems"]:
        yield f"{path}: must have at least {schema['minItems']} item(s)"
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        yield f"{path}: must have at most {schema['maxItems']} items"
    if "items" in schema:
        for index, item in enumerate(value):
            yield from _check(item, schema["items"], root, f"{path}[{index}]")


def _object(value: dict[str, Any], schema: Mapping[str, Any], root: Mapping[str, Any], path: str) -> Iterator[str]:
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        yield f"{path}: must have at least {schema['minProperties']} field(s)"
    for name in schema.get("required", ()):
        if name not in value:
            yield f"{path}: {name} is required"
    properties: Mapping[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        where = f"{path}.{name}"
        if name in properties:
            yield from _check(item, properties[name], root, where)
        elif extra is False:
            yield f"{where}: is not a known field"
        elif isinstance(extra, dict):
            yield from _check(item, extra, root, where)


def _resolve(root: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are implemented, not {ref}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return dict(node)


def _equal(value: Any, expected: Any) -> bool:
    # JSON Schema equality: 1 == 1.0, but true is not 1.
    if isinstance(value, bool) or isinstance(expected, bool):
        return type(value) is type(expected) and value == expected
    return bool(value == expected)


def _kind(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](value):
            return name
    return type(value).__name__
