"""The hand-off decision with in-memory ports: which size counts, who holds the lease, what a failure leaves."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from codereflex.backup.engine import BackupRequest, Collaborators, Outcome, Policy, TooLarge, back_up
from codereflex.errors import TransientError
from tests.unit.repo_backup.fakes import FakeStore, NoGit

CATALOG = "backups/big/catalog.json"


@dataclass
class RecordingOffload:
    fail: bool = False
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    def start(self, request: BackupRequest, *, lease_owner: str, token: str) -> str:
        self.calls.append((request.repository, lease_owner, token))
        if self.fail:
            raise TransientError("StartBuild throttled")
        return f"backup:{len(self.calls)}"


class HugeGit(NoGit):
    """A first fetch that passes the limit after 5 MiB."""

    def fetch(self, repository: str, url: str, *, limit: int | None = None) -> dict[str, str]:
        assert limit is not None, "the threshold must reach the fetch"
        raise TooLarge(5 * 1024 * 1024)


def _request(trigger: str = "event-1") -> BackupRequest:
    return BackupRequest("big", "https://example.invalid/big", trigger, trigger)


def test_an_aborted_first_fetch_hands_off_and_leaves_the_lease_to_the_build(tmp_path: Path) -> None:
    # Given a first backup of a repository larger than the threshold
    store, offload = FakeStore(), RecordingOffload()
    parts = Collaborators(git=HugeGit(), store=store, scratch=tmp_path, offload=offload)
    # When it is backed up
    result = back_up(_request(), Policy(offload_bytes=1024), parts)
    # Then one build was started, and the lease now belongs to that build's owner and names the build
    assert (result.outcome, result.build_id, result.size_bytes) == (Outcome.HANDED_OFF, "backup:1", 5 * 1024 * 1024)
    [(_, owner, token)] = offload.calls
    lease = json.loads(store.objects[CATALOG].data)["lease"]
    assert (lease["owner"], lease["build"], lease["handedOffTo"]) == (owner, "backup:1", "codebuild")
    assert owner == f"codebuild-{token}"


def test_a_second_delivery_while_the_build_holds_the_lease_starts_nothing(tmp_path: Path) -> None:
    store, offload = FakeStore(), RecordingOffload()
    back_up(
        _request(),
        Policy(offload_bytes=1024),
        Collaborators(git=HugeGit(), store=store, scratch=tmp_path, offload=offload),
    )
    # When the same event (or another push) arrives while the build holds the lease
    again = back_up(
        _request(),
        Policy(offload_bytes=1024),
        Collaborators(git=HugeGit(), store=store, scratch=tmp_path, offload=offload),
    )
    # Then it reports the running build at once, without waiting or starting another
    assert (again.outcome, again.build_id, again.already_handed_off) == (Outcome.HANDED_OFF, "backup:1", True)
    assert len(offload.calls) == 1


def test_the_same_event_derives_the_same_token_and_another_event_a_new_one() -> None:
    assert _request("a").handoff_token == _request("a").handoff_token
    assert _request("a").handoff_token != _request("b").handoff_token
    assert len(_request("a").handoff_token) <= 64


def test_a_failed_start_frees_the_lease_and_raises_for_a_retry(tmp_path: Path) -> None:
    store = FakeStore()
    parts = Collaborators(git=HugeGit(), store=store, scratch=tmp_path, offload=RecordingOffload(fail=True))
    with pytest.raises(TransientError):
        back_up(_request(), Policy(offload_bytes=1024), parts)
    assert json.loads(store.objects[CATALOG].data).get("lease") is None


def test_without_an_offload_the_threshold_is_not_applied(tmp_path: Path) -> None:
    # Given the build itself (no offload): it must back up whatever the size, so its fetch has no limit
    class UnlimitedGit(NoGit):
        def fetch(self, repository: str, url: str, *, limit: int | None = None) -> dict[str, str]:
            assert limit is None
            return {}

    result = back_up(
        _request(), Policy(offload_bytes=1), Collaborators(git=UnlimitedGit(), store=FakeStore(), scratch=tmp_path)
    )
    assert result.outcome is Outcome.BACKED_UP
