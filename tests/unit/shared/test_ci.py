"""Which projects build a repository: the convention, the SSM mapping (cached), the scope."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from codereflex.aws.ssm import ProjectMapping, parse_mapping
from codereflex.ci.builds import repository_from_source
from codereflex.ci.projects import ConfiguredProjects, ProjectScope, in_scope, projects_for
from codereflex.errors import ConfigurationError, TargetGone


def test_the_convention_names_the_projects() -> None:
    assert projects_for("payments", ("{repository}-ci", "{repository}-lint"), {}) == ("payments-ci", "payments-lint")


def test_the_mapping_wins_over_the_convention() -> None:
    assert projects_for("payments", ("{repository}-ci",), {"payments": ["build", "e2e"]}) == ("build", "e2e")


def test_scope_globs() -> None:
    assert in_scope("team-payments", ("team-*",))
    assert not in_scope("other", ("team-*",))
    assert in_scope("anything", ("*",))


def test_scope_from_the_environment() -> None:
    scope = ProjectScope.from_env(
        {"REPOSITORIES": "a,b*", "BUILD_PROJECTS": "{repository}-x", "BUILD_PROJECTS_PARAMETER": ""}
    )
    assert scope == ProjectScope(("a", "b*"), ("{repository}-x",), None)


def test_the_repository_of_a_codecommit_source() -> None:
    assert repository_from_source("https://git-codecommit.us-east-1.amazonaws.com/v1/repos/payments") == "payments"
    assert repository_from_source("my-bucket/source.zip") is None


@pytest.mark.parametrize("value", ["not json", "[]", '{"repo": 3}', '{"repo": [""]}'])
def test_a_malformed_mapping_is_a_configuration_error(value: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_mapping(value)


def _answer(value: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """One GetParameter as Powertools Parameters sends it (no decryption), and SSM's answer."""
    return {"Parameter": {"Name": "/codereflex/p", "Value": json.dumps(value)}}, {
        "Name": "/codereflex/p",
        "WithDecryption": False,
    }


def test_the_mapping_is_read_once_per_max_age() -> None:
    # Given an SSM client that answers exactly one GetParameter
    client = boto3.client("ssm", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("get_parameter", *_answer({"r": "proj"}))
        mapping = ProjectMapping(client, "/codereflex/p", max_age=300)
        catalog = ConfiguredProjects(ProjectScope(), mapping)
        # When it is asked twice within the max age
        first = catalog.projects_for("r")
        second = catalog.projects_for("other")
        # Then one call served both, and the unmapped repository falls back to the convention
        stub.assert_no_pending_responses()
    assert (first, second) == (("proj",), ("other-ci",))


def test_the_mapping_is_read_again_once_its_max_age_is_over() -> None:
    # Given a mapping kept for no time at all, edited between two events
    client = boto3.client("ssm", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("get_parameter", *_answer({"r": "before"}))
        stub.add_response("get_parameter", *_answer({"r": "after"}))
        catalog = ConfiguredProjects(ProjectScope(), ProjectMapping(client, "/codereflex/p", max_age=0))
        # Then each event sees the parameter as it is
        assert [catalog.projects_for("r"), catalog.projects_for("r")] == [("before",), ("after",)]
        stub.assert_no_pending_responses()


def test_a_missing_mapping_parameter_is_a_permanent_error_naming_it() -> None:
    client = boto3.client("ssm", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("get_parameter", "ParameterNotFound", "not found")
        with pytest.raises(TargetGone, match="/codereflex/gone"):
            ProjectMapping(client, "/codereflex/gone").mapping()
