"""The per-pipeline approver mapping from moto's SSM, resolved with a pipeline's tags and the parameters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import moto
import pytest

from codereflex.approvals.approvers import (
    ApproverPolicy,
    ConfiguredApprovers,
    default_source,
    mapping_source,
    resolve,
    tag_source,
)
from codereflex.aws.ssm import ApproverMapping
from codereflex.errors import ConfigurationError, TargetGone

NAME = "/codereflex/approvers"


@pytest.fixture
def ssm() -> Iterator[Any]:
    with moto.mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def test_a_pipeline_in_the_mapping_gets_its_approvers(ssm: Any) -> None:
    value = {"payments": {"approvers": ["Lead@example.com", "ops@example.com"], "quorum": 2}}
    ssm.put_parameter(Name=NAME, Type="String", Value=json.dumps(value))
    mapping = ApproverMapping(ssm, NAME)
    sources = (mapping_source(mapping.mapping(), "payments", mapping.name), default_source("dev@example.com", "1"))
    assert resolve("payments", tag_source({"codereflex:separate-duties": "true"}), *sources) == ApproverPolicy(
        ("lead@example.com", "ops@example.com"), 2, True
    )


def test_a_missing_parameter_is_gone_and_a_malformed_one_a_configuration_error(ssm: Any) -> None:
    with pytest.raises(TargetGone, match=NAME):
        ApproverMapping(ssm, NAME).mapping()
    ssm.put_parameter(Name=NAME, Type="String", Value='["payments"]')
    with pytest.raises(ConfigurationError, match=NAME):
        ApproverMapping(ssm, NAME).mapping()


def test_configured_approvers_resolve_tags_then_mapping_then_defaults(ssm: Any) -> None:
    value = {"payments": {"approvers": ["lead@example.com", "ops@example.com"], "quorum": 2}}
    ssm.put_parameter(Name=NAME, Type="String", Value=json.dumps(value))
    tags = {"billing": {"codereflex:approvers": "fin@example.com"}, "payments": {"codereflex:quorum": "1"}}
    approvers = ConfiguredApprovers(
        defaults=("dev@example.com",), quorum=1, tags=lambda p: tags.get(p, {}), ssm=ssm, parameter=NAME
    )
    assert approvers.policy("payments") == ApproverPolicy(("lead@example.com", "ops@example.com"), 1, False)
    assert approvers.policy("billing") == ApproverPolicy(("fin@example.com",), 1, False)
    assert approvers.policy("web") == ApproverPolicy(("dev@example.com",), 1, False)
    without_mapping = ConfiguredApprovers(defaults=(), quorum=1, tags=lambda p: {})
    with pytest.raises(ConfigurationError, match="pipeline web has no approvers"):
        without_mapping.policy("web")
