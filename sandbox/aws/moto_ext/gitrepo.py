"""Read-only git queries on a sandbox repository's bare repo, opened afresh for every request."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pygit2

if TYPE_CHECKING:
    from pathlib import Path

HEADS = "refs/heads/"
FULL_COMMIT_ID = re.compile(r"^[0-9a-f]{40}$")


def open_repo(path: Path) -> pygit2.Repository | None:
    """The bare repository at `path`, or None. Never cached: pushes land on disk behind our back."""
    try:
        return pygit2.Repository(str(path))
    except pygit2.GitError:
        return None


def branch_names(repo: pygit2.Repository) -> list[str]:
    return sorted(repo.listall_branches())


def branch_tip(repo: pygit2.Repository, branch: str) -> str | None:
    """The commit id a branch (`main` or `refs/heads/main`) points at, or None."""
    reference = _reference(repo, branch if branch.startswith(HEADS) else HEADS + branch)
    return str(reference.peel(pygit2.Commit).id) if reference is not None else None


def _reference(repo: pygit2.Repository, name: str) -> pygit2.Reference | None:
    try:
        return repo.lookup_reference(name)
    except (LookupError, ValueError, pygit2.GitError):
        # Missing, and names git cannot even parse as a reference, both mean "no such reference".
        return None


def default_branch(repo: pygit2.Repository) -> str | None:
    """HEAD's branch when it exists, else `main`, else the first branch (CodeCommit uses the first push)."""
    names = branch_names(repo)
    if not names:
        return None
    head = _reference(repo, "HEAD")
    target = head.target if head is not None else None
    if isinstance(target, str) and target.startswith(HEADS) and target.removeprefix(HEADS) in names:
        return target.removeprefix(HEADS)
    return "main" if "main" in names else names[0]


def commit(repo: pygit2.Repository, commit_id: str) -> pygit2.Commit | None:
    """The commit with this full id, or None when it is not a commit in this repository."""
    if not FULL_COMMIT_ID.match(commit_id):
        return None
    found = repo.git_object_lookup_prefix(commit_id)
    return found if isinstance(found, pygit2.Commit) else None


def resolve(repo: pygit2.Repository, specifier: str) -> pygit2.Commit | None:
    """A commit specifier as CodeCommit takes it: a branch name, a full ref, or a commit id."""
    for ref_name in (HEADS + specifier, specifier):
        reference = _reference(repo, ref_name) if ref_name.startswith("refs/") else None
        if reference is not None:
            return reference.peel(pygit2.Commit)
    try:
        return repo.revparse_single(specifier).peel(pygit2.Commit)
    except (LookupError, ValueError, pygit2.GitError):
        # Unknown names, malformed specifiers and non-commit objects all mean "no such commit".
        return None


def merge_base(repo: pygit2.Repository, first: str, second: str) -> str | None:
    base = repo.merge_base(first, second)
    return str(base) if base is not None else None


def is_ancestor(repo: pygit2.Repository, ancestor: str, descendant: str) -> bool:
    return ancestor == descendant or repo.descendant_of(descendant, ancestor)


def blob_at(repo: pygit2.Repository, commit_id: str | None, path: str) -> pygit2.Blob | None:
    """The blob at `path` in a commit's tree, or None when the commit or the file is missing."""
    found = commit(repo, commit_id) if commit_id else None
    if found is None:
        return None
    try:
        entry = found.tree[path]
    except KeyError:
        return None
    blob = repo.git_object_lookup_prefix(entry.id)
    return blob if isinstance(blob, pygit2.Blob) else None


def line_count(blob: pygit2.Blob) -> int:
    return len(blob.data.splitlines())


def describe(found: pygit2.Commit) -> dict[str, Any]:
    """GetCommit's `Commit` shape; CodeCommit writes signature dates as git does: `<epoch> <±hhmm>`."""

    def user(signature: pygit2.Signature) -> dict[str, str]:
        sign = "-" if signature.offset < 0 else "+"
        hours, minutes = divmod(abs(signature.offset), 60)
        return {
            "name": signature.name,
            "email": signature.email,
            "date": f"{signature.time} {sign}{hours:02d}{minutes:02d}",
        }

    return {
        "commitId": str(found.id),
        "treeId": str(found.tree_id),
        "parents": [str(parent) for parent in found.parent_ids],
        "message": found.message,
        "author": user(found.author),
        "committer": user(found.committer),
        "additionalData": "",
    }
