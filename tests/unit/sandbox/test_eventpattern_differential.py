"""Our EventBridge matcher against moto's, over the template's patterns and events generated from the samples."""

from __future__ import annotations

import copy
import ipaddress
import json
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, cast

import pytest
from moto.events.models import EventPattern as MotoEventPattern

from sandbox.lambdas.eventpattern import EventPattern, EventPatternError
from sandbox.lambdas.template import load_template
from tests.conftest import AWS_SAMPLES, EVENTS, ROOT
from tests.unit.sandbox.test_eventpattern import EVENT, MATCH_CASES

# Fixed, so a disagreement found once is found on every run and in CI.
SEED: Final = 12
PATTERNS_PER_EVENT: Final = 24
GENERATED_PER_PATTERN: Final = 4
_MISSING: Final = object()
_OTHER_STRING: Final = "zz-other"


# --- where the two matchers may disagree --------------------------------------------------------


@dataclass(frozen=True)
class FieldCheck:
    """One pattern leaf (its list of conditions) and the event value it is tested against."""

    path: tuple[str, ...]
    conditions: list[Any]
    value: Any  # _MISSING when the event has no such field
    through_array: bool  # reached through an array of objects


@dataclass(frozen=True)
class Difference:
    """Where moto's matcher departs from EventBridge's documented semantics, which ours follows."""

    name: str
    reason: str
    case_id: str  # the row of test_eventpattern.MATCH_CASES that pins EventBridge's answer
    applies: Callable[[FieldCheck], bool]


def _leaves(value: Any) -> list[Any]:
    """Scalar values under `value`, nested arrays flattened, objects skipped (EventBridge's leaves)."""
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [] if isinstance(value, Mapping) or value is _MISSING else [value]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numeric_operands(condition: Any) -> list[Any]:
    if _is_number(condition) or isinstance(condition, bool):
        return [condition]
    if isinstance(condition, Mapping) and "numeric" in condition:
        return [0]  # a numeric filter stands for "some number"
    if isinstance(condition, Mapping) and "anything-but" in condition:
        argument = condition["anything-but"]
        return [v for v in (argument if isinstance(argument, list) else [argument]) if not isinstance(v, str)]
    return []


def _booleans_meet_numbers(check: FieldCheck) -> bool:
    operands = [operand for c in check.conditions for operand in _numeric_operands(c)]
    leaves = _leaves(check.value)
    return any(
        isinstance(a, bool) != isinstance(b, bool) and (_is_number(a) or _is_number(b))
        for a in operands
        for b in leaves
    )


def _present_without_leaves(check: FieldCheck) -> bool:
    value = check.value
    holds_nothing = value == {} or (isinstance(value, list) and not _leaves(value))
    return holds_nothing and any(
        isinstance(c, Mapping) and ("exists" in c or "anything-but" in c) for c in check.conditions
    )


def _cidr_meets_a_non_string(check: FieldCheck) -> bool:
    has_cidr = any(isinstance(c, Mapping) and "cidr" in c for c in check.conditions)
    return has_cidr and any(not isinstance(leaf, str) for leaf in _leaves(check.value))


DIFFERENCES: Final = (
    Difference(
        "arrays of objects",
        "EventBridge matches a nested pattern against each element of an array of objects; moto "
        "flattens objects only, so it never sees the fields inside array elements",
        "a sub-pattern matches an element of an array of objects",
        lambda check: check.through_array,
    ),
    Difference(
        "nested arrays",
        "EventBridge flattens arrays of arrays into their values; moto compares the pattern's values "
        "with the outer array's elements, which are arrays",
        "nested event arrays are flattened",
        lambda check: isinstance(check.value, list) and any(isinstance(item, list) for item in check.value),
    ),
    Difference(
        "booleans are not numbers",
        "JSON types never cross in EventBridge; moto compares with Python's ==, where True == 1, and "
        "its numeric filter accepts booleans",
        "true is not the number 1",
        _booleans_meet_numbers,
    ),
    Difference(
        "a field without leaves does not exist",
        "EventBridge's exists and anything-but look at leaf values, and an empty array, an empty "
        "object or an array of objects holds none; moto counts any key that is present",
        "an empty array holds no value",
        _present_without_leaves,
    ),
    Difference(
        "cidr matches addresses written as strings",
        "EventBridge's cidr filter only matches strings holding an IP address; moto hands the value "
        "to ipaddress.ip_address, which reads a number (or true, as 1) as an IPv4 address",
        "cidr never matches a number",
        _cidr_meets_a_non_string,
    ),
)


