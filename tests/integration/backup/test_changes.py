"""Per-change backups: bundles of changed refs, manifests of changes, restorable by plain git and across formats."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from codereflex.backup.bundle import read_header
from codereflex.backup.catalog import list_backups
from codereflex.backup.job import Outcome
from codereflex.backup.model import Layout
from codereflex.backup.restore import restore, verify
from codereflex.errors import TargetGone
from tests.integration.backup.conftest import Backups, Git

LAYOUT = Layout("backups/", "source")
GUIDE = Path(__file__).parents[3] / "docs" / "architecture.md"
FORMAT1 = Path(__file__).parents[2] / "data" / "backup_format1"


def _documented_plain_git_commands() -> str:
    """The plain-git restore in docs/architecture.md, exactly (its first line, `aws s3 sync`, is `_sync`)."""
    section = GUIDE.read_text().split("## Restoring with plain git", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert match is not None
    lines = match.group(1).splitlines()
    assert lines[0].startswith("aws s3 sync s3://$BUCKET/backups/payments-service/ backup/")
    return "\n".join(lines[1:]) + "\n"


def _sync(backups: Backups, target: Path) -> None:
    """What `aws s3 sync` of the repository's folder (catalog excluded) leaves on disk."""
    for key in backups.store.keys(LAYOUT.root):
        relative = key.removeprefix(LAYOUT.root)
        if not relative.startswith("catalog"):
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            backups.store.download(key, target / relative)


