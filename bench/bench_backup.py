"""Repository backup on generated and real history: full, one-commit and restore, beside plain git in each run.

Served by the sandbox git server (SigV4 git passwords, real HTTP), S3 is moto in-process. The
repositories: a generated one of BENCH_BACKUP_COMMITS commits (default 5,000), a generated one with
BENCH_BACKUP_TAGS tags (default 3,000, half of them annotated), pallets/click from
../shared/bench-repos/click.bundle (skipped, with a line saying so, when absent), and every bare
repository in BENCH_BACKUP_REPO (paths separated by the OS path separator). Each is measured
BENCH_BACKUP_RUNS times (default 5), each run in a fresh sandbox and scratch directory, with git
and codereflex alternating which goes first (the machine is shared); the tables show medians.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pygit2

from codereflex.aws.s3 import S3ObjectStore
from codereflex.backup.backup import back_up
from codereflex.backup.job import BackupRequest, BackupResult, Collaborators, Policy
from codereflex.backup.mirror import GitMirror
from codereflex.backup.restore import restore
from codereflex.gitauth import authenticated_url
from codereflex.gitremote import CodeCommitCredentials
from sandbox.local import Sandbox

ROOT = Path(__file__).resolve().parents[1]
REAL_BUNDLES = ROOT.parent / "shared" / "bench-repos"
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


@dataclass(frozen=True)
class Row:
    measure: str
    ours: float
    baseline: float
    limit: float | None  # the goal's largest ratio; None: shown beside git, no goal
    goal: str
    allowance: float = 0  # what the goal allows beyond limit x baseline (the upload's 1 KB)


def _git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["git", *args], cwd=cwd, env=ENV, input=stdin, capture_output=True, check=True).stdout


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def generate(path: Path, commits: int, *, tag_every: int = 500, annotate: bool = False) -> None:
    """A bare repository of `commits` commits over 300 files in 30 directories, built with git fast-import.

    Every `tag_every`-th commit is tagged; with `annotate`, every other tag is an annotated one.
    """
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
        if number % tag_every == 0 and annotate and number % (2 * tag_every) == 0:
            message = f"release {number}"
            lines.append(
                f"tag v{number}\nfrom :{number}\ntagger Bench <bench@example.com> {1_700_000_000 + number} +0000\n"
                f"data {len(message)}\n{message}\n".encode()
            )
        elif number % tag_every == 0:
            lines.append(f"reset refs/tags/v{number}\nfrom :{number}\n\n".encode())
    _git("fast-import", "--quiet", cwd=path, stdin=b"".join(lines))


def repositories(scratch: Path) -> Iterator[tuple[str, Path | None]]:
    """(what, bare repository) for each repository to measure; None when it is not on this machine."""
    commits = int(os.environ.get("BENCH_BACKUP_COMMITS", "5000"))
    tags = int(os.environ.get("BENCH_BACKUP_TAGS", "3000"))
    generated = scratch / "generated.git"
    generate(generated, commits)
    yield f"generated, {commits:,} commits, {commits // 500} tags", generated
    tagged = scratch / "tagged.git"
    generate(tagged, tags, tag_every=1, annotate=True)
    yield f"generated, {tags:,} commits, {tags:,} tags", tagged
    click = REAL_BUNDLES / "click.bundle"
    if click.exists():
        real = scratch / "click.git"
        _git("init", "-q", "--bare", str(real))
        _git("fetch", "-q", str(click), "+refs/*:refs/*", cwd=real)
        yield "pallets/click (real history, 3,335 commits, 74 refs)", real
    else:
        yield f"pallets/click: skipped, {click} is not on this machine", None
    for given in filter(None, os.environ.get("BENCH_BACKUP_REPO", "").split(os.pathsep)):
        yield given, Path(given)


def main() -> int:
    runs = int(os.environ.get("BENCH_BACKUP_RUNS", "5"))
    status = 0
    with tempfile.TemporaryDirectory(prefix="codereflex-bench-backup-") as scratch_dir:
        for what, original in repositories(Path(scratch_dir)):
            if original is None:
                print(f"repository: {what}")
                continue
            samples: list[list[Row]] = []
            same = True
            for run in range(runs):
                scratch = Path(scratch_dir) / f"run-{run}"
                source = scratch / "source.git"
                shutil.copytree(original, source, symlinks=True)  # each run adds a commit to its own copy
                with Sandbox(function_env={"POWERTOOLS_METRICS_DISABLED": "true"}) as sandbox:
                    rows, restored_same = _measure(sandbox, source, scratch, git_first=run % 2 == 0)
                samples.append(rows)
                same = same and restored_same
                shutil.rmtree(scratch)
            medians = [
                Row(row.measure, statistics.median(r[i].ours for r in samples), *_median_baseline(samples, i))
                for i, row in enumerate(samples[0])
            ]
            _print(medians, f"{what}; medians of {runs} runs, git and codereflex alternating")
            print(f"restored refs equal the source's in every run: {'yes' if same else 'NO'}\n")
            status |= 0 if same else 1
    return status


def _median_baseline(samples: list[list[Row]], i: int) -> tuple[float, float | None, str, float]:
    first = samples[0][i]
    return statistics.median(r[i].baseline for r in samples), first.limit, first.goal, first.allowance


def _both(git_first: bool, git_action: Callable[[], object], our_action: Callable[[], object]) -> tuple[float, float]:
    """(git's time, ours), taken in the order this run alternates to."""
    if git_first:
        git_time = _timed(git_action)
        return git_time, _timed(our_action)
    ours = _timed(our_action)
    return _timed(git_action), ours


def _measure(sandbox: Sandbox, source: Path, scratch: Path, *, git_first: bool) -> tuple[list[Row], bool]:
    url = sandbox.import_repository("bench", source)
    served = sandbox.store.path_for("bench")
    s3 = sandbox.client("s3")
    s3.create_bucket(Bucket="bench-backups")
    store = S3ObjectStore(s3, "bench-backups")
    mirror = GitMirror(scratch / "mirrors", lambda: CodeCommitCredentials(sandbox.developer, sandbox.region))
    parts = Collaborators(git=mirror, store=store, scratch=scratch / "work")
    request = BackupRequest("bench", url)
    signed = authenticated_url(url, sandbox.developer, fallback_region=sandbox.region)
    git_mirror = scratch / "git-mirror.git"
    results: list[BackupResult] = []

    def git_full() -> None:
        # Plain git: a mirror clone plus a bundle of everything, the baseline for a first full backup.
        _git("clone", "-q", "--mirror", signed, str(git_mirror))
        _git("bundle", "create", "-q", str(scratch / "all.bundle"), "--all", cwd=git_mirror)

    git_full_time, full = _both(git_first, git_full, lambda: results.append(back_up(request, Policy(), parts)))

    # One commit pushed (written straight into the served repository), then a warm backup.
    repo = pygit2.Repository(str(served))
    old_tip = repo.references["refs/heads/main"].target  # type: ignore[attr-defined]
    parent = repo[old_tip]  # type: ignore[index]
    blob = repo.create_blob(b"one more line\n")
    builder = repo.TreeBuilder(parent.tree)
    builder.insert("bench-one-more.txt", blob, pygit2.enums.FileMode.BLOB)
    signature = pygit2.Signature("Bench", "bench@example.com")
    repo.create_commit("refs/heads/main", signature, signature, "one more", builder.write(), [old_tip])

    def git_incremental() -> None:
        # git's own incremental: fetch into its mirror, then a bundle of the changed ref from old to new.
        _git("fetch", "-q", "--prune", signed, "+refs/*:refs/*", cwd=git_mirror)
        _git("bundle", "create", "-q", str(scratch / "change.bundle"), f"{old_tip}..main", cwd=git_mirror)

    git_one, incremental = _both(git_first, git_incremental, lambda: results.append(back_up(request, Policy(), parts)))
    git_change_bytes = (scratch / "change.bundle").stat().st_size

    _git("bundle", "create", "-q", str(scratch / "latest.bundle"), "--all", cwd=git_mirror)
    git_restore, ours_restore = _both(
        git_first,
        lambda: _git("clone", "-q", "--mirror", str(scratch / "latest.bundle"), str(scratch / "git-restore.git")),
        lambda: restore(store, "backups/", "bench", scratch / "restored.git"),
    )
    same = _git("show-ref", cwd=scratch / "restored.git") == _git("show-ref", cwd=served)
    return [
        Row("first full backup (s)", full, git_full_time, 1.5, "<= 1.5x git clone --mirror + bundle --all"),
        Row("one-commit backup, warm (s)", incremental, full, 0.10, "<= 10% of our full backup"),
        Row("  the same against git (s)", incremental, git_one, None, "git fetch + bundle create old..new"),
        Row(
            "one-commit upload (bytes)",
            results[-1].bytes_uploaded,
            git_change_bytes,
            2.0,
            "<= 2x git's bundle of the change + 1 KB",
            # Bundle and manifest; the catalog's two rewrites (lease, then entry) are bookkeeping
            # that grows with the history kept inline (at most 256 entries), never with the refs.
            1024,
        ),
        Row("restore latest (s)", ours_restore, git_restore, 1.5, "<= 1.5x git clone --mirror of git's bundle"),
    ], same


def _print(rows: list[Row], what: str) -> None:
    print(f"repository: {what}")
    print(f"| {'measure':<30} | {'codereflex':>12} | {'baseline':>12} | {'ratio':>6} | {'goal':<42} | met |")
    print(f"|{'-' * 32}|{'-' * 14}|{'-' * 14}|{'-' * 8}|{'-' * 44}|-----|")
    for row in rows:
        ratio = row.ours / row.baseline if row.baseline else 0.0
        met = "-" if row.limit is None else "yes" if row.ours <= row.limit * row.baseline + row.allowance else "NO"
        figures = f"{row.ours:>12.3f} | {row.baseline:>12.3f} | {ratio:>6.2f}"
        print(f"| {row.measure:<30} | {figures} | {row.goal:<42} | {met:<3} |")
