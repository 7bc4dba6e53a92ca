"""Fixtures for the backup engine: a moto S3 bucket, a source repository driven by real git, a mirror."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import moto
import pytest

from codereflex.aws.s3 import S3ObjectStore
from codereflex.backup.backup import back_up
from codereflex.backup.job import BackupRequest, BackupResult, Collaborators, Policy
from codereflex.backup.mirror import GitMirror

BUCKET = "codereflex-backups"


class Clock:
    """A clock that moves one minute per reading, so every backup has its own time."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


class Git:
    """Plain git with no user config, in one working clone that pushes to a bare source repository."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir()
        self.env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(self.home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Backup Test",
            "GIT_AUTHOR_EMAIL": "backup@example.com",
            "GIT_COMMITTER_NAME": "Backup Test",
            "GIT_COMMITTER_EMAIL": "backup@example.com",
            "GIT_AUTHOR_DATE": "2026-11-23T12:00:00Z",
            "GIT_COMMITTER_DATE": "2026-11-23T12:00:00Z",
        }
        self.source = root / "source.git"
        self.work = root / "work"
        self.run("init", "-q", "--bare", "-b", "main", str(self.source))
        # CodeCommit lets a push delete the default branch; a plain bare repository must be told to.
        self.run("config", "receive.denyDeleteCurrent", "ignore", cwd=self.source)
        self.run("init", "-q", "-b", "main", str(self.work))
        self.run("remote", "add", "origin", str(self.source), cwd=self.work)
        self._counter = 0

    def run(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            ["git", "-c", "core.quotePath=false", *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
        return done.stdout

    def commit(self, message: str) -> str:
        self._counter += 1
        (self.work / f"file{self._counter % 3}.txt").write_text(f"{message} {self._counter}\n")
        self.run("add", "-A", cwd=self.work)
        self.run("commit", "-q", "-m", message, cwd=self.work)
        return self.run("rev-parse", "HEAD", cwd=self.work).strip()

    def push(self, *refspecs: str) -> None:
        self.run("push", "-q", "--force", "origin", *refspecs, cwd=self.work)

    def show_ref(self, repository: Path) -> str:
        done = subprocess.run(
            ["git", "show-ref"], cwd=repository, env=self.env, capture_output=True, text=True, check=False
        )
        return done.stdout  # exit status 1 just means "no refs"

    def fsck(self, repository: Path) -> None:
        self.run("fsck", "--full", "--strict", cwd=repository)


@pytest.fixture
def s3() -> Iterator[S3ObjectStore]:
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield S3ObjectStore(client, BUCKET)


@pytest.fixture
def git(tmp_path: Path) -> Git:
    return Git(tmp_path)


class Backups:
    """Runs the engine against the source repository, as the function would."""

    def __init__(self, git: Git, store: S3ObjectStore, root: Path) -> None:
        self.git = git
        self.store = store
        self.clock = Clock()
        self.mirror = GitMirror(root / "mirrors", callbacks=lambda: None)
        self.parts = Collaborators(git=self.mirror, store=store, scratch=root / "scratch", clock=self.clock)
        self.policy = Policy(prefix="backups/", full_every=3, wait_seconds=0)

    def run(self, event_id: str | None = None) -> BackupResult:
        return back_up(BackupRequest("source", str(self.git.source), event_id), self.policy, self.parts)


@pytest.fixture
def backups(git: Git, s3: S3ObjectStore, tmp_path: Path) -> Backups:
    return Backups(git, s3, tmp_path)
