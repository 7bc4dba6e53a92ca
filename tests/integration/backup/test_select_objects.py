"""The object walk selects everything `git rev-list --objects new --not old` lists, and in the usual
cases nothing more; with stops (only the changed refs' old tips and the newest prerequisites hidden)
it selects everything the exact walk selects."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, cast

import pygit2
import pytest
from pygit2.enums import FileMode

from codereflex.backup.bundle import NEWEST_HIDDEN, select_objects

SIGNATURE = pygit2.Signature("Select", "select@example.com", 1_700_000_000, 0)


def _commit(repo: pygit2.Repository, parent: pygit2.Oid | None, name: str, when: int) -> pygit2.Oid:
    base = repo[parent].tree if parent is not None else None  # type: ignore[index]
    builder = repo.TreeBuilder(base) if base is not None else repo.TreeBuilder()
    builder.insert(name, repo.create_blob(f"{name} {when}\n".encode()), FileMode.BLOB)
    signature = pygit2.Signature("Select", "select@example.com", 1_700_000_000 + when, 0)
    return repo.create_commit(None, signature, signature, name, builder.write(), [parent] if parent else [])


@pytest.fixture
def history(tmp_path: Path) -> tuple[pygit2.Repository, dict[str, str], list[pygit2.Oid]]:
    """A line of 200 commits with a lightweight tag every 5 (40 tags, more than NEWEST_HIDDEN),
    an annotated tag, and an old side branch."""
    repo = pygit2.init_repository(str(tmp_path / "repo.git"), bare=True)
    line: list[pygit2.Oid] = []
    parent = None
    for number in range(200):
        parent = _commit(repo, parent, f"file{number % 20}", number)
        line.append(parent)
    refs = {"refs/heads/main": str(line[-1])}
    refs |= {f"refs/tags/v{n}": str(line[n]) for n in range(0, 200, 5)}
    tag = repo.create_tag("release", line[100], pygit2.enums.ObjectType.COMMIT, SIGNATURE, "release")
    refs["refs/tags/release"] = str(tag)
    refs["refs/heads/side"] = str(_commit(repo, line[20], "side", 20))
    assert len(refs) > NEWEST_HIDDEN
    return repo, refs, line


def _git_objects(repo: pygit2.Repository, new: dict[str, str], old: dict[str, str]) -> set[str]:
    """What git itself would send: `git rev-list --objects <new tips> --not <old tips>`."""
    listed = subprocess.run(
        ["git", "rev-list", "--objects", *sorted(set(new.values())), "--not", *sorted(set(old.values()))],
        cwd=repo.path,
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    return {line.split()[0] for line in listed.splitlines()}


def _both(repo: pygit2.Repository, new: dict[str, str], old: dict[str, str]) -> tuple[set[str], set[str]]:
    exact = select_objects(repo, new.values(), old.values(), old.values())
    stops = [value for name, value in old.items() if new.get(name, value) != value]
    fast = select_objects(repo, new.values(), old.values(), old.values(), stops=stops)
    selected = {str(oid) for oid in exact}
    assert _git_objects(repo, new, old) <= selected, "an object git would send is missing"
    return selected, {str(oid) for oid in fast}


def test_a_push_to_main_selects_exactly_the_new_objects(
    history: tuple[pygit2.Repository, dict[str, str], list[pygit2.Oid]],
) -> None:
    repo, old, line = history
    new = {**old, "refs/heads/main": str(_commit(repo, line[-1], "next", 300))}
    exact, fast = _both(repo, new, old)
    assert fast == exact == _git_objects(repo, new, old)
    assert len(exact) == 3  # the commit, its tree, its blob


def test_a_push_to_an_old_side_branch_selects_exactly_the_new_objects(
    history: tuple[pygit2.Repository, dict[str, str], list[pygit2.Oid]],
) -> None:
    repo, old, _ = history
    side = pygit2.Oid(hex=old["refs/heads/side"])
    new = {**old, "refs/heads/side": str(_commit(repo, side, "side-2", 400))}
    exact, fast = _both(repo, new, old)
    assert fast == exact


def test_a_force_push_and_a_new_branch_from_an_old_tag_select_at_least_the_exact_objects(
    history: tuple[pygit2.Repository, dict[str, str], list[pygit2.Oid]],
) -> None:
    repo, old, line = history
    rewritten = _commit(repo, line[150], "rewrite", 500)
    from_old_tag = _commit(repo, line[10], "hotfix", 501)
    new = {**old, "refs/heads/main": str(rewritten), "refs/heads/hotfix": str(from_old_tag)}
    del new["refs/tags/v195"]
    exact, fast = _both(repo, new, old)
    assert exact <= fast
    assert str(rewritten) in fast and str(from_old_tag) in fast


def test_unchanged_refs_select_nothing(history: tuple[pygit2.Repository, dict[str, str], list[pygit2.Oid]]) -> None:
    repo, old, _ = history
    exact, fast = _both(repo, dict(old), old)
    assert exact == fast == set()


def _nested(repo: Any, parent: pygit2.Oid, files: dict[str, bytes], when: int) -> pygit2.Oid:
    """A commit on `parent` that writes `files` (paths with directories) into its tree."""
    library: Any = pygit2  # pygit2 1.17's stubs leave Index untyped
    index = library.Index()
    index.read_tree(repo[parent].tree)
    for path, data in files.items():
        index.add(library.IndexEntry(path, repo.create_blob(data), FileMode.BLOB))
    signature = pygit2.Signature("Select", "select@example.com", 1_700_000_000 + when, 0)
    return cast(pygit2.Oid, repo.create_commit(None, signature, signature, "nested", index.write_tree(repo), [parent]))


def test_a_merge_of_two_new_lines_selects_exactly_what_git_would_send(
    history: tuple[pygit2.Repository, dict[str, str], list[pygit2.Oid]],
) -> None:
    # Given two new lines of work from main's tip, deep in directories, merged
    repo, old, line = history
    git: Any = repo
    left = _nested(git, line[-1], {"src/app/left.py": b"left\n", "docs/a.md": b"a\n"}, 600)
    right = _nested(git, line[-1], {"src/app/right.py": b"right\n", "src/lib/x.py": b"x\n"}, 601)
    index = git.merge_trees(line[-1], left, right)
    signature = pygit2.Signature("Select", "select@example.com", 1_700_000_700, 0)
    merge = git.create_commit(None, signature, signature, "merge", index.write_tree(repo), [left, right])
    new = {**old, "refs/heads/main": str(merge)}
    # Then the selection is exactly git's
    exact, fast = _both(repo, new, old)
    assert fast == exact == _git_objects(repo, new, old)


def test_a_file_copied_to_another_directory_is_never_missed(
    history: tuple[pygit2.Repository, dict[str, str], list[pygit2.Oid]],
) -> None:
    # Given a commit that adds a directory holding a copy of an existing file (same blob, new path)
    repo, old, line = history
    git: Any = repo
    blob = git[line[-1]].tree["file3"].id
    copied = _nested(git, line[-1], {"elsewhere/deep/file3": git[blob].data}, 700)
    new = {**old, "refs/heads/main": str(copied)}
    # Then everything git would send is selected (the blob, which the receiver has, may come again)
    exact, _ = _both(repo, new, old)
    expected = _git_objects(repo, new, old)
    assert expected <= exact <= expected | {str(blob)}
