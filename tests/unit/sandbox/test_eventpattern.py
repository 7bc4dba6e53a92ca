"""EventBridge pattern semantics the sandbox router relies on, one documented rule per row."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.lambdas.eventpattern import EventPattern, EventPatternError, matches, validate_pattern

EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "CodeCommit Repository State Change",
    "source": "aws.codecommit",
    "account": "123456789012",
    "time": "2026-11-23T18:43:48Z",
    "region": "us-east-1",
    "resources": [
        "arn:aws:codecommit:us-east-1:123456789012:my-repo",
        "arn:aws:codecommit:us-east-1:123456789012:other",
    ],
    "detail": {
        "event": "referenceUpdated",
        "repositoryName": "my-repo",
        "referenceType": "branch",
        "referenceName": "main",
        "commitCount": 5,
        "ratio": 5.0,
        "size": 301.8,
        "negative": -3,
        "countText": "5",
        "isDefault": True,
        "nothing": None,
        "empty": "",
        "emptyList": [],
        "sourceIp": "10.0.0.33",
        "ipv6": "2001:db8::1",
        "fileName": "Report.PNG",
        "tags": ["ci", "release"],
        "numbers": [1, 2, 3],
        "nestedList": [["deep"]],
        "author": {"name": "Alice", "email": "alice@example.com"},
        "files": [{"path": "src/app.py", "change": "M"}, {"path": "README.md", "change": "A"}],
        "path": "src/lib/util.py",
        "star": "a*b",
    },
}


def case(why: str, pattern: Any, expected: bool, event: dict[str, Any] | None = None) -> Any:
    return pytest.param(pattern, EVENT if event is None else event, expected, id=why)


def detail(**fields: Any) -> dict[str, Any]:
    return {"detail": fields}


MATCH_CASES = [
    # Plain values: a listed value must equal the event's value; the list is an OR.
    case("exact string matches", {"source": ["aws.codecommit"]}, True),
    case("any value in the pattern list may match", {"source": ["aws.codebuild", "aws.codecommit"]}, True),
    case("no listed value equals the event value", {"source": ["aws.codebuild"]}, False),
    case("string comparison is case-sensitive", {"source": ["AWS.CODECOMMIT"]}, False),
    case(
        "all pattern fields must match (AND)",
        {"source": ["aws.codecommit"], "detail-type": ["CodeCommit Repository State Change"]},
        True,
    ),
    case("one failing field fails the pattern", {"source": ["aws.codecommit"], "detail-type": ["Nope"]}, False),
    case("event fields absent from the pattern are ignored", {"region": ["us-east-1"]}, True),
    case("nested objects recurse", detail(event=["referenceUpdated"]), True),
    case("deeper nesting recurses too", detail(author={"name": ["Alice"]}), True),
    case("a pattern field missing from the event fails", detail(missing=["x"]), False),
    case("a missing parent object fails", {"nope": {"x": ["y"]}}, False),
    case(
        "an event array matches if any element matches",
        {"resources": ["arn:aws:codecommit:us-east-1:123456789012:other"]},
        True,
    ),
    case(
        "an event array with no matching element fails", {"resources": ["arn:aws:codecommit:us-east-1:1:third"]}, False
    ),
    case("pattern list and event array: a non-empty intersection matches", detail(tags=["release", "zzz"]), True),
    case("nested event arrays are flattened", detail(nestedList=["deep"]), True),
    case("a value never matches an object", {"detail": ["x"]}, False),
    case("an object field is not a leaf value", detail(author=["Alice"]), False),
    case("literals and filters mix in one list (OR)", detail(event=[{"prefix": "x"}, "referenceUpdated"]), True),
    # JSON types never cross.
    case("integer equals integer", detail(commitCount=[5]), True),
    case("numbers compare numerically: 5.0 in the pattern matches 5", detail(commitCount=[5.0]), True),
    case("numbers compare numerically: 5 in the pattern matches 5.0", detail(ratio=[5]), True),
    case("a string never matches a number", detail(commitCount=["5"]), False),
    case("a number never matches a numeric string", detail(countText=[5]), False),
    case("true matches true", detail(isDefault=[True]), True),
    case("the string 'true' is not the boolean true", detail(isDefault=["true"]), False),
    case("true is not the number 1", detail(numbers=[True]), False),
    case("null matches JSON null", detail(nothing=[None]), True),
    case("null does not match an absent field", detail(missing=[None]), False),
    case("the empty string matches the empty string", detail(empty=[""]), True),
    case("the empty string does not match null", detail(nothing=[""]), False),
    case("the empty string does not match an absent field", detail(missing=[""]), False),
    case("the empty string does not match a non-empty string", detail(repositoryName=[""]), False),
    # prefix / suffix / equals-ignore-case
    case("prefix on a string", {"time": [{"prefix": "2026-11-23"}]}, True),
    case("prefix that does not match", {"time": [{"prefix": "2026-11-24"}]}, False),
    case("prefix over an event array", {"resources": [{"prefix": "arn:aws:codecommit:"}]}, True),
    case("prefix only applies to strings", detail(commitCount=[{"prefix": "5"}]), False),
    case("prefix with equals-ignore-case", detail(repositoryName=[{"prefix": {"equals-ignore-case": "MY-"}}]), True),
    case("suffix is case-sensitive", detail(fileName=[{"suffix": ".png"}]), False),
    case("suffix matching the exact case", detail(fileName=[{"suffix": ".PNG"}]), True),
    case("suffix with equals-ignore-case", detail(fileName=[{"suffix": {"equals-ignore-case": ".png"}}]), True),
    case("equals-ignore-case matches other casings", detail(author={"name": [{"equals-ignore-case": "ALICE"}]}), True),
    case(
        "equals-ignore-case still needs equal text", detail(author={"name": [{"equals-ignore-case": "alicia"}]}), False
    ),
    # anything-but
    case("anything-but a different string", detail(event=[{"anything-but": "referenceDeleted"}]), True),
    case("anything-but the event's own value", detail(event=[{"anything-but": "referenceUpdated"}]), False),
    case(
        "anything-but a list containing the value",
        detail(event=[{"anything-but": ["referenceCreated", "referenceUpdated"]}]),
        False,
    ),
    case("anything-but a list of numbers", detail(commitCount=[{"anything-but": [1, 2, 3]}]), True),
    case("anything-but compares numbers numerically", detail(ratio=[{"anything-but": 5}]), False),
    case("anything-but over an array: one other element suffices", detail(tags=[{"anything-but": "ci"}]), True),
    case("anything-but never matches an absent field", detail(missing=[{"anything-but": "x"}]), False),
    case("anything-but prefix excluding the value", detail(referenceName=[{"anything-but": {"prefix": "ma"}}]), False),
    case(
        "anything-but prefix letting it through", detail(referenceName=[{"anything-but": {"prefix": "feature/"}}]), True
    ),
    case("anything-but suffix", detail(fileName=[{"anything-but": {"suffix": ".PNG"}}]), False),
    case(
        "anything-but equals-ignore-case",
        detail(event=[{"anything-but": {"equals-ignore-case": ["REFERENCEUPDATED"]}}]),
        False,
    ),
    case("anything-but wildcard", detail(path=[{"anything-but": {"wildcard": "*/lib/*"}}]), False),
    # numeric
    case("numeric range with an inclusive upper bound", detail(commitCount=[{"numeric": [">", 0, "<=", 5]}]), True),
    case("numeric range with an exclusive upper bound", detail(commitCount=[{"numeric": [">", 0, "<", 5]}]), False),
    case("numeric equality with exponent notation", detail(size=[{"numeric": ["=", 3.018e2]}]), True),
    case("numeric with negative numbers", detail(negative=[{"numeric": ["<", 0]}]), True),
    case("numeric over an event array", detail(numbers=[{"numeric": [">=", 3]}]), True),
    case("numeric never matches a string", detail(repositoryName=[{"numeric": [">", 0]}]), False),
    case("numeric never matches a numeric string", detail(countText=[{"numeric": [">", 0]}]), False),
    case("numeric never matches a boolean", detail(isDefault=[{"numeric": ["=", 1]}]), False),
    # exists (leaf nodes only)
    case("exists true on a present value", detail(commitCount=[{"exists": True}]), True),
    case("exists false on an absent field", detail(missing=[{"exists": False}]), True),
    case("exists false on a present value", detail(commitCount=[{"exists": False}]), False),
    case("exists true on an absent field", detail(missing=[{"exists": True}]), False),
    case("exists true is false for an object (not a leaf)", detail(author=[{"exists": True}]), False),
    case("exists false is true for an object (not a leaf)", detail(author=[{"exists": False}]), True),
    case("null is a present value", detail(nothing=[{"exists": True}]), True),
    case("an empty array holds no value", detail(emptyList=[{"exists": False}]), True),
    case("exists false when the parent is absent too", {"nope": {"deeper": [{"exists": False}]}}, True),
    case("exists is one more OR alternative", detail(missing=["x", {"exists": False}]), True),
    # cidr
    case("cidr containing the address", detail(sourceIp=[{"cidr": "10.0.0.0/24"}]), True),
    case("cidr not containing the address", detail(sourceIp=[{"cidr": "10.0.1.0/24"}]), False),
    case("cidr with IPv6", detail(ipv6=[{"cidr": "2001:db8::/32"}]), True),
    case("an IPv4 address is never in an IPv6 block", detail(sourceIp=[{"cidr": "2001:db8::/32"}]), False),
    case("cidr never matches a non-address", detail(repositoryName=[{"cidr": "0.0.0.0/0"}]), False),
    case("cidr never matches a number", detail(commitCount=[{"cidr": "0.0.0.0/0"}]), False),
    # wildcard
    case("wildcard * spans any characters, / included", detail(path=[{"wildcard": "src/*.py"}]), True),
    case("wildcard that does not match", detail(path=[{"wildcard": "*.js"}]), False),
    case("wildcard * matches the empty string", detail(repositoryName=[{"wildcard": "my-repo*"}]), True),
    case("an escaped star is a literal star", detail(star=[{"wildcard": "a\\*b"}]), True),
    case("an escaped star does not act as a wildcard", detail(path=[{"wildcard": "src\\*"}]), False),
    # $or
    case(
        "$or: one alternative suffices",
        {"source": ["aws.codecommit"], "$or": [{"detail-type": ["Nope"]}, detail(event=["referenceUpdated"])]},
        True,
    ),
    case("$or: no alternative matches", {"$or": [{"source": ["x"]}, {"detail-type": ["y"]}]}, False),
    case(
        "$or inside a nested object",
        {"detail": {"$or": [{"commitCount": [{"numeric": [">", 10]}]}, {"referenceType": ["branch"]}]}},
        True,
    ),
    case(
        "$or is ANDed with its sibling fields",
        {"source": ["aws.codebuild"], "$or": [{"source": ["aws.codecommit"]}, {"region": ["us-east-1"]}]},
        False,
    ),
    case(
        "$or nests",
        {"$or": [{"source": ["aws.codebuild"]}, {"$or": [{"region": ["eu-west-1"]}, {"account": ["123456789012"]}]}]},
        True,
    ),
    case("$or over scalars is an ordinary field name", {"$or": ["x"]}, True, event={"$or": "x"}),
    # arrays of objects
    case("a sub-pattern matches an element of an array of objects", detail(files={"path": ["README.md"]}), True),
    case("two fields matched by the same array element", detail(files={"path": ["README.md"], "change": ["A"]}), True),
    case(
        "two fields may not be matched by different array elements",
        detail(files={"path": ["README.md"], "change": ["M"]}),
        False,
    ),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), MATCH_CASES)
def test_matches(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    # Given a valid pattern and an event
    # When EventBridge evaluates the rule
    result = matches(pattern, event)
    # Then it delivers the event exactly when the documented rule says so
    assert result is expected


def test_the_case_table_covers_the_rules() -> None:
    # Given the table above / When counted / Then it is as thorough as the router needs
    assert len(MATCH_CASES) >= 60


def test_a_pattern_given_as_json_text_is_parsed() -> None:
    # Given a pattern as the JSON string PutRule takes
    pattern = '{"source": ["aws.codecommit"], "detail": {"event": ["referenceUpdated"]}}'
    # When it is compiled and matched
    compiled = EventPattern(pattern)
    # Then it behaves like the parsed object
    assert compiled.matches(EVENT)
    assert "aws.codecommit" in repr(compiled)


def test_matching_does_not_modify_pattern_or_event() -> None:
    # Given a pattern using several operators
    pattern = {"detail": {"files": {"path": [{"suffix": ".md"}]}, "tags": [{"anything-but": ["x"]}]}}
    before = repr(pattern), repr(EVENT)
    # When it is matched
    assert matches(pattern, EVENT)
    # Then neither input changed
    assert (repr(pattern), repr(EVENT)) == before


INVALID_CASES = [
    pytest.param({"source": "aws.codecommit"}, "source: match values must be in an array", id="scalar leaf"),
    pytest.param({"detail": {"event": "x"}}, "detail.event: match values must be in an array", id="nested scalar leaf"),
    pytest.param({"detail": {"count": 5}}, "detail.count: match values must be in an array", id="number leaf"),
    pytest.param(["source"], "must be a JSON object", id="not an object"),
    pytest.param({}, "must not be empty", id="empty pattern"),
    pytest.param({"source": []}, "source: empty arrays are not allowed", id="empty list"),
    pytest.param({"detail": {}}, "detail: empty objects are not allowed", id="empty object"),
    pytest.param({"source": [["a"]]}, "nested arrays", id="nested array"),
    pytest.param({"source": [{"prefix": "a", "suffix": "b"}]}, "exactly one operator", id="two operators"),
    pytest.param({"source": [{"contains": "a"}]}, "unknown operator 'contains'", id="unknown operator"),
    pytest.param({"source": [{"prefix": 5}]}, "prefix takes a string", id="prefix of a number"),
    pytest.param({"source": [{"prefix": {"equals-ignore-case": 5}}]}, "prefix takes a string", id="prefix eic number"),
    pytest.param({"n": [{"numeric": [">", "5"]}]}, "must be a number", id="numeric string operand"),
    pytest.param({"n": [{"numeric": ["!=", 5]}]}, "unknown numeric operator", id="numeric bad operator"),
    pytest.param({"n": [{"numeric": [">", 5, ">", 6]}]}, "more than one lower bound", id="two lower bounds"),
    pytest.param({"n": [{"numeric": [">", 10, "<", 5]}]}, "lower bound must be below", id="empty range"),
    pytest.param({"n": [{"numeric": ["=", 5, "<", 6]}]}, "cannot be combined", id="equals with a range"),
    pytest.param({"n": [{"numeric": [">"]}]}, "operator/value pairs", id="numeric odd length"),
    pytest.param({"n": [{"numeric": ["<", 6e9]}]}, "between -5.0e9 and 5.0e9", id="numeric out of range"),
    pytest.param({"n": [{"numeric": ["<", True]}]}, "must be a number", id="numeric boolean operand"),
    pytest.param({"n": [{"exists": "yes"}]}, "exists takes true or false", id="exists not boolean"),
    pytest.param({"ip": [{"cidr": "10.0.0.0/33"}]}, "invalid cidr", id="bad cidr"),
    pytest.param({"s": [{"wildcard": "a**b"}]}, "consecutive wildcard", id="consecutive wildcards"),
    pytest.param({"s": [{"wildcard": "a\\b"}]}, "escapes something other", id="bad wildcard escape"),
    pytest.param({"s": [{"anything-but": ["a", 1]}]}, "all strings or all numbers", id="anything-but mixed list"),
    pytest.param({"s": [{"anything-but": {"numeric": [">", 1]}}]}, "anything-but takes", id="anything-but numeric"),
    pytest.param({"s": [{"anything-but": []}]}, "at least one value", id="anything-but empty list"),
    pytest.param({"s": [{"anything-but": True}]}, "anything-but takes", id="anything-but boolean"),
    pytest.param({"$or": [{"source": ["a"]}]}, "$or needs at least two sub-patterns", id="$or with one branch"),
    pytest.param({"$or": [{"source": ["a"]}, {}]}, "empty objects are not allowed", id="$or with an empty branch"),
    pytest.param({"$or": [{"source": "a"}, {"b": ["c"]}]}, "source: match values must be in an array", id="$or leaf"),
    pytest.param('{"source": [', "not valid JSON", id="broken JSON text"),
]


@pytest.mark.parametrize(("pattern", "message"), INVALID_CASES)
def test_malformed_patterns_are_rejected_with_a_clear_message(pattern: Any, message: str) -> None:
    # Given a pattern EventBridge's PutRule would refuse
    # When it is compiled
    with pytest.raises(EventPatternError) as raised:
        EventPattern(pattern)
    # Then the error says what is wrong, and where
    assert message in str(raised.value)


@pytest.mark.parametrize(("pattern", "event", "expected"), MATCH_CASES)
def test_every_matching_case_uses_a_valid_pattern(pattern: Any, event: dict[str, Any], expected: bool) -> None:
    # Given a pattern from the matching table / When validated / Then it is accepted
    validate_pattern(pattern)
