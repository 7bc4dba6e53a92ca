"""What the build results tests share: a sandbox with only the build capabilities on, quiet."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.demo.ci_scenario import BUILDS_ONLY
from sandbox.local import Sandbox

QUIET = {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(function_env=QUIET, parameters=BUILDS_ONLY) as running:
        yield running
