"""Demo act: pushes, a force-push and a deleted branch backed up to S3, then the state before the force-push restored.

`act(sandbox, scratch)` is one act of `make demo`; `python -m sandbox.demo.demo_backup` runs it alone.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pygit2

from codereflex.aws.s3 import S3ObjectStore
from codereflex.backup.catalog import list_backups
from codereflex.backup.restore import restore
from sandbox.demo import demo_kit
from sandbox.demo.demo_kit import DemoFailure, Workspace, commit, expect, say, title
from sandbox.local import Sandbox

REPOSITORY = "inventory-service"
PREFIX = "backups/"


def _show_ref(path: Path) -> str:
    return subprocess.run(["git", "show-ref"], cwd=path, capture_output=True, text=True, check=False).stdout


def act(sandbox: Sandbox, scratch: Path) -> None:
    """Back up, rewrite history, restore the past, and prove it with git."""
    if "BackupBucket" not in sandbox.stack.refs:
        raise DemoFailure("the repository backup is disabled in this sandbox (EnableRepositoryBackup=false)")
    store = S3ObjectStore(sandbox.client("s3"), sandbox.stack.refs["BackupBucket"])
    _story(sandbox, scratch, store)


def _story(sandbox: Sandbox, scratch: Path, store: S3ObjectStore) -> None:
    title("Repository backup: every push kept in S3 as git bundles")
    url = sandbox.create_repository(REPOSITORY, "Stock levels and reservations")
    work = Workspace(sandbox, scratch / "bob.git", url)
    source = sandbox.store.path_for(REPOSITORY)

    first = commit(work.repo, "Track stock", {"stock.py": "levels = {}\n"}, [])
    second = commit(work.repo, "Reserve items", {"stock.py": "levels = {}\nreserved = {}\n"}, [first])
    work.set_ref("refs/heads/main", second)
    work.set_ref("refs/heads/feature/audit", commit(work.repo, "Audit log", {"audit.py": "log = []\n"}, [second]))
    say("   Bob pushes main and feature/audit")
    work.push("refs/heads/main", "refs/heads/feature/audit")
    before_force_push = _show_ref(source)

    rewritten = commit(work.repo, "Reserve items (squashed)", {"stock.py": "reserved = {}\n"}, [first])
    work.set_ref("refs/heads/main", rewritten)
    say("   Bob force-pushes main, dropping 'Reserve items'")
    work.push("+refs/heads/main")
    say("   Bob deletes feature/audit")
    work.push(":refs/heads/feature/audit")
    after = _show_ref(source)

    catalog = list_backups(store, PREFIX, REPOSITORY)
    say("\n   s3://" + sandbox.stack.refs["BackupBucket"] + "/" + PREFIX + REPOSITORY + "/")
    for key in sorted(store.keys(f"{PREFIX}{REPOSITORY}/")):
        say(f"     {key.removeprefix(PREFIX + REPOSITORY + '/')}")
    say("\n   catalog:")
    for entry in catalog.entries:
        say(f"     {entry.backup_id}  {entry.time:%H:%M:%S}  {entry.ref_count} refs")
    expect(len(catalog.entries) == 3, "three pushes, three backups (one full bundle, then incrementals)")

    title("Restore: the repository as it was before the force-push")
    target = scratch / "restored-before-force-push.git"
    manifest = restore(store, PREFIX, REPOSITORY, target, at=catalog.entries[0].time)
    say(f"   codereflex backup restore {REPOSITORY} --at {manifest.time.isoformat()} --to {target.name}")
    restored = _show_ref(target)
    for line in restored.splitlines():
        say(f"     {line}")
    expect(restored == before_force_push, "git show-ref of the restore equals the source's before the force-push")
    fsck = subprocess.run(["git", "fsck", "--full"], cwd=target, capture_output=True, text=True, check=False)
    expect(fsck.returncode == 0, "git fsck --full is clean")
    lost = pygit2.Repository(str(target)).revparse_single("refs/heads/main")
    expect(str(lost.id) == str(second), "the force-pushed-away commit 'Reserve items' is back on main")
    expect(str(second) not in after, "while the live repository no longer has it on any ref")


def run() -> int:
    return demo_kit.run(act, "Backup act complete.")


if __name__ == "__main__":
    raise SystemExit(run())
