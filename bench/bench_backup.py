"""Repository backup: full backup, one-commit incremental and restore, against plain git on the same repository.

Served by the sandbox git server (SigV4 git passwords, real HTTP), S3 is moto in-process. The
repository is a generated one of BENCH_BACKUP_COMMITS commits (default 5,000), or the bare
repository at BENCH_BACKUP_REPO. Every measure is taken BENCH_BACKUP_RUNS times (default 7, each in a
fresh sandbox and scratch directory) and the table shows medians.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pygit2

from codereflex.aws.s3 import S3ObjectStore
from codereflex.backup.engine import BackupRequest, BackupResult, Collaborators, Policy, back_up, restore
from codereflex.backup.mirror import GitMirror
from codereflex.gitauth import authenticated_url
from codereflex.gitremote import CodeCommitCredentials
from sandbox.local import Sandbox

ENV = {
    "PATH": os.environ.get("PATH", os.defpath),
    "HOME": tempfile.gettempdir(),
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def _git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["git", *args], cwd=cwd, env=ENV, input=stdin, capture_output=True, check=True).stdout


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def generate(path: Path, commits: int) -> None:
    """A bare repository of `commits` commits over 300 files in 30 directories, built with git fast-import."""
    _git("init", "-q", "--bare", "-b", "main", str(path))
    lines: list[bytes] = []
    for number in range(1, commits + 1):
        content = f"line {number}\n".encode() * (1 + number % 7)
        lines += [
            b"commit refs/heads/main\n",
            f"mark :{number}\n".encode(),
            f"committer Bench <bench@example.com> {1_700_000_000 + number} +0000\n".encode(),
            f"data {len(f'change {number}')}\nchange {number}\n".encode(),
        ]
        if number > 1:
            lines.append(f"from :{number - 1}\n".encode())
        lines.append(f"M 100644 inline dir{number % 30}/file{number % 300}.txt\n".encode())
        lines.append(f"data {len(content)}\n".encode() + content + b"\n")
        if number % 500 == 0:
            lines.append(f"reset refs/tags/v{number}\nfrom :{number}\n\n".encode())
    _git("fast-import", "--quiet", cwd=path, stdin=b"".join(lines))


def main() -> int:
    given = os.environ.get("BENCH_BACKUP_REPO")
    commits = int(os.environ.get("BENCH_BACKUP_COMMITS", "5000"))
    runs = int(os.environ.get("BENCH_BACKUP_RUNS", "7"))
    samples: list[list[tuple[str, float, float, float, str]]] = []
    same = True
    with tempfile.TemporaryDirectory(prefix="codereflex-bench-backup-") as scratch_dir:
        original = Path(scratch_dir) / "original.git"
        if given:
            shutil.copytree(given, original, symlinks=True)
        else:
            generate(original, commits)
        for run in range(runs):
            scratch = Path(scratch_dir) / f"run-{run}"
            source = scratch / "source.git"
            shutil.copytree(original, source, symlinks=True)  # each run adds a commit to its own copy
            with Sandbox(function_env={"POWERTOOLS_METRICS_DISABLED": "true"}) as sandbox:
                rows, restored_same = _measure(sandbox, source, scratch)
            samples.append(rows)
            same = same and restored_same
    medians = [
        (name, statistics.median(r[i][1] for r in samples), statistics.median(r[i][2] for r in samples), limit, goal)
        for i, (name, _, _, limit, goal) in enumerate(samples[0])
    ]
    _print(medians, f"{given or f'generated, {commits} commits'}; medians of {runs} runs")
    print(f"restored refs equal the source's in every run: {'yes' if same else 'NO'}")
    return 0 if same else 1


def _measure(sandbox: Sandbox, source: Path, scratch: Path) -> tuple[list[tuple[str, float, float, float, str]], bool]:
    url = sandbox.import_repository("bench", source)
    s3 = sandbox.client("s3")
    s3.create_bucket(Bucket="bench-backups")
    store = S3ObjectStore(s3, "bench-backups")
    mirror = GitMirror(scratch / "mirrors", lambda: CodeCommitCredentials(sandbox.developer, sandbox.region))
    parts = Collaborators(git=mirror, store=store, scratch=scratch / "work")
    request = BackupRequest("bench", url)
    signed = authenticated_url(url, sandbox.developer, fallback_region=sandbox.region)

    # Plain git: a mirror clone plus a bundle of everything, the baseline for a first full backup.
    git_full = _timed(lambda: _git("clone", "-q", "--mirror", signed, str(scratch / "git-mirror.git")))
    git_full += _timed(
        lambda: _git("bundle", "create", "-q", str(scratch / "all.bundle"), "--all", cwd=scratch / "git-mirror.git")
    )
    results: list[BackupResult] = []
    full = _timed(lambda: results.append(back_up(request, Policy(), parts)))

    # One commit pushed (written straight into the served repository), then a warm backup.
    repo = pygit2.Repository(str(sandbox.store.path_for("bench")))
    old_tip = repo.references["refs/heads/main"].target  # type: ignore[attr-defined]
    parent = repo[old_tip]  # type: ignore[index]
    blob = repo.create_blob(b"one more line\n")
    builder = repo.TreeBuilder(parent.tree)
    builder.insert("bench-one-more.txt", blob, pygit2.enums.FileMode.BLOB)
    signature = pygit2.Signature("Bench", "bench@example.com")
    new_tip = repo.create_commit("refs/heads/main", signature, signature, "one more", builder.write(), [old_tip])
    incremental = _timed(lambda: results.append(back_up(request, Policy(), parts)))
    new_pack = subprocess.run(
        ["git", "pack-objects", "--stdout", "-q"],
        input=_git("rev-list", "--objects", str(new_tip), "--not", str(old_tip), cwd=sandbox.store.path_for("bench")),
        cwd=sandbox.store.path_for("bench"),
        capture_output=True,
        check=True,
        env=ENV,
    ).stdout
    manifest_bytes = len(store.get(f"backups/bench/manifests/{results[-1].backup_id}.json").data)  # type: ignore[union-attr]

    git_restore = _timed(
        lambda: _git("clone", "-q", "--mirror", str(scratch / "all.bundle"), str(scratch / "git-restore.git"))
    )
    ours_restore = _timed(lambda: restore(store, "backups/", "bench", scratch / "restored.git"))
    same = _git("show-ref", cwd=scratch / "restored.git") == _git("show-ref", cwd=sandbox.store.path_for("bench"))

    upload_goal = 2 * (len(new_pack) + manifest_bytes)
    return [
        ("first full backup (s)", full, git_full, 1.5, "<= 1.5x git clone --mirror + bundle --all"),
        ("one-commit backup, warm (s)", incremental, full, 0.10, "<= 10% of the full backup"),
        (
            "one-commit upload (bytes)",
            results[-1].bytes_uploaded,
            upload_goal / 2,
            2.0,
            "<= 2x new-object pack + manifest",
        ),
        ("restore latest (s)", ours_restore, git_restore, 1.5, "<= 1.5x git clone of the full bundle"),
    ], same


def _print(rows: list[tuple[str, float, float, float, str]], what: str) -> None:
    print(f"repository: {what}")
    print(f"| {'measure':<30} | {'codereflex':>12} | {'baseline':>12} | {'ratio':>6} | {'goal':<42} | met |")
    print(f"|{'-' * 32}|{'-' * 14}|{'-' * 14}|{'-' * 8}|{'-' * 44}|-----|")
    for name, ours, baseline, limit, goal in rows:
        ratio = ours / baseline if baseline else 0.0
        met = "yes" if ratio <= limit else "NO"
        print(f"| {name:<30} | {ours:>12.3f} | {baseline:>12.3f} | {ratio:>6.2f} | {goal:<42} | {met:<3} |")
