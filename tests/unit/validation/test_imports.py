"""The engine stays light on a cold start: no jsonschema, boto3 or secret rules, YAML only for a YAML spec."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parents[2] / "data" / "validation"
PROBE = """
import json, sys
import codereflex.validation.engine, codereflex.validation.report, codereflex.validation.html
from codereflex.validation.spec import load
load(open(sys.argv[1]).read())
print(json.dumps(sorted(m.split(".")[0] for m in sys.modules)))
"""


def loaded(spec: Path) -> set[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, str(spec)], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out))


def test_a_json_spec_loads_without_jsonschema_yaml_or_boto3() -> None:
    modules = loaded(DATA / "checkout-lambda.json")
    assert "codereflex" in modules
    assert not modules & {
        "jsonschema",
        "referencing",
        "yaml",
        "boto3",
        "botocore",
        "pydantic",
        "detect_secrets",
        "requests",
    }


def test_yaml_is_imported_for_a_yaml_spec() -> None:
    assert "yaml" in loaded(DATA / "orders-ecs.yaml")
