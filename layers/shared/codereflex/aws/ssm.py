"""SSM Parameter Store: the optional per-repository build-project mapping, cached for a few minutes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from codereflex.aws.errors import translate
from codereflex.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


class ProjectMapping:
    """`{"repository": ["project", ...]}` read from one String parameter; one call per refresh.

    Kept for `max_age` seconds per execution environment, so a warm function does not pay a call
    per event and an edit takes effect within minutes.
    """

    def __init__(
        self, client: SSMClient, name: str, max_age: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._name = name
        self._max_age = max_age
        self._clock = clock
        self._cached: tuple[float, dict[str, tuple[str, ...]]] | None = None

    def mapping(self) -> dict[str, tuple[str, ...]]:
        if self._cached is not None and self._clock() - self._cached[0] < self._max_age:
            return self._cached[1]
        try:
            value = self._client.get_parameter(Name=self._name)["Parameter"].get("Value", "")
        except ClientError as error:
            raise translate(error, f"GetParameter {self._name}", gone=frozenset({"ParameterNotFound"})) from error
        parsed = parse_mapping(value, self._name)
        self._cached = (self._clock(), parsed)
        return parsed


def parse_mapping(value: str, name: str = "the project mapping") -> dict[str, tuple[str, ...]]:
    """Parse `{"repo": ["p1", "p2"]}` (a bare string is one project); anything else is a ConfigurationError."""
    try:
        raw = json.loads(value or "{}")
    except ValueError as error:
        raise ConfigurationError(f"{name} is not JSON") from error
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{name} must be a JSON object of repository → projects")
    parsed: dict[str, tuple[str, ...]] = {}
    for repository, projects in raw.items():
        items = [projects] if isinstance(projects, str) else projects
        if not isinstance(items, list) or not all(isinstance(p, str) and p for p in items):
            raise ConfigurationError(f"{name}: {repository} must map to a project name or a list of them")
        parsed[str(repository)] = tuple(items)
    return parsed
