"""Demo act: pushes, a force-push and a deleted branch backed up to S3, then the state before the force-push restored.

`act(sandbox, scratch)` is one act of `make demo`; `python -m sandbox.demo_backup` runs it alone.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pygit2

from codereflex.aws.s3 import S3ObjectStore
from codereflex.backup.engine import list_backups, restore
from sandbox.demo import QUIET, DemoFailure, Workspace, _commit, _expect, _say, _title
from sandbox.local import Sandbox

REPOSITORY = "inventory-service"
PREFIX = "backups/"


@contextmanager
def _function_identity(sandbox: Sandbox) -> Iterator[None]:
    """The backup function signs git requests with its role's keys; here it runs as the developer,
    the identity the sandbox git server knows (moto accepts any key for API calls)."""
    saved = {key: os.environ.get(key) for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ["AWS_ACCESS_KEY_ID"] = sandbox.developer.access_key
    os.environ["AWS_SECRET_ACCESS_KEY"] = sandbox.developer.secret_key
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _show_ref(path: Path) -> str:
    return subprocess.run(["git", "show-ref"], cwd=path, capture_output=True, text=True, check=False).stdout


def act(sandbox: Sandbox, scratch: Path) -> None:
    """Back up, rewrite history, restore the past, and prove it with git."""
    if "BackupBucket" not in sandbox.stack.refs:
        raise DemoFailure("the repository backup is disabled in this sandbox (EnableRepositoryBackup=false)")
    store = S3ObjectStore(sandbox.client("s3"), sandbox.stack.refs["BackupBucket"])
    with _function_identity(sandbox):
        _story(sandbox, scratch, store)


def _story(sandbox: Sandbox, scratch: Path, store: S3ObjectStore) -> None:
    _title("Repository backup: every push kept in S3 as git bundles")
    url = sandbox.create_repository(REPOSITORY, "Stock levels and reservations")
    work = Workspace(sandbox, scratch / "bob.git", url)
    source = sandbox.store.path_for(REPOSITORY)

    first = _commit(work.repo, "Track stock", {"stock.py": "levels = {}\n"}, [])
    second = _commit(work.repo, "Reserve items", {"stock.py": "levels = {}\nreserved = {}\n"}, [first])
    work.set_ref("refs/heads/main", second)
    work.set_ref("refs/heads/feature/audit", _commit(work.repo, "Audit log", {"audit.py": "log = []\n"}, [second]))
    _say("   Bob pushes main and feature/audit")
    work.push("refs/heads/main", "refs/heads/feature/audit")
    before_force_push = _show_ref(source)

    rewritten = _commit(work.repo, "Reserve items (squashed)", {"stock.py": "reserved = {}\n"}, [first])
    work.set_ref("refs/heads/main", rewritten)
    _say("   Bob force-pushes main, dropping 'Reserve items'")
    work.push("+refs/heads/main")
    _say("   Bob deletes feature/audit")
    work.push(":refs/heads/feature/audit")
    after = _show_ref(source)

    catalog = list_backups(store, PREFIX, REPOSITORY)
    _say("\n   s3://" + sandbox.stack.refs["BackupBucket"] + "/" + PREFIX + REPOSITORY + "/")
    for key in sorted(store.keys(f"{PREFIX}{REPOSITORY}/")):
        _say(f"     {key.removeprefix(PREFIX + REPOSITORY + '/')}")
    _say("\n   catalog:")
    for entry in catalog.entries:
        _say(f"     {entry.backup_id}  {entry.time:%H:%M:%S}  {entry.ref_count} refs")
    _expect(len(catalog.entries) == 3, "three pushes, three backups (one full bundle, then incrementals)")

    _title("Restore: the repository as it was before the force-push")
    target = scratch / "restored-before-force-push.git"
    manifest = restore(store, PREFIX, REPOSITORY, target, at=catalog.entries[0].time)
    _say(f"   codereflex backup restore {REPOSITORY} --at {manifest.time.isoformat()} --to {target.name}")
    restored = _show_ref(target)
    for line in restored.splitlines():
        _say(f"     {line}")
    _expect(restored == before_force_push, "git show-ref of the restore equals the source's before the force-push")
    fsck = subprocess.run(["git", "fsck", "--full"], cwd=target, capture_output=True, text=True, check=False)
    _expect(fsck.returncode == 0, "git fsck --full is clean")
    lost = pygit2.Repository(str(target)).revparse_single("refs/heads/main")
    _expect(str(lost.id) == str(second), "the force-pushed-away commit 'Reserve items' is back on main")
    _expect(str(second) not in after, "while the live repository no longer has it on any ref")


def run() -> int:
    try:
        with tempfile.TemporaryDirectory(prefix="codereflex-demo-") as scratch, Sandbox(function_env=QUIET) as sandbox:
            act(sandbox, Path(scratch))
    except DemoFailure as failure:
        _say(f"\nDEMO FAILED: {failure}")
        return 1
    _say("\nBackup act complete.")
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
