"""Branches, commits and merge options are read from the bare repo at request time, so pushes show at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from sandbox.aws.moto_ext import codecommit as codecommit_ext

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_codecommit import CodeCommitClient

    from .conftest import GitRepo


def test_branches_follow_pushes_without_caching(
    codecommit: CodeCommitClient, new_repo: Callable[[str], GitRepo]
) -> None:
    # Given a repository with main
    repo = new_repo("app")
    first = repo.commit("main", {"README.md": "one"})
    assert codecommit.get_branch(repositoryName="app", branchName="main")["branch"]["commitId"] == first

    # When a feature branch is pushed and main moves on
    repo.commit("feature/login", {"login.py": "pass"})
    second = repo.commit("main", {"README.md": "two"})

    # Then both reads see the new state
    assert codecommit.list_branches(repositoryName="app")["branches"] == ["feature/login", "main"]
    branch = codecommit.get_branch(repositoryName="app", branchName="main")["branch"]
    assert branch == {"branchName": "main", "commitId": second}


def test_list_branches_pages(
    codecommit: CodeCommitClient, new_repo: Callable[[str], GitRepo], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given three branches and pages of two
    repo = new_repo("app")
    for branch in ("a", "b", "c"):
        repo.commit(branch, {"f": branch})
    monkeypatch.setattr(codecommit_ext, "LIST_BRANCHES_PAGE_SIZE", 2)

    # When every page is read
    pages = list(codecommit.get_paginator("list_branches").paginate(repositoryName="app"))

    # Then the branches come in two pages
    assert [page["branches"] for page in pages] == [["a", "b"], ["c"]]


def test_unknown_branch_or_repository_is_reported(
    codecommit: CodeCommitClient, new_repo: Callable[[str], GitRepo]
) -> None:
    # Given a repository with only main
    new_repo("app").commit("main", {"README.md": "one"})

    # When reading a branch or repository that does not exist, Then CodeCommit's errors come back
    with pytest.raises(codecommit.exceptions.BranchDoesNotExistException):
        codecommit.get_branch(repositoryName="app", branchName="nope")
    with pytest.raises(codecommit.exceptions.RepositoryDoesNotExistException):
        codecommit.list_branches(repositoryName="nope")
    with pytest.raises(codecommit.exceptions.RepositoryDoesNotExistException):
        codecommit.get_branch(repositoryName="nope", branchName="main")


def test_get_commit_describes_the_git_commit(codecommit: CodeCommitClient, new_repo: Callable[[str], GitRepo]) -> None:
    # Given two commits
    repo = new_repo("app")
    parent = repo.commit("main", {"README.md": "one"})
    child = repo.commit("main", {"README.md": "two"}, message="Second")
    expected = repo.read(child)

    # When the second is read
    commit = codecommit.get_commit(repositoryName="app", commitId=child)["commit"]

    # Then it carries git's own data
    assert commit["commitId"] == child
    assert commit["parents"] == [parent]
    assert commit["message"] == "Second\n"
    assert commit["treeId"] == str(expected.tree_id)
    assert commit["author"]["name"] == "Dev Eloper"
    assert commit["author"]["email"] == "dev@example.com"
    assert commit["committer"]["date"].endswith("+0100")


def test_get_commit_rejects_unknown_and_partial_ids(
    codecommit: CodeCommitClient, new_repo: Callable[[str], GitRepo]
) -> None:
    # Given a commit
    tip = new_repo("app").commit("main", {"README.md": "one"})

    # When reading an unknown or abbreviated id, Then CodeCommit's errors come back
    with pytest.raises(codecommit.exceptions.CommitIdDoesNotExistException):
        codecommit.get_commit(repositoryName="app", commitId="0" * 40)
    with pytest.raises(codecommit.exceptions.InvalidCommitIdException):
        codecommit.get_commit(repositoryName="app", commitId=tip[:7])


def test_merge_options_offer_fast_forward_while_the_destination_has_not_moved(
    codecommit: CodeCommitClient, new_repo: Callable[[str], GitRepo]
) -> None:
    # Given a feature branch cut from main's tip
    repo = new_repo("app")
    fork = repo.commit("main", {"README.md": "one"})
    feature = repo.commit("feature", {"feature.py": "x"}, parent=fork)

    # When merge options are asked for, by branch names
    options = codecommit.get_merge_options(
        repositoryName="app", sourceCommitSpecifier="feature", destinationCommitSpecifier="main"
    )

    # Then fast-forward is possible and the base is the fork point
    assert "FAST_FORWARD_MERGE" in options["mergeOptions"]
    assert {"SQUASH_MERGE", "THREE_WAY_MERGE"} <= set(options["mergeOptions"])
    assert (options["sourceCommitId"], options["destinationCommitId"], options["baseCommitId"]) == (
        feature,
        fork,
        fork,
    )


def test_merge_options_after_divergence_have_no_fast_forward(
    codecommit: CodeCommitClient, new_repo: Callable[[str], GitRepo]
) -> None:
    # Given main moved on after the feature branch was cut
    repo = new_repo("app")
    fork = repo.commit("main", {"README.md": "one"})
    feature = repo.commit("feature", {"feature.py": "x"}, parent=fork)
    main = repo.commit("main", {"README.md": "two"})
    base = str(repo.repo.merge_base(feature, main))

    # When merge options are asked for, by commit ids
    options = codecommit.get_merge_options(
        repositoryName="app", sourceCommitSpecifier=feature, destinationCommitSpecifier=main
    )

    # Then only the merges that create a commit are offered, from git's merge base
    assert options["mergeOptions"] == ["SQUASH_MERGE", "THREE_WAY_MERGE"]
    assert options["baseCommitId"] == base == fork


def test_merge_options_of_unrelated_histories_are_refused_as_too_divergent(
    codecommit: CodeCommitClient, new_repo: Callable[[str], GitRepo]
) -> None:
    # Given main and an orphan branch with no commit in common
    repo = new_repo("app")
    repo.commit("main", {"README.md": "one"})
    repo.commit("orphan", {"other.md": "two"})
    # When merge options are asked for, Then CodeCommit's one error for tips it cannot relate comes
    # back (the output requires a merge base, and GetMergeOptions declares no "no common ancestor")
    with pytest.raises(codecommit.exceptions.TipsDivergenceExceededException, match="divergence"):
        codecommit.get_merge_options(
            repositoryName="app", sourceCommitSpecifier="orphan", destinationCommitSpecifier="main"
        )


def test_merge_options_report_unknown_specifiers_and_repositories(
    codecommit: CodeCommitClient, new_repo: Callable[[str], GitRepo]
) -> None:
    # Given a repository with main
    new_repo("app").commit("main", {"README.md": "one"})

    # When a specifier or repository does not exist, or a specifier is empty, Then CodeCommit's errors come back
    with pytest.raises(codecommit.exceptions.CommitDoesNotExistException):
        codecommit.get_merge_options(
            repositoryName="app", sourceCommitSpecifier="nope", destinationCommitSpecifier="main"
        )
    with pytest.raises(codecommit.exceptions.CommitRequiredException):
        codecommit.get_merge_options(repositoryName="app", sourceCommitSpecifier="", destinationCommitSpecifier="main")
    with pytest.raises(codecommit.exceptions.RepositoryDoesNotExistException):
        codecommit.get_merge_options(
            repositoryName="nope", sourceCommitSpecifier="main", destinationCommitSpecifier="main"
        )
