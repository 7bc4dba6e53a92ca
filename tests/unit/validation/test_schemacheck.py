"""The engine's own schema validator agrees with jsonschema (a dev dependency only) on schema.json."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from codereflex.validation import schemacheck

DATA = Path(__file__).parents[2] / "data" / "validation"
EXAMPLES = sorted(DATA.glob("*.yaml")) + sorted(DATA.glob("*.json"))


def example(path: Path) -> Any:
    return yaml.safe_load(path.read_text()) if path.suffix == ".yaml" else json.loads(path.read_text())


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(dict(schemacheck.spec_schema()))


def test_the_schema_uses_only_keywords_the_validator_implements() -> None:
    def walk(node: Any, in_properties: bool = False) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not in_properties:
                    assert key in schemacheck.KEYWORDS, key
                walk(value, in_properties=key in ("properties", "$defs") and not in_properties)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(dict(schemacheck.spec_schema()))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_examples_are_valid_for_both(path: Path) -> None:
    document = example(path)
    assert schemacheck.problems(document) == []
    jsonschema.validate(document, dict(schemacheck.spec_schema()))


def mutations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Documents one edit away from a valid one, each the kind of mistake an operator makes."""

    def edit(label: str, change: Any) -> tuple[str, dict[str, Any]]:
        copied = copy.deepcopy(document)
        change(copied)
        return label, copied

    first = 0
    return [
        edit("no checks", lambda d: d.update(checks=[])),
        edit("version 2", lambda d: d.update(version=2)),
        edit("unknown top field", lambda d: d.update(extra=1)),
        edit("unknown check field", lambda d: d["checks"][first].update(sampels={"count": 1})),
        edit("unknown type", lambda d: d["checks"][first].update(type="tcp")),
        edit("count 0", lambda d: d["checks"][first]["sampling"].update(count=0)),
        edit("count as text", lambda d: d["checks"][first]["sampling"].update(count="10")),
        edit("count true", lambda d: d["checks"][first]["sampling"].update(count=True)),
        edit("tls off", lambda d: d["checks"][first]["request"].update(tlsVerify=False)),
        edit("bad latency", lambda d: d["checks"][first]["assert"].update(latencyMs={"p99": "fast"})),
        edit("mean latency", lambda d: d["checks"][first]["assert"].update(latencyMs={"avg": "<=5"})),
        edit("rate 1", lambda d: d["checks"][first].update(maxFailureRate=1)),
        edit("onError pass", lambda d: d["checks"][first].update(onError="pass")),
        edit("bad name", lambda d: d["checks"][first].update(name="has space")),
        edit("no request", lambda d: d["checks"][first].pop("request")),
        edit("null hooks", lambda d: d.update(hooks=None)),
        edit("number name", lambda d: d.update(name=5)),
    ]


@pytest.mark.parametrize("path", EXAMPLES[:1], ids=lambda p: p.name)
def test_both_refuse_the_same_mistakes(path: Path) -> None:
    validator = jsonschema.Draft202012Validator(dict(schemacheck.spec_schema()))
    for label, document in mutations(example(path)):
        ours = schemacheck.problems(document)
        theirs = list(validator.iter_errors(document))
        assert ours, label
        assert theirs, label


def test_problems_name_where_and_what() -> None:
    document = example(EXAMPLES[0])
    document["checks"][0]["sampling"]["count"] = 0
    assert schemacheck.problems(document) == ["$.checks[0].sampling.count: must be at least 1"]


def test_an_unknown_keyword_in_a_schema_is_a_bug_not_ignored() -> None:
    with pytest.raises(ValueError, match="not implemented"):
        schemacheck.problems(1, {"multipleOf": 2})


def test_integers_and_booleans_as_json_schema_has_them() -> None:
    assert schemacheck.problems(1.0, {"type": "integer"}) == []
    assert schemacheck.problems(True, {"type": "integer"})
    assert schemacheck.problems(True, {"const": 1})
    assert schemacheck.problems(1, {"enum": [1.0]}) == []
