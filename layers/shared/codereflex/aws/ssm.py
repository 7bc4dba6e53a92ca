"""SSM Parameter Store: the optional per-repository build-project and per-pipeline approver mappings, cached."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from codereflex.approvals.approvers import parse_approver_mapping
from codereflex.aws.errors import translate
from codereflex.errors import ConfigurationError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider
    from mypy_boto3_ssm import SSMClient


class CachedParameter:
    """One String parameter read by Powertools Parameters.

    Powertools keeps the value for `max_age` seconds per execution environment, so a warm function
    does not pay a call per event and an edit takes effect within minutes.
    """

    def __init__(self, client: SSMClient, name: str, max_age: int = 300) -> None:
        # Imported here: about 3 ms of a cold start, paid only by functions given a mapping parameter.
        from aws_lambda_powertools.utilities.parameters import SSMProvider  # noqa: PLC0415

        self._provider: SSMProvider = SSMProvider(boto3_client=client)
        self._name = name
        self._max_age = max_age

    @property
    def name(self) -> str:
        return self._name

    def _value(self) -> str:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError  # noqa: PLC0415

        try:
            value = self._provider.get(self._name, max_age=self._max_age)
        except GetParameterError as error:
            # Powertools keeps only the message; the service's error is the one it was raised handling.
            cause = error.__context__
            if isinstance(cause, ClientError):
                raise translate(cause, f"GetParameter {self._name}", gone=frozenset({"ParameterNotFound"})) from cause
            raise
        return value if isinstance(value, str) else ""


class ProjectMapping(CachedParameter):
    """`{"repository": ["project", ...]}`."""

    def mapping(self) -> dict[str, tuple[str, ...]]:
        return parse_mapping(self._value(), self._name)


class ApproverMapping(CachedParameter):
    """`{"pipeline": {"approvers": [...], "quorum": 2, "separateDuties": true}}` (codereflex.approvals.approvers)."""

    def mapping(self) -> dict[str, Mapping[str, Any]]:
        return parse_approver_mapping(self._value(), self._name)


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
