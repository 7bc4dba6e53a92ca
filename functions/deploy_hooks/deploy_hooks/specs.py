"""The validation spec of a deployment group, read from S3 (`specs/<application>/<group>.yaml|.json`) and loaded."""

from __future__ import annotations

from typing import Protocol

from codereflex.aws.codedeploy import Deployment
from codereflex.errors import ConfigurationError
from codereflex.validation.spec import Spec, SpecError, load

PREFIX = "specs/"
SUFFIXES = (".yaml", ".json")


class SpecSource(Protocol):
    bucket: str

    def read(self, key: str) -> bytes | None:
        """The object's bytes, None when there is none."""
        ...


class MissingSpec(ConfigurationError):
    reason = "missing-spec"


def spec_keys(application: str, group: str) -> tuple[str, ...]:
    return tuple(f"{PREFIX}{application}/{group}{suffix}" for suffix in SUFFIXES)


def load_spec(source: SpecSource, deployment: Deployment, run_seconds: float) -> Spec:
    """The group's one spec, refused (SpecError) if bad, unresolvable or too long for the time it has."""
    keys = spec_keys(deployment.application, deployment.group)
    found = [(key, text) for key in keys if (text := source.read(key)) is not None]
    where = " or ".join(f"s3://{source.bucket}/{key}" for key in keys)
    if not found:
        raise MissingSpec(f"no validation spec for {deployment.application}/{deployment.group} at {where}")
    if len(found) > 1:
        raise MissingSpec(f"two specs for {deployment.application}/{deployment.group} ({where}): keep one")
    key, text = found[0]
    try:
        return load(text, run_seconds=run_seconds)
    except SpecError as error:
        raise SpecError([f"spec s3://{source.bucket}/{key}: {'; '.join(error.problems)}"]) from None
