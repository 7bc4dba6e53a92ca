"""`Sandbox` as code uses it: started and stopped repeatedly in one process, cleaned up, writing only inside itself."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pygit2
import pytest

from sandbox.demo.demo_kit import Workspace, commit
from sandbox.local import Sandbox


def _refs(path: Path) -> dict[str, str]:
    repo = pygit2.Repository(str(path))
    return {raw.decode(): str(repo.lookup_reference(raw.decode()).target) for raw in repo.raw_listall_references()}


def _legacy(path: Path) -> Path:
    repo = pygit2.init_repository(str(path), bare=True, initial_head="main")
    repo.create_reference_direct("refs/heads/main", commit(repo, "first", {"README": "legacy\n"}, []), True)
    return path


def test_a_served_sandbox_starts_and_stops_twice_in_one_process() -> None:
    folders, endpoints = [], []
    for _ in range(2):
        with Sandbox(server=True) as sandbox:
            sqs = sandbox.client("sqs")
            # Each start is a new deployment: the previous run's queue is gone
            assert not [url for url in sqs.list_queues().get("QueueUrls", []) if url.endswith("/leftover")]
            sqs.create_queue(QueueName="leftover")
            folders.append(sandbox.state_dir)
            endpoints.append(sandbox.endpoint_url)
        # And the stopped sandbox leaves no folder and no listening port
        assert not sandbox.state_dir.exists()
        host, port = str(endpoints[-1]).removeprefix("http://").split(":")
        with pytest.raises(ConnectionRefusedError), socket.create_connection((host, int(port)), timeout=5):
            pass
    assert folders[0] != folders[1]


def test_a_start_on_a_taken_port_fails_and_leaves_nothing_behind() -> None:
    region_before = os.environ.get("AWS_DEFAULT_REGION")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        sandbox = Sandbox(server=True, aws_port=taken.getsockname()[1], region="eu-west-1")
        with pytest.raises(OSError, match="in use"):
            sandbox.start()
    assert not sandbox.state_dir.exists()
    assert os.environ.get("AWS_DEFAULT_REGION") == region_before
    # And the next sandbox starts as if nothing had happened
    with Sandbox(server=True) as again:
        assert again.client("iam").get_user(UserName="developer")["User"]["UserName"] == "developer"


def test_an_imported_repository_is_a_copy_a_push_leaves_the_callers_alone(tmp_path: Path) -> None:
    source = _legacy(tmp_path / "legacy.git")
    before = _refs(source)
    with Sandbox() as sandbox:
        url = sandbox.import_repository("legacy", source)
        # When a developer pushes a branch to the imported repository
        dev = Workspace(sandbox, tmp_path / "dev.git", url)
        dev.set_ref("refs/heads/topic", commit(dev.repo, "topic", {"README": "topic\n"}, []))
        dev.push("+refs/heads/topic")
        # Then the sandbox has it, and the caller's repository is as it was
        branch = sandbox.client("codecommit").get_branch(repositoryName="legacy", branchName="topic")["branch"]
        assert branch["commitId"] == str(dev.repo.lookup_reference("refs/heads/topic").target)
        assert _refs(source) == before


def test_an_import_in_place_serves_the_callers_repository_itself(tmp_path: Path) -> None:
    source = _legacy(tmp_path / "legacy.git")
    with Sandbox() as sandbox:
        dev = Workspace(sandbox, tmp_path / "dev.git", sandbox.import_repository("legacy", source, in_place=True))
        dev.set_ref("refs/heads/topic", commit(dev.repo, "topic", {"README": "topic\n"}, []))
        dev.push("+refs/heads/topic")
    assert "refs/heads/topic" in _refs(source)


def test_a_served_sandbox_logs_no_line_per_request(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with Sandbox(server=True) as sandbox:
        for _ in range(3):
            sandbox.client("sqs").list_queues()
    assert [record.getMessage() for record in caplog.records if record.name == "werkzeug"] == []
