"""Sandbox CodeCommit repositories are bare git repos in the store: create, import, list, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pygit2
import pytest
from botocore.exceptions import ClientError
from moto.codecommit.exceptions import RepositoryNameExistsException

from sandbox.aws.moto_ext import codecommit as codecommit_ext
from sandbox.aws.moto_ext import import_repository
from sandbox.git import gitstore

from .conftest import GitRepo

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from mypy_boto3_codecommit import CodeCommitClient

    from sandbox.git.gitstore import GitStore


def test_create_repository_makes_a_bare_repo_behind_the_store_clone_url(
    codecommit: CodeCommitClient, git_store: GitStore
) -> None:
    # Given a configured git store
    # When a repository is created through the API
    created = codecommit.create_repository(repositoryName="app", repositoryDescription="the app")["repositoryMetadata"]

    # Then it is cloned from the sandbox git server, and the bare repo exists on disk
    assert created["cloneUrlHttp"] == git_store.clone_url("app")
    assert pygit2.Repository(str(git_store.path_for("app"))).is_bare
    # And moto's own metadata is kept
    fetched = codecommit.get_repository(repositoryName="app")["repositoryMetadata"]
    assert fetched["cloneUrlHttp"] == created["cloneUrlHttp"]
    assert fetched["repositoryId"] == created["repositoryId"]
    assert fetched["Arn"].endswith(":app")
    assert fetched["repositoryDescription"] == "the app"


def test_create_repository_without_a_store_says_how_to_configure_one(
    codecommit: CodeCommitClient, git_store: GitStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no git store
    monkeypatch.setattr(gitstore, "_current", None)

    # When a repository is created
    with pytest.raises(ClientError) as raised:
        codecommit.create_repository(repositoryName="app")

    # Then the error names the missing configuration, and no half-made repository is left
    assert raised.value.response["Error"]["Code"] == "SandboxNotConfiguredException"
    assert "gitstore.configure" in raised.value.response["Error"]["Message"]
    gitstore.configure(git_store)
    with pytest.raises(codecommit.exceptions.RepositoryDoesNotExistException):
        codecommit.get_repository(repositoryName="app")


def test_default_branch_appears_once_something_is_pushed(
    codecommit: CodeCommitClient, new_repo: Callable[[str], GitRepo]
) -> None:
    # Given an empty repository
    repo = new_repo("app")
    assert "defaultBranch" not in codecommit.get_repository(repositoryName="app")["repositoryMetadata"]

    # When a first branch is pushed
    repo.commit("main", {"README.md": "hello"})

    # Then it becomes the default branch
    assert codecommit.get_repository(repositoryName="app")["repositoryMetadata"]["defaultBranch"] == "main"


def test_delete_repository_removes_it_and_its_git_data(
    codecommit: CodeCommitClient, new_repo: Callable[[str], GitRepo]
) -> None:
    # Given a repository with history
    repo = new_repo("app")
    repo.commit("main", {"README.md": "hello"})

    # When it is deleted
    deleted = codecommit.delete_repository(repositoryName="app")

    # Then it is gone from the API and from disk
    assert deleted["repositoryId"]
    assert not repo.path.exists()
    with pytest.raises(codecommit.exceptions.RepositoryDoesNotExistException):
        codecommit.get_repository(repositoryName="app")


def test_import_repository_serves_existing_history_and_leaves_it_on_delete(
    codecommit: CodeCommitClient, git_store: GitStore, tmp_path: Path
) -> None:
    # Given a bare repository with history outside the store
    outside = tmp_path / "elsewhere" / "legacy.git"
    pygit2.init_repository(str(outside), bare=True)
    tip = GitRepo(outside).commit("main", {"app.py": "print('hi')"}, message="Legacy history")

    # When it is imported
    metadata = import_repository("legacy", outside)

    # Then the API reads its history as it is, through the store's clone URL
    assert metadata["cloneUrlHttp"] == git_store.clone_url("legacy")
    assert codecommit.get_branch(repositoryName="legacy", branchName="main")["branch"]["commitId"] == tip
    assert codecommit.get_commit(repositoryName="legacy", commitId=tip)["commit"]["message"] == "Legacy history\n"

    # And deleting the repository forgets it without deleting someone else's directory
    codecommit.delete_repository(repositoryName="legacy")
    assert (outside / "HEAD").exists()
    assert git_store.path_for("legacy") != outside.resolve()


def test_import_repository_refuses_a_taken_name_or_a_non_repository(
    codecommit: CodeCommitClient, tmp_path: Path
) -> None:
    # Given an existing repository and a plain directory
    codecommit.create_repository(repositoryName="app")
    other = tmp_path / "other.git"
    pygit2.init_repository(str(other), bare=True)
    (tmp_path / "plain").mkdir()

    # When either is imported, Then the import is refused
    with pytest.raises(RepositoryNameExistsException):
        import_repository("app", other)
    with pytest.raises(ValueError, match="not a bare git repository"):
        import_repository("plain", tmp_path / "plain")


def test_list_repositories_sorts_and_pages_with_next_token(
    codecommit: CodeCommitClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given five repositories and pages of two (CodeCommit's pages hold 1,000)
    names = ["delta", "alpha", "echo", "charlie", "bravo"]
    for name in names:
        codecommit.create_repository(repositoryName=name)
    monkeypatch.setattr(codecommit_ext, "LIST_REPOSITORIES_PAGE_SIZE", 2)

    # When all pages are listed in descending name order
    pages = list(codecommit.get_paginator("list_repositories").paginate(sortBy="repositoryName", order="descending"))

    # Then every repository appears once, in order, two at a time, each with its id
    listed = [repository for page in pages for repository in page["repositories"]]
    assert [repository["repositoryName"] for repository in listed] == sorted(names, reverse=True)
    assert [len(page["repositories"]) for page in pages] == [2, 2, 1]
    ids = {name: codecommit.get_repository(repositoryName=name)["repositoryMetadata"]["repositoryId"] for name in names}
    assert all(repository["repositoryId"] == ids[repository["repositoryName"]] for repository in listed)


def test_list_repositories_rejects_unknown_sort_order_and_tokens(codecommit: CodeCommitClient) -> None:
    # Given a repository
    codecommit.create_repository(repositoryName="app")

    # When listing with an unknown sort key, order or token, Then CodeCommit's errors come back
    # (the enum values are deliberately wrong: botocore leaves enums to the service to check)
    with pytest.raises(codecommit.exceptions.InvalidSortByException):
        codecommit.list_repositories(sortBy="size")  # type: ignore[arg-type]
    with pytest.raises(codecommit.exceptions.InvalidOrderException):
        codecommit.list_repositories(order="sideways")  # type: ignore[arg-type]
    with pytest.raises(codecommit.exceptions.InvalidContinuationTokenException):
        codecommit.list_repositories(nextToken="not-a-token")
