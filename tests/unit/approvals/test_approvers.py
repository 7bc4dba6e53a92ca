"""Who approves a pipeline: tags over the SSM mapping over the parameters, and a clear error for a bad setting."""

from __future__ import annotations

import pytest

from codereflex.approvals.approvers import (
    ApproverPolicy,
    checked_address,
    default_source,
    mapping_source,
    parse_approver_mapping,
    resolve,
    tag_source,
)
from codereflex.errors import ConfigurationError

PARAMETER = "/codereflex/approvers"
MAPPING = parse_approver_mapping(
    '{"payments": {"approvers": ["Lead@Example.com", "ops@example.com"], "quorum": 2, "separateDuties": true},'
    ' "billing": {"quorum": 1}}',
    PARAMETER,
)
DEFAULTS = default_source("alice@example.com, bob@example.com,", "1")


def policy(pipeline: str, tags: dict[str, str] | None = None) -> ApproverPolicy:
    return resolve(pipeline, tag_source(tags or {}), mapping_source(MAPPING, pipeline, PARAMETER), DEFAULTS)


def test_the_parameters_apply_to_a_pipeline_nobody_configured() -> None:
    assert policy("web") == ApproverPolicy(("alice@example.com", "bob@example.com"), 1, False)


def test_the_mapping_overrides_the_parameters_and_addresses_are_lowercased() -> None:
    assert policy("payments") == ApproverPolicy(("lead@example.com", "ops@example.com"), 2, True)
    # An entry that sets only the quorum keeps the parameters' approvers.
    assert policy("billing") == ApproverPolicy(("alice@example.com", "bob@example.com"), 1, False)


def test_tags_override_the_mapping_setting_by_setting() -> None:
    tags = {"codereflex:approvers": "ann@example.com  ann+ops@example.com ANN@example.com", "codereflex:quorum": "1"}
    assert policy("payments", tags) == ApproverPolicy(("ann@example.com", "ann+ops@example.com"), 1, True)
    assert policy("payments", {"codereflex:separate-duties": "FALSE"}).separate_duties is False
    assert policy("payments", {"codereflex:quorum": "1"}).approvers == ("lead@example.com", "ops@example.com")


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (
            {"codereflex:approvers": "alice@example.com bob@"},
            r"payments: 'bob@' in the pipeline's tag codereflex:approvers",
        ),
        ({"codereflex:approvers": "alice@example.com,bob@example.com"}, "not an email address"),
        ({"codereflex:approvers": "<alice@example.com>"}, "not an email address"),
        ({"codereflex:approvers": "a@" + "x" * 260 + ".com"}, "not an email address"),
        (
            {"codereflex:approvers": ""},
            "pipeline payments has no approvers .set them in the pipeline's tag",
        ),
        ({"codereflex:quorum": "3"}, "pipeline payments: a quorum of 3 needs at least 3 approvers, it has 2"),
        (
            {"codereflex:quorum": "0"},
            "payments: the quorum in the pipeline's tag codereflex:quorum must be",
        ),
        ({"codereflex:quorum": "two"}, "whole number"),
        (
            {"codereflex:separate-duties": "yes"},
            "payments: separate duties in the pipeline's tag codereflex:separate-",
        ),
    ],
)
def test_a_bad_setting_is_a_configuration_error_naming_the_pipeline(tags: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        policy("payments", tags)


def test_no_approvers_anywhere_is_a_configuration_error_naming_the_pipeline() -> None:
    with pytest.raises(ConfigurationError, match="pipeline web has no approvers"):
        resolve("web", tag_source({}), mapping_source({}, "web", PARAMETER), default_source("", "1"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not json", "is not JSON"),
        ('["payments"]', "must be a JSON object"),
        ('{"payments": ["a@example.com"]}', "must be a JSON object"),
    ],
)
def test_a_malformed_mapping_names_the_parameter(value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_approver_mapping(value, PARAMETER)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('{"payments": {"aprovers": ["a@example.com"]}}', "unknown settings aprovers"),
        ('{"payments": {"approvers": "a@example.com"}}', "must be a list of addresses"),
        ('{"payments": {"approvers": ["a@example.com"], "quorum": true}}', "whole number"),
        ('{"payments": {"approvers": ["a@example.com"], "quorum": 1.5}}', "whole number"),
        ('{"payments": {"approvers": ["a@example.com"], "separateDuties": "maybe"}}', "true or false"),
    ],
)
def test_a_bad_mapping_entry_stops_only_its_own_pipeline(entry: str, message: str) -> None:
    mapping = parse_approver_mapping(entry, PARAMETER)
    with pytest.raises(ConfigurationError, match=f"pipeline payments: .*{message}"):
        resolve("payments", mapping_source(mapping, "payments", PARAMETER), DEFAULTS)
    assert resolve("web", mapping_source(mapping, "web", PARAMETER), DEFAULTS).approvers == (
        "alice@example.com",
        "bob@example.com",
    )


def test_a_bad_default_address_is_named_with_the_pipeline_and_the_parameters() -> None:
    with pytest.raises(ConfigurationError, match=r"pipeline web: 'alice at example' in the stack's parameters"):
        resolve("web", default_source("alice at example", "1"))


def test_addresses_are_checked_and_lowercased() -> None:
    assert checked_address(" Alice.Smith+ops@Example.CO.uk ") == "alice.smith+ops@example.co.uk"
    for bad in ("alice", "alice@localhost", "a b@example.com", 'a"b@example.com', "a@b@example.com", "é@example.com"):
        assert checked_address(bad) is None
