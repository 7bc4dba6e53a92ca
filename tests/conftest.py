"""Fixtures every test level shares: a fake AWS environment, the event corpus, a Lambda context."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
# Real AWS sample events, copied verbatim from the team's shared/aws-events (SOURCES.md says where
# each comes from): the tests read this copy, so a clone anywhere passes them.
AWS_SAMPLES = ROOT / "tests" / "data" / "aws-samples"


@pytest.fixture(autouse=True)
def _fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test may reach real AWS: fake credentials, a fixed region, Powertools quiet and local."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "CodeReflexTest",
        "POWERTOOLS_SERVICE_NAME": "codereflex-test",
        "POWERTOOLS_DEV": "false",
    }.items():
        monkeypatch.setenv(key, value)
    yield


def load_json(path: Path) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    """Load `events/<name>` (the same files `sam local invoke -e` and `python -m sandbox invoke` use)."""
    return lambda name: load_json(EVENTS / name)


@pytest.fixture
def aws_sample() -> Callable[[str], dict[str, Any]]:
    """Load a real AWS sample event from tests/data/aws-samples/."""
    return lambda name: load_json(AWS_SAMPLES / name)


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/11/23/[$LATEST]0123456789abcdef"
    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def lambda_context() -> LambdaContext:
    return cast(LambdaContext, FakeLambdaContext())
