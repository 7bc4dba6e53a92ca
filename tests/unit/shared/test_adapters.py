"""Adapters make the documented call with the right parameters and translate AWS errors (botocore Stubber)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from codereflex.aws.codebuild import CodeBuildProjects
from codereflex.aws.codecommit import CodeCommitHistory
from codereflex.aws.sns import SnsTopic
from codereflex.config import require, split_list
from codereflex.errors import (
    AccessDenied,
    ConfigurationError,
    NoCommonHistory,
    PermanentError,
    TargetGone,
    TransientError,
)

TOPIC = "arn:aws:sns:us-east-1:123456789012:codereflex-NotificationTopic"


@pytest.fixture
def sns() -> Iterator[tuple[SnsTopic, Stubber]]:
    client = boto3.client("sns", region_name="us-east-1")
    with Stubber(client) as stub:
        yield SnsTopic(client, TOPIC), stub
        stub.assert_no_pending_responses()


@pytest.fixture
def codecommit() -> Iterator[tuple[CodeCommitHistory, Stubber]]:
    client = boto3.client("codecommit", region_name="us-east-1")
    with Stubber(client) as stub:
        yield CodeCommitHistory(client), stub
        stub.assert_no_pending_responses()


def test_publish_sends_a_safe_subject_and_string_attributes(sns: tuple[SnsTopic, Stubber]) -> None:
    topic, stub = sns
    stub.add_response(
        "publish",
        {"MessageId": "m-1"},
        expected_params={
            "TopicArn": TOPIC,
            "Subject": "Tag ?t? deleted",
            "Message": "body",
            "MessageAttributes": {"repository": {"DataType": "String", "StringValue": "repo"}},
        },
    )
    # Empty attribute values are dropped: SNS rejects them
    assert topic.publish("Tag été deleted", "body", {"repository": "repo", "reference": ""}) == "m-1"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("NotFound", TargetGone),
        ("AuthorizationError", AccessDenied),
        ("KMSAccessDenied", AccessDenied),
        ("InvalidParameter", PermanentError),
        ("Throttling", TransientError),
        ("InternalError", TransientError),
    ],
)
def test_publish_errors_become_permanent_or_transient(
    sns: tuple[SnsTopic, Stubber], code: str, error: type[Exception]
) -> None:
    topic, stub = sns
    stub.add_client_error("publish", service_error_code=code)
    with pytest.raises(error, match=code):
        topic.publish("subject", "body", {})


def test_merge_base_asks_get_merge_options_with_old_as_destination(
    codecommit: tuple[CodeCommitHistory, Stubber],
) -> None:
    history, stub = codecommit
    stub.add_response(
        "get_merge_options",
        {
            "mergeOptions": ["FAST_FORWARD_MERGE"],
            "sourceCommitId": "b" * 40,
            "destinationCommitId": "a" * 40,
            "baseCommitId": "a" * 40,
        },
        expected_params={
            "repositoryName": "repo",
            "sourceCommitSpecifier": "b" * 40,
            "destinationCommitSpecifier": "a" * 40,
        },
    )
    assert history.merge_base("repo", "a" * 40, "b" * 40) == "a" * 40


@pytest.mark.parametrize("code", ["CommitDoesNotExistException", "MaximumItemsToCompareExceededException"])
def test_uncomparable_commits_are_an_answer_not_a_failure(
    codecommit: tuple[CodeCommitHistory, Stubber], code: str
) -> None:
    history, stub = codecommit
    stub.add_client_error("get_merge_options", service_error_code=code)
    assert history.merge_base("repo", "a" * 40, "b" * 40) is None


def test_tips_without_a_merge_base_are_told_apart_from_uncomparable_ones(
    codecommit: tuple[CodeCommitHistory, Stubber],
) -> None:
    # GetMergeOptions must return a merge base; for unrelated histories it can only refuse with this
    history, stub = codecommit
    stub.add_client_error("get_merge_options", service_error_code="TipsDivergenceExceededException")
    with pytest.raises(NoCommonHistory, match="share no history in repo"):
        history.merge_base("repo", "a" * 40, "b" * 40)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("RepositoryDoesNotExistException", TargetGone),
        ("AccessDeniedException", AccessDenied),
        ("ThrottlingException", TransientError),
    ],
)
def test_merge_base_failures_are_translated(
    codecommit: tuple[CodeCommitHistory, Stubber], code: str, error: type[Exception]
) -> None:
    history, stub = codecommit
    stub.add_client_error("get_merge_options", service_error_code=code)
    with pytest.raises(error, match="GetMergeOptions on repo"):
        history.merge_base("repo", "a" * 40, "b" * 40)


def test_settings_name_the_missing_key() -> None:
    with pytest.raises(ConfigurationError, match="NOTIFICATION_TOPIC_ARN"):
        require({"NOTIFICATION_TOPIC_ARN": "  "}, "NOTIFICATION_TOPIC_ARN")
    assert split_list(" main, master,,release/* ") == ("main", "master", "release/*")


def test_recent_builds_are_listed_without_a_sort_order() -> None:
    # CodeBuild refuses sortOrder on a project with more than 100 builds; its default is newest first
    client = boto3.client("codebuild", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("list_builds_for_project", {"ids": ["p:2", "p:1"]}, {"projectName": "p"})
        assert CodeBuildProjects(client).recent_build_ids("p") == ["p:2", "p:1"]
        stub.add_client_error("list_builds_for_project", service_error_code="ResourceNotFoundException")
        with pytest.raises(TargetGone, match="ListBuildsForProject of p"):
            CodeBuildProjects(client).recent_build_ids("p")