def field_checks(
    pattern: Mapping[str, Any], value: Any, path: tuple[str, ...] = (), through_array: bool = False
) -> Iterator[FieldCheck]:
    """Walk the pattern alongside the event, as EventBridge does, yielding each leaf test."""
    fields = value if isinstance(value, Mapping) else {}
    for key, sub in pattern.items():
        if key == "$or" and isinstance(sub, list) and all(isinstance(alt, Mapping) for alt in sub):
            for alternative in sub:
                yield from field_checks(alternative, value, path, through_array)
            continue
        child = fields.get(key, _MISSING)
        if not isinstance(sub, Mapping):
            yield FieldCheck((*path, key), list(sub), child, through_array)
        elif isinstance(child, list):
            elements = _flatten(child) or [_MISSING]
            for element in elements:
                yield from field_checks(sub, element, (*path, key), True)
        else:
            yield from field_checks(sub, child, (*path, key), through_array)


def _flatten(values: list[Any]) -> list[Any]:
    return [leaf for item in values for leaf in (_flatten(item) if isinstance(item, list) else [item])]


def _moto_matches(pattern: MotoEventPattern, event: Mapping[str, Any]) -> bool:
    # moto types events as its own TypedDict; any JSON object is what EventBridge accepts.
    return pattern.matches_event(cast(Any, event))