def _plain_git_restore(backups: Backups, tmp_path: Path, backup_id: str) -> Path:
    """Run the documented commands with bash and git alone, for one backup; the restored repository."""
    work = tmp_path / f"plain-{backup_id}"
    work.mkdir()
    _sync(backups, work / "backup")
    script = _documented_plain_git_commands().replace("id=00000003-20261123T121000Z", f"id={backup_id}", 1)
    assert f"id={backup_id}" in script
    done = subprocess.run(
        ["bash", "-c", script], cwd=work, env=backups.git.env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return work / "restored.git"


def _snapshot(backups: Backups, expected: dict[str, str]) -> str:
    result = backups.run()
    assert result.outcome is Outcome.BACKED_UP
    assert result.backup_id is not None
    expected[result.backup_id] = backups.git.show_ref(backups.git.source)
    return result.backup_id


def _stored_manifest(backups: Backups, backup_id: str) -> dict[str, object]:
    stored = backups.store.get(LAYOUT.manifest(backup_id))
    assert stored is not None
    body: dict[str, object] = json.loads(stored.data)
    return body


needs_jq = pytest.mark.skipif(shutil.which("jq") is None, reason="the documented plain-git restore uses jq")


@needs_jq
def test_plain_git_restores_every_backup_as_documented(backups: Backups, git: Git, tmp_path: Path) -> None:
    # Given a chain with tags (annotated too), a deletion, a force-push, refs set to a commit backed up
    # already, and a backup that only deletes
    expected: dict[str, str] = {}
    backups.policy = replace(backups.policy, full_every=10)  # one chain
    git.commit("first")
    git.run("tag", "-a", "v1", "-m", "one", cwd=git.work)
    git.push("HEAD:refs/heads/main", "HEAD:refs/heads/topic", "refs/tags/v1")
    _snapshot(backups, expected)
    git.commit("second")
    git.run("tag", "light", cwd=git.work)
    git.push("HEAD:refs/heads/main", "refs/tags/light", ":refs/heads/topic")
    _snapshot(backups, expected)
    git.run("reset", "-q", "--hard", "HEAD~1", cwd=git.work)
    git.commit("second, rewritten")
    git.push("+HEAD:refs/heads/main")
    _snapshot(backups, expected)
    git.run("tag", "-a", "v0", "-m", "zero", "HEAD~1", cwd=git.work)
    git.push("HEAD~1:refs/heads/old", "refs/tags/v0")  # on a commit backed up already: only a tag object
    _snapshot(backups, expected)
    git.push(":refs/heads/old", "HEAD:refs/heads/old/child")  # a name freed and taken below it at once
    # (through the warm mirror: libgit2 writes new refs before it prunes, so the mirror prunes first)
    _snapshot(backups, expected)
    git.push(":refs/tags/light")
    deletion_only = _snapshot(backups, expected)
    # Then the deletion-only backup wrote no bundle, and its manifest says what went
    assert _stored_manifest(backups, deletion_only)["bundle"] is None
    assert _stored_manifest(backups, deletion_only)["deleted"] == ["refs/tags/light"]
    # When each backup is restored with the documented commands, using git and jq alone
    for backup_id, refs in expected.items():
        restored = _plain_git_restore(backups, tmp_path, backup_id)
        # Then git has exactly the refs of that backup, and fsck is clean
        assert git.show_ref(restored) == refs, backup_id
        git.fsck(restored)
    # And so has the engine's restore of each, and verify finds the chain whole
    for entry in list_backups(backups.store, "backups/", "source").entries:
        restore(backups.store, "backups/", "source", tmp_path / f"engine-{entry.sequence}", at=entry.time)
        assert git.show_ref(tmp_path / f"engine-{entry.sequence}") == expected[entry.backup_id]
    assert verify(backups.store, "backups/", "source", tmp_path / "verify") == (len(expected), [])


@needs_jq
def test_a_chain_an_earlier_release_started_restores_and_continues(backups: Backups, git: Git, tmp_path: Path) -> None:
    # Given a bucket holding a chain in manifest format 1 (full ref lists, bundles with every ref)
    for path in sorted(FORMAT1.joinpath("backups").rglob("*")):
        if path.is_file():
            backups.store.put(str(path.relative_to(FORMAT1)), path.read_bytes())
    expected: dict[str, str] = json.loads(FORMAT1.joinpath("expected.json").read_text())
    # Then each of its backups restores alone, by time, to exactly its refs
    catalog = list_backups(backups.store, "backups/", "source")
    assert [entry.backup_id for entry in catalog.entries] == list(expected)
    for entry in catalog.entries:
        target = tmp_path / f"old-{entry.sequence}"
        restore(backups.store, "backups/", "source", target, at=entry.time)
        assert git.show_ref(target) == expected[entry.backup_id]
        git.fsck(target)
    # When the repository (its latest state) goes on: a tag deleted, main force-pushed, a branch added
    git.run("push", "-q", "--mirror", str(git.source), cwd=tmp_path / "old-3")
    git.run("fetch", "-q", "origin", cwd=git.work)
    git.run("checkout", "-q", "-B", "main", "origin/main", cwd=git.work)
    backups.clock.now += timedelta(hours=1)
    backups.policy = replace(backups.policy, full_every=10)  # both new backups continue that chain
    git.push(":refs/tags/light")
    _snapshot(backups, expected)
    git.run("reset", "-q", "--hard", "HEAD~1", cwd=git.work)
    git.commit("after the upgrade")
    git.push("+HEAD:refs/heads/main", "HEAD:refs/heads/next")
    last = _snapshot(backups, expected)
    # Then the new backups continue the old chain in the new format, recording only their changes
    body = _stored_manifest(backups, last)
    changed = body["changed"]
    assert isinstance(changed, dict)
    assert (body["format"], "refs" in body, sorted(changed)) == (2, False, ["refs/heads/main", "refs/heads/next"])
    assert _stored_manifest(backups, list(expected)[3])["base"] == list(expected)[2]
    # And every backup, old and new, restores exactly, with the engine and with plain git
    for number, entry in enumerate(list_backups(backups.store, "backups/", "source").entries):
        target = tmp_path / f"restored-{number}"
        restore(backups.store, "backups/", "source", target, at=entry.time)
        assert git.show_ref(target) == expected[entry.backup_id], entry.backup_id
        assert git.show_ref(_plain_git_restore(backups, tmp_path, entry.backup_id)) == expected[entry.backup_id]
    # And verify reads the whole mixed chain and finds nothing wrong
    assert verify(backups.store, "backups/", "source", tmp_path / "verify") == (5, [])


def test_an_incremental_bundle_has_the_changed_refs_and_the_prerequisites_git_would_list(
    backups: Backups, git: Git, tmp_path: Path
) -> None:
    # Given a backed-up repository with three branches and twenty tags
    for number in range(20):
        git.commit(f"release {number}")
        git.run("tag", f"v{number}", cwd=git.work)
    git.push("HEAD:refs/heads/main", "HEAD:refs/heads/stable", "HEAD:refs/heads/docs", "refs/tags/*:refs/tags/*")
    backups.run()
    old_main = git.run("rev-parse", "HEAD", cwd=git.work).strip()
    # When one commit is pushed to main
    git.commit("one more")
    git.push("HEAD:refs/heads/main")
    result = backups.run()
    # Then its bundle lists only main, and as prerequisites exactly what `git bundle create` lists
    assert result.backup_id is not None
    bundle = tmp_path / "incremental.bundle"
    backups.store.download(LAYOUT.bundle(result.backup_id), bundle)
    with bundle.open("rb") as stream:
        header = read_header(stream)
    assert [name for name, _ in header.refs] == ["refs/heads/main"]
    ours = tmp_path / "git.bundle"
    git.run("bundle", "create", "-q", str(ours), "main", f"^{old_main}", cwd=git.source)
    with ours.open("rb") as stream:
        assert header.prerequisites == read_header(stream).prerequisites == (old_main,)
    # And its manifest records only that change against the backup before it
    body = _stored_manifest(backups, result.backup_id)
    assert (body["changed"], body["deleted"], "refs" in body) == (
        {"refs/heads/main": git.run("rev-parse", "HEAD", cwd=git.work).strip()},
        [],
        False,
    )


def test_verify_names_every_backup_whose_base_is_gone(backups: Backups, git: Git, tmp_path: Path) -> None:
    # Given three backups of one chain, and the manifest of the middle one lost from the bucket
    ids = []
    for number in range(3):
        git.commit(f"commit {number}")
        git.push("HEAD:refs/heads/main")
        ids.append(backups.run().backup_id)
    backups.store.delete(LAYOUT.manifest(str(ids[1])))
    # When the repository's backups are verified
    checked, problems = verify(backups.store, "backups/", "source", tmp_path / "verify")
    # Then the lost one and the one recorded against it are reported, the first is not
    assert checked == 3
    assert [problem.backup_id for problem in problems] == ids[1:]
    # And restoring the later one says what is missing instead of restoring something else
    with pytest.raises(TargetGone, match=ids[1] or ""):
        restore(backups.store, "backups/", "source", tmp_path / "restored")
