"""What a one-commit backup uploads, through the function in the sandbox, against git's own bundle of the change."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from codereflex.backup.bundle import read_header, references
from codereflex.backup.catalog import list_backups
from codereflex.backup.restore import restore
from sandbox.local import Sandbox
from tests.integration.repo_backup.test_app import Pusher, _show_ref, _store

TAGS = 3000
ANNOTATED_EVERY = 30  # every 30th tag is annotated: 100 tag objects


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    quiet = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
    with Sandbox(function_env={**quiet, "BACKUP_WORK_DIR": str(tmp_path / "lambda-tmp")}) as running:
        yield running


def _git(*args: str, cwd: Path, stdin: bytes | None = None) -> bytes:
    env = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, input=stdin, env=env, capture_output=True, check=True).stdout


def _history_with_tags(path: Path) -> None:
    """300 commits and TAGS tags on them, in one `git fast-import` stream (not one git command per tag)."""
    _git("init", "-q", "--bare", str(path), cwd=path.parent)
    stream: list[str] = []
    for number in range(1, 301):
        content = f"release notes {number}\n"
        stream += [
            "commit refs/heads/main",
            f"mark :{number}",
            f"committer Release Bot <bot@example.com> {1_700_000_000 + number * 60} +0000",
            f"data {len(f'release {number}')}",
            f"release {number}",
            *([f"from :{number - 1}"] if number > 1 else []),
            f"M 100644 inline notes/{number % 50}.txt",
            f"data {len(content)}",
            content,
        ]
    for number in range(TAGS):
        commit = number % 300 + 1
        if number % ANNOTATED_EVERY == 0:
            message = f"version {number}"
            stream += [
                f"tag v{number}",
                f"from :{commit}",
                "tagger Release Bot <bot@example.com> 1700100000 +0000",
                f"data {len(message)}",
                message,
            ]
        else:
            stream += [f"reset refs/tags/v{number}", f"from :{commit}", ""]
    _git("fast-import", "--quiet", cwd=path, stdin=("\n".join(stream) + "\n").encode())


def _versions(sandbox: Sandbox) -> dict[tuple[str, str], int]:
    """Every version of every object in the bucket (it is versioned): each PUT left one, with its size."""
    s3, bucket = sandbox.client("s3"), sandbox.stack.refs["BackupBucket"]
    found: dict[tuple[str, str], int] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in page.get("Versions", []):
            found[(version["Key"], version["VersionId"])] = int(version["Size"])
    return found


def test_a_one_commit_backup_of_a_repository_with_thousands_of_tags_uploads_what_git_would(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # Given a repository with 300 commits and 3,000 tags (100 annotated), served by the sandbox,
    # whose first backup a push made
    dev_path = tmp_path / "dev.git"
    _history_with_tags(dev_path)
    _git("clone", "-q", "--mirror", str(dev_path), str(tmp_path / "server.git"), cwd=tmp_path)
    url = sandbox.import_repository("releases", tmp_path / "server.git")
    dev = Pusher(sandbox, dev_path, url)  # (init_repository opens the repository fast-import filled)
    old_main = references(dev.repo)["refs/heads/main"].target
    dev.set("refs/heads/main", dev.commit("first backed up", [old_main]))
    dev.push("refs/heads/main")
    assert len(list_backups(_store(sandbox), "backups/", "releases").entries) == 1
    before = _versions(sandbox)
    # When one commit is pushed to main, and the function backs it up
    previous = references(dev.repo)["refs/heads/main"].target
    dev.set("refs/heads/main", dev.commit("one more", [previous]))
    dev.push("refs/heads/main")
    # Then that backup's uploads (every PUT counted) are a bundle, a manifest and two catalog writes
    added = {key: size for key, size in _versions(sandbox).items() if key not in before}
    by_kind: dict[str, list[int]] = {}
    for (key, _), size in added.items():
        by_kind.setdefault("catalog" if key.endswith("catalog.json") else key.split("/")[2], []).append(size)
    assert {kind: len(sizes) for kind, sizes in by_kind.items()} == {"bundles": 1, "manifests": 1, "catalog": 2}
    # And bundle and manifest are at most twice git's own bundle of the changed ref, plus 1 KiB
    git_bundle = tmp_path / "git.bundle"
    _git("bundle", "create", "-q", str(git_bundle), "main", f"^{previous}", cwd=dev_path)
    change = sum(by_kind["bundles"]) + sum(by_kind["manifests"])
    assert change <= 2 * git_bundle.stat().st_size + 1024, (by_kind, git_bundle.stat().st_size)
    # And the catalog, which the goal leaves out (it is rewritten to take and free the lease, and
    # weighs what its inline backups weigh: see docs/architecture.md), names no ref: 3,000 tags
    # cost it nothing
    catalog = _store(sandbox).get("backups/releases/catalog.json")
    assert catalog is not None and b"refs/" not in catalog.data
    assert max(by_kind["catalog"]) <= len(catalog.data)
    # And the bundle names only main, with the one prerequisite git names
    bundle = tmp_path / "ours.bundle"
    bundle_key = next(key for key, _ in added if key.endswith(".bundle"))
    _store(sandbox).download(bundle_key, bundle)
    with bundle.open("rb") as ours, git_bundle.open("rb") as gits:
        header, expected = read_header(ours), read_header(gits)
    assert [name for name, _ in header.refs] == ["refs/heads/main"]
    assert header.prerequisites == expected.prerequisites == (str(previous),)
    # And the backup restores to exactly the repository's refs, all 3,000 tags included
    restored = tmp_path / "restored"
    restore(_store(sandbox), "backups/", "releases", restored)
    assert _show_ref(restored) == _show_ref(sandbox.store.path_for("releases"))
    assert _show_ref(restored).count("refs/tags/") == TAGS