def explain(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> Difference | None:
    """The documented difference that accounts for the matchers disagreeing here, if any.

    A difference only counts if the leaf it describes is one the two matchers disagree on when
    that leaf is the whole pattern, so a difference elsewhere in the event cannot hide a bug.
    """
    for check in field_checks(pattern, event):
        alone = _nest(check.path, check.conditions)
        if EventPattern(alone).matches(event) == _moto_matches(MotoEventPattern(None, alone), event):
            continue
        for difference in DIFFERENCES:
            if difference.applies(check):
                return difference
    return None


# --- the corpus: template patterns, table patterns, samples ---------------------------------------


def template_patterns() -> list[dict[str, Any]]:
    return [
        dict(rule.pattern)
        for spec in load_template(ROOT / "template.yaml").functions()
        for rule in spec.pattern_rules
        if rule.pattern is not None
    ]


def sample_events() -> list[dict[str, Any]]:
    paths = sorted(EVENTS.glob("**/*.json")) + sorted(AWS_SAMPLES.glob("*.json"))
    loaded = [json.loads(path.read_text(encoding="utf-8")) for path in paths]
    return [EVENT, *(event for event in loaded if isinstance(event, dict))]


def _paths(value: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, value) of every field a pattern can name; paths go through objects and arrays of objects."""
    if isinstance(value, Mapping):
        for key, child in value.items():
            path = (*prefix, str(key))
            if isinstance(child, Mapping) and child:
                yield from _paths(child, path)
            else:
                yield path, child
                for element in child if isinstance(child, list) else []:
                    if isinstance(element, Mapping):
                        yield from _paths(element, path)


def _nest(path: tuple[str, ...], leaf: Any) -> dict[str, Any]:
    pattern: Any = leaf
    for key in reversed(path):
        pattern = {key: pattern}
    return dict(pattern)


def _merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _wildcard_of(text: str, rng: random.Random) -> str:
    start = rng.randrange(len(text) + 1)
    end = rng.randrange(start, len(text) + 1)

    def literal(part: str) -> str:
        return part.replace("\\", "\\\\").replace("*", "\\*")

    return literal(text[:start]) + "*" + literal(text[end:])


def conditions_for(value: Any, rng: random.Random) -> list[Any]:
    """A few conditions that may or may not hold for `value`, using every operator that applies."""
    leaf = rng.choice(_leaves(value) or [None])
    options: list[Any] = [{"exists": True}, {"exists": False}, _OTHER_STRING, {"anything-but": _OTHER_STRING}]
    if isinstance(leaf, str):
        cut = rng.randrange(len(leaf) + 1)
        options += [
            leaf,
            leaf.swapcase(),
            {"prefix": leaf[:cut]},
            {"suffix": leaf[cut:]},
            {"prefix": {"equals-ignore-case": leaf[:cut].swapcase()}},
            {"suffix": {"equals-ignore-case": leaf[cut:].upper()}},
            {"equals-ignore-case": leaf.swapcase()},
            {"wildcard": _wildcard_of(leaf, rng)},
            {"anything-but": leaf},
            {"anything-but": [leaf, _OTHER_STRING]},
            {"anything-but": {"prefix": leaf[:cut]}},
            {"anything-but": {"suffix": leaf[cut:]}},
            {"anything-but": {"equals-ignore-case": [leaf.upper()]}},
            {"anything-but": {"wildcard": _wildcard_of(leaf, rng)}},
            {"numeric": [">", 0]},
        ]
        try:
            address = ipaddress.ip_address(leaf)
            prefix = rng.choice([8, 24, 32] if address.version == 4 else [32, 64, 128])
            options.append({"cidr": str(ipaddress.ip_network(f"{leaf}/{prefix}", strict=False))})
        except ValueError:
            options.append({"cidr": "10.0.0.0/8"})
    elif isinstance(leaf, bool):
        options += [leaf, not leaf, str(leaf).lower(), int(leaf), {"numeric": ["=", int(leaf)]}]
    elif _is_number(leaf):
        options += [
            leaf,
            float(leaf),
            str(leaf),
            leaf + 1,
            {"numeric": ["=", leaf]},
            {"numeric": [">", leaf - 1, "<=", leaf]},
            {"numeric": [">=", leaf + 1]},
            {"numeric": ["<", leaf]},
            {"anything-but": leaf},
            {"anything-but": [leaf + 1, leaf + 2]},
            True,
        ]
    else:  # null, or a field holding no leaf
        options += [None, "", {"anything-but": [_OTHER_STRING]}]
    return rng.sample(options, k=rng.choice([1, 1, 2]))


def derived_patterns(event: Mapping[str, Any], rng: random.Random) -> Iterator[dict[str, Any]]:
    """Patterns built from the event's own fields, so that some match it and some just miss."""
    fields = list(_paths(event))
    for _ in range(PATTERNS_PER_EVENT):
        pattern: dict[str, Any] = {}
        for path, value in rng.sample(fields, k=min(len(fields), rng.choice([1, 2, 3]))):
            _merge(pattern, _nest(path, conditions_for(value, rng)))
        if rng.random() < 0.2:
            _merge(pattern, _nest(("detail", "notInTheEvent"), conditions_for(_MISSING, rng)))
        if rng.random() < 0.2:
            other = _nest(("source",), [_OTHER_STRING])
            pattern = {"$or": [pattern, other]} if rng.random() < 0.5 else {**other, "$or": [pattern, other]}
        yield pattern


def event_for(pattern: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
    """An event the pattern matches: each field takes a value that one of its conditions accepts."""
    event: dict[str, Any] = {}
    for key, sub in pattern.items():
        if key == "$or" and isinstance(sub, list) and all(isinstance(alt, Mapping) for alt in sub):
            _merge(event, event_for(rng.choice(sub), rng))
        elif isinstance(sub, Mapping):
            event[key] = event_for(sub, rng)
        elif (value := _satisfying(rng.choice(sub))) is not _MISSING:
            event[key] = value
    return event


def _satisfying(condition: Any) -> Any:  # noqa: PLR0911 - one answer per operator
    if not isinstance(condition, Mapping):
        return condition
    ((operator, argument),) = condition.items()
    text = argument["equals-ignore-case"].swapcase() if isinstance(argument, Mapping) else argument
    match operator:
        case "exists":
            return "present" if argument else _MISSING
        case "prefix":
            return f"{text}-more"
        case "suffix":
            return f"more-{text}"
        case "equals-ignore-case":
            return str(argument).swapcase()
        case "wildcard":
            return re.sub(r"\\(.)|\*", lambda m: m.group(1) or "any", argument)
        case "cidr":
            return str(ipaddress.ip_network(argument, strict=False).network_address)
        case "numeric":
            return _inside(argument)
    return _OTHER_STRING  # anything-but: a name no template pattern excludes


def _inside(numeric: list[Any]) -> float:
    """A number within a numeric filter's bounds."""
    bounds = dict(zip(numeric[::2], numeric[1::2], strict=True))
    low = next((bounds[op] for op in ("=", ">", ">=") if op in bounds), None)
    high = next((bounds[op] for op in ("<", "<=") if op in bounds), None)
    if "=" in bounds or high is None:
        return float(bounds.get("=", (low or 0) + 1))
    return float(high - 1 if low is None else (low + high) / 2)


def _mutated(value: Any, rng: random.Random) -> Any:
    leaf = rng.choice(_leaves(value) or [None])
    choices: list[Any] = [
        _MISSING,
        None,
        [],
        {},
        [leaf],
        [leaf, _OTHER_STRING],
        [[leaf]],
        [{"x": leaf}],
        {"x": leaf},
        _OTHER_STRING,
        True,
        1,
    ]
    if isinstance(leaf, str):
        choices += [leaf.swapcase(), leaf + "x", "x" + leaf, leaf[:-1]]
    if _is_number(leaf):
        choices += [str(leaf), leaf + 1, -leaf, float(leaf) + 0.5]
    if isinstance(value, list) and value:
        choices.append(value[0])
    return rng.choice(choices)


def mutations(event: Mapping[str, Any], pattern: Mapping[str, Any], rng: random.Random) -> Iterator[dict[str, Any]]:
    """The event with one field the pattern names (or any other) missing, changed, retyped or nested."""
    named = [path for path in _pattern_paths(pattern) if _has_path(event, path)]
    for _ in range(3):
        mutant = copy.deepcopy(dict(event))
        paths = named or [path for path, _ in _paths(mutant)]
        if not paths:
            return
        path = rng.choice(paths)
        parent: Any = mutant
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and path[-1] in parent:
            replacement = _mutated(parent[path[-1]], rng)
            if replacement is _MISSING:
                del parent[path[-1]]
            else:
                parent[path[-1]] = replacement
        yield mutant


def _pattern_paths(pattern: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, sub in pattern.items():
        if key == "$or" and isinstance(sub, list) and all(isinstance(alt, Mapping) for alt in sub):
            for alternative in sub:
                yield from _pattern_paths(alternative, prefix)
        elif isinstance(sub, Mapping):
            yield from _pattern_paths(sub, (*prefix, key))
        else:
            yield (*prefix, key)


def _has_path(event: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    node: Any = event
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return True


@dataclass
class Verdicts:
    compared: int = 0
    matched: int = 0
    seconds: float = 0.0
    explained: dict[str, int] = field(default_factory=lambda: {d.name: 0 for d in DIFFERENCES})
    unexplained: list[str] = field(default_factory=list)


def compare_all() -> Verdicts:
    started = time.perf_counter()
    rng = random.Random(SEED)  # noqa: S311 - seeded on purpose: the same cases on every run
    generated = [event_for(pattern, rng) for pattern in template_patterns() for _ in range(GENERATED_PER_PATTERN)]
    events = sample_events() + generated
    fixed = template_patterns() + [param.values[0] for param in MATCH_CASES]
    verdicts = Verdicts()
    for event in events:
        for pattern in [*fixed, *derived_patterns(event, rng)]:
            try:
                ours = EventPattern(pattern)
            except EventPatternError:
                continue  # a pattern PutRule refuses is never matched; validation has its own tests
            theirs = MotoEventPattern.load(json.dumps(pattern))
            for candidate in [event, *mutations(event, pattern, rng)]:
                verdict = ours.matches(candidate)
                verdicts.compared += 1
                verdicts.matched += verdict
                if verdict == _moto_matches(theirs, candidate):
                    continue
                difference = explain(pattern, candidate)
                if difference is None:
                    verdicts.unexplained.append(
                        f"ours={verdict} moto={not verdict}\n  pattern {json.dumps(pattern)}\n"
                        f"  event {json.dumps(candidate)[:600]}"
                    )
                else:
                    verdicts.explained[difference.name] += 1
    verdicts.seconds = time.perf_counter() - started
    return verdicts


@pytest.fixture(scope="module")
def verdicts() -> Verdicts:
    return compare_all()


# --- the tests ----------------------------------------------------------------------------------


def test_the_template_patterns_are_in_the_corpus() -> None:
    # Given the template / When its rules are read / Then every function's pattern is compared
    patterns = template_patterns()
    assert len(patterns) >= 4
    assert all("source" in pattern for pattern in patterns)


def test_events_generated_from_the_template_patterns_match_them() -> None:
    # Given events generated from each of the template's patterns
    rng = random.Random(SEED)  # noqa: S311 - seeded on purpose: the same cases on every run
    for pattern in template_patterns():
        for _ in range(GENERATED_PER_PATTERN):
            event = event_for(pattern, rng)
            # When both matchers judge them / Then both deliver them (the generator is sound)
            assert EventPattern(pattern).matches(event), (pattern, event)
            assert _moto_matches(MotoEventPattern(None, pattern), event), (pattern, event)


def test_ours_and_moto_agree_except_where_a_difference_is_documented(verdicts: Verdicts) -> None:
    # Given the template's and the table's patterns, patterns derived from every sample event, and
    # each event with a named field missing, changed, retyped, wrapped in arrays or nested
    # When both matchers judge every pair
    # Then each disagreement is one of the documented differences (or a bug to fix in ours)
    unexplained = verdicts.unexplained
    assert not unexplained, f"{len(unexplained)} unexplained disagreements, first ones:\n" + "\n".join(unexplained[:5])


def test_the_comparison_is_broad_and_not_one_sided(verdicts: Verdicts) -> None:
    # Given the generated corpus / When compared / Then it holds thousands of pairs, both verdicts often
    assert verdicts.compared >= 10_000
    assert 1_000 < verdicts.matched < verdicts.compared - 1_000


def test_every_documented_difference_still_occurs(verdicts: Verdicts) -> None:
    # Given the list of differences / When the corpus is compared / Then each still shows up
    # (a difference moto has since fixed, or that our generator no longer reaches, must go)
    assert all(count > 0 for count in verdicts.explained.values()), verdicts.explained


@pytest.mark.parametrize("difference", DIFFERENCES, ids=lambda d: d.name)
def test_each_difference_is_pinned_by_a_documented_case(difference: Difference) -> None:
    # Given a documented difference / When its case in the semantics table is looked up
    case_ids = {param.id for param in MATCH_CASES}
    # Then the table says what EventBridge does there, and ours is tested against that
    assert difference.case_id in case_ids


def test_the_comparison_stays_fast(verdicts: Verdicts) -> None:
    # Given the whole differential corpus / When compared / Then CI pays seconds, not minutes
    assert verdicts.seconds < 20
