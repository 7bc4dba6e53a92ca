"""EventBridge event-pattern validation and matching with the service's semantics, for the sandbox router."""

from __future__ import annotations

import functools
import ipaddress
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

__all__ = ["EventPattern", "EventPatternError", "matches", "validate_pattern"]

# EventBridge (event-ruler) only accepts numeric operands in this range.
_NUMERIC_LIMIT: Final = 5.0e9
_LOWER_OPS: Final = frozenset({">", ">="})
_UPPER_OPS: Final = frozenset({"<", "<="})
_OR: Final = "$or"
_STRING_MATCHERS: Final = ("prefix", "suffix", "equals-ignore-case", "wildcard")
_OPERATORS: Final = (
    "anything-but",
    "cidr",
    "equals-ignore-case",
    "exists",
    "numeric",
    "prefix",
    "suffix",
    "wildcard",
)


class _Missing:
    """The value of a field the event does not have (distinct from JSON null)."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Final = _Missing()


class EventPatternError(ValueError):
    """A pattern EventBridge would reject (PutRule's InvalidEventPatternException)."""


class EventPattern:
    """A validated event pattern: build it once per rule, then test events with `matches`."""

    def __init__(self, pattern: Mapping[str, Any] | str) -> None:
        parsed: Any = pattern
        if isinstance(pattern, str):
            try:
                parsed = json.loads(pattern)
            except json.JSONDecodeError as exc:
                raise EventPatternError(f"event pattern is not valid JSON: {exc}") from exc
        validate_pattern(parsed)
        self.pattern: Mapping[str, Any] = parsed

    def matches(self, event: Mapping[str, Any]) -> bool:
        """True if EventBridge would deliver `event` to a rule with this pattern."""
        return _match_object(self.pattern, event)

    def __repr__(self) -> str:
        return f"EventPattern({json.dumps(self.pattern, sort_keys=True)})"


def matches(pattern: Mapping[str, Any] | str, event: Mapping[str, Any]) -> bool:
    """Validate `pattern`, then tell whether it matches `event` (a dict or its JSON text)."""
    return EventPattern(pattern).matches(event)


# --- validation ------------------------------------------------------------------------------------


def validate_pattern(pattern: Any) -> None:
    """Raise EventPatternError, naming the offending field, if EventBridge would reject `pattern`."""
    if not isinstance(pattern, Mapping):
        raise EventPatternError(f"an event pattern must be a JSON object, got {_json(pattern)}")
    if not pattern:
        raise EventPatternError("an event pattern must not be empty")
    _validate_object(pattern, "")


def _validate_object(obj: Mapping[str, Any], path: str) -> None:
    for key, sub in obj.items():
        if not isinstance(key, str):
            raise EventPatternError(f"{path or '<root>'}: field names must be strings, got {key!r}")
        where = f"{path}.{key}" if path else key
        if _is_or(key, sub):
            _validate_or(sub, where)
        elif isinstance(sub, Mapping):
            if not sub:
                raise EventPatternError(f"{where}: empty objects are not allowed")
            _validate_object(sub, where)
        elif isinstance(sub, list):
            if not sub:
                raise EventPatternError(f"{where}: empty arrays are not allowed; list at least one value")
            for item in sub:
                _validate_match_value(item, where)
        else:
            raise EventPatternError(
                f"{where}: match values must be in an array, e.g. {_json([sub])} instead of {_json(sub)}"
            )


def _is_or(key: str, sub: Any) -> bool:
    # event-ruler treats "$or" as a plain field name unless its value is a list of objects whose
    # keys are field names rather than operators (so `"$or": [{"prefix": "a"}]` is a plain field).
    return (
        key == _OR
        and isinstance(sub, list)
        and bool(sub)
        and all(isinstance(alt, Mapping) and not any(k in _OPERATORS for k in alt) for alt in sub)
    )


def _validate_or(alternatives: Sequence[Mapping[str, Any]], where: str) -> None:
    if len(alternatives) < 2:
        raise EventPatternError(f"{where}: $or needs at least two sub-patterns")
    for index, alt in enumerate(alternatives):
        if not alt:
            raise EventPatternError(f"{where}[{index}]: empty objects are not allowed")
        _validate_object(alt, where.removesuffix(_OR).rstrip("."))


def _validate_match_value(value: Any, where: str) -> None:
    if value is None or isinstance(value, (bool, str)):
        return
    if _is_number(value):
        _validate_finite(value, where)
        return
    if isinstance(value, list):
        raise EventPatternError(f"{where}: nested arrays are not allowed in match values")
    if not isinstance(value, Mapping):
        raise EventPatternError(f"{where}: unsupported match value {_json(value)}")
    if len(value) != 1:
        raise EventPatternError(
            f"{where}: a content filter must have exactly one operator, got {sorted(map(str, value))}"
        )
    ((operator, argument),) = value.items()
    _validate_operator(operator, argument, where)


def _validate_operator(operator: Any, argument: Any, where: str) -> None:
    match operator:
        case "prefix" | "suffix":
            if isinstance(argument, Mapping) and set(argument) == {"equals-ignore-case"}:
                argument = argument["equals-ignore-case"]
            _require_string(argument, where, operator)
        case "equals-ignore-case":
            _require_string(argument, where, operator)
        case "wildcard":
            _require_string(argument, where, operator)
            _wildcard_regex(argument, where)
        case "exists":
            if not isinstance(argument, bool):
                raise EventPatternError(f"{where}: exists takes true or false, got {_json(argument)}")
        case "cidr":
            _require_string(argument, where, operator)
            _network(argument, where)
        case "numeric":
            _validate_numeric(argument, where)
        case "anything-but":
            _validate_anything_but(argument, where)
        case _:
            raise EventPatternError(f"{where}: unknown operator {operator!r}; expected one of {', '.join(_OPERATORS)}")


def _validate_anything_but(argument: Any, where: str) -> None:
    if isinstance(argument, str):
        return
    if _is_number(argument):
        _validate_finite(argument, where)
    elif isinstance(argument, list):
        if not argument:
            raise EventPatternError(f"{where}: anything-but needs at least one value")
        if not (all(isinstance(v, str) for v in argument) or all(_is_number(v) for v in argument)):
            raise EventPatternError(f"{where}: an anything-but list must be all strings or all numbers")
    elif isinstance(argument, Mapping) and len(argument) == 1 and next(iter(argument)) in _STRING_MATCHERS:
        _validate_anything_but_matcher(*next(iter(argument.items())), where)
    else:
        raise EventPatternError(
            f"{where}: anything-but takes a string, a number, a list of either, or one of "
            f"{{{', '.join(_STRING_MATCHERS)}}}; got {_json(argument)}"
        )


def _validate_anything_but_matcher(operator: str, inner: Any, where: str) -> None:
    values = inner if isinstance(inner, list) else [inner]
    if not values:
        raise EventPatternError(f"{where}: anything-but {operator} needs at least one value")
    for value in values:
        _require_string(value, where, f"anything-but {operator}")
        if operator == "wildcard":
            _wildcard_regex(value, where)


def _validate_numeric(argument: Any, where: str) -> None:
    if not isinstance(argument, list) or not argument or len(argument) % 2:
        raise EventPatternError(
            f'{where}: numeric takes operator/value pairs, e.g. [">", 0, "<=", 5]; got {_json(argument)}'
        )
    pairs = list(zip(argument[::2], argument[1::2], strict=True))
    seen: set[str] = set()
    for operator, operand in pairs:
        if operator not in {"=", *_LOWER_OPS, *_UPPER_OPS}:
            raise EventPatternError(f"{where}: unknown numeric operator {_json(operator)}")
        if not _is_number(operand):
            raise EventPatternError(f"{where}: numeric operand for {operator!r} must be a number, got {_json(operand)}")
        _validate_finite(operand, where)
        kind = "lower" if operator in _LOWER_OPS else "upper" if operator in _UPPER_OPS else "="
        if kind in seen:
            raise EventPatternError(f"{where}: numeric has more than one {kind} bound")
        seen.add(kind)
    if "=" in seen and len(pairs) > 1:
        raise EventPatternError(f'{where}: numeric "=" cannot be combined with a range')
    if len(pairs) == 2:
        bounds = {("lower" if op in _LOWER_OPS else "upper"): value for op, value in pairs}
        if bounds["lower"] >= bounds["upper"]:
            raise EventPatternError(f"{where}: numeric lower bound must be below the upper bound")


def _validate_finite(value: float, where: str) -> None:
    if not math.isfinite(value) or abs(value) > _NUMERIC_LIMIT:
        raise EventPatternError(f"{where}: numbers must lie between -5.0e9 and 5.0e9, got {value!r}")


def _require_string(value: Any, where: str, operator: str) -> None:
    if not isinstance(value, str):
        raise EventPatternError(f"{where}: {operator} takes a string, got {_json(value)}")


def _network(cidr: str, where: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError as exc:
        raise EventPatternError(f"{where}: invalid cidr {cidr!r}: {exc}") from exc


def _wildcard_regex(wildcard: str, where: str = "wildcard") -> re.Pattern[str]:
    """`*` is any run of characters; `\\*` and `\\\\` escape; EventBridge forbids `**` and other escapes."""
    parts: list[str] = []
    index = 0
    previous_star = False
    while index < len(wildcard):
        char = wildcard[index]
        if char == "\\":
            escaped = wildcard[index + 1 : index + 2]
            if escaped not in {"*", "\\"}:
                raise EventPatternError(f"{where}: wildcard {wildcard!r} escapes something other than * or \\")
            parts.append(re.escape(escaped))
            index += 2
            previous_star = False
            continue
        if char == "*":
            if previous_star:
                raise EventPatternError(f"{where}: wildcard {wildcard!r} has consecutive wildcard characters")
            parts.append(".*")
            previous_star = True
        else:
            parts.append(re.escape(char))
            previous_star = False
        index += 1
    return re.compile("".join(parts), re.DOTALL)


@functools.lru_cache(maxsize=256)
def _compiled_wildcard(wildcard: str) -> re.Pattern[str]:
    return _wildcard_regex(wildcard)


# --- matching --------------------------------------------------------------------------------------


def _match_object(pattern: Mapping[str, Any], value: Any) -> bool:
    """Every field of the pattern must match (AND); a non-object value has no fields."""
    fields: Mapping[str, Any] = value if isinstance(value, Mapping) else {}
    for key, sub in pattern.items():
        if _is_or(key, sub):
            if not any(_match_object(alternative, value) for alternative in sub):
                return False
        elif isinstance(sub, Mapping):
            if not _match_nested(sub, fields.get(key, _MISSING)):
                return False
        elif not _match_field(sub, fields.get(key, _MISSING)):
            return False
    return True


def _match_nested(pattern: Mapping[str, Any], value: Any) -> bool:
    # Arrays are "crushed out": a sub-pattern matches if one element matches on its own, so two
    # fields can never be satisfied by different elements of one array (event-ruler's array
    # consistency).
    if isinstance(value, list):
        elements = list(_flatten(value))
        if not elements:
            return _match_object(pattern, _MISSING)
        return any(_match_object(pattern, element) for element in elements)
    return _match_object(pattern, value)


def _match_field(conditions: Sequence[Any], value: Any) -> bool:
    """A field matches if any listed condition matches any of its leaf values (OR)."""
    leaves = [leaf for leaf in _flatten([value]) if not isinstance(leaf, (Mapping, _Missing))]
    for condition in conditions:
        if isinstance(condition, Mapping) and "exists" in condition:
            # Exists looks at leaves only: a field holding an object "does not exist".
            if bool(leaves) is condition["exists"]:
                return True
        elif any(_match_value(condition, leaf) for leaf in leaves):
            return True
    return False


def _flatten(values: Sequence[Any]) -> Iterator[Any]:
    for value in values:
        if isinstance(value, list):
            yield from _flatten(value)
        else:
            yield value


def _match_value(condition: Any, leaf: Any) -> bool:
    if not isinstance(condition, Mapping):
        return _equal(condition, leaf)
    ((operator, argument),) = condition.items()
    return _MATCHERS[operator](argument, leaf)


def _equal(condition: Any, leaf: Any) -> bool:
    # JSON types never cross: "5" is not 5, true is not 1, null is only null.
    if condition is None or leaf is None:
        return condition is None and leaf is None
    if isinstance(condition, bool) or isinstance(leaf, bool):
        return isinstance(condition, bool) and isinstance(leaf, bool) and condition is leaf
    if _is_number(condition):
        return _is_number(leaf) and condition == leaf
    return isinstance(leaf, str) and condition == leaf


def _string_match(argument: Any, leaf: Any, test: Any) -> bool:
    if not isinstance(leaf, str):
        return False
    if isinstance(argument, Mapping):
        return bool(test(leaf.casefold(), argument["equals-ignore-case"].casefold()))
    return bool(test(leaf, argument))


def _numeric_match(argument: Sequence[Any], leaf: float) -> bool:
    for operator, operand in zip(argument[::2], argument[1::2], strict=True):
        holds = {
            "=": leaf == operand,
            "<": leaf < operand,
            "<=": leaf <= operand,
            ">": leaf > operand,
            ">=": leaf >= operand,
        }[operator]
        if not holds:
            return False
    return True


def _cidr_match(cidr: str, leaf: Any) -> bool:
    if not isinstance(leaf, str):
        return False
    try:
        address = ipaddress.ip_address(leaf)
    except ValueError:
        return False
    network = ipaddress.ip_network(cidr, strict=False)
    return address.version == network.version and address in network


def _anything_but_excludes(argument: Any, leaf: Any) -> bool:
    """True if `leaf` is one of the values anything-but rules out (then the condition fails)."""
    if isinstance(argument, list):
        return any(_equal(value, leaf) for value in argument)
    if not isinstance(argument, Mapping):
        return _equal(argument, leaf)
    ((operator, inner),) = argument.items()
    values = inner if isinstance(inner, list) else [inner]
    # The string matchers never match numbers, null or booleans, so anything-but lets those through.
    return any(_match_value({operator: value}, leaf) for value in values)


_MATCHERS: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "prefix": lambda argument, leaf: _string_match(argument, leaf, str.startswith),
    "suffix": lambda argument, leaf: _string_match(argument, leaf, str.endswith),
    "equals-ignore-case": lambda argument, leaf: isinstance(leaf, str) and leaf.casefold() == argument.casefold(),
    "wildcard": lambda argument, leaf: (
        isinstance(leaf, str) and _compiled_wildcard(argument).fullmatch(leaf) is not None
    ),
    "numeric": lambda argument, leaf: _is_number(leaf) and _numeric_match(argument, leaf),
    "cidr": _cidr_match,
    "anything-but": lambda argument, leaf: not _anything_but_excludes(argument, leaf),
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _json(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
