"""The hand-off decision with in-memory ports: which size counts, who holds the lease, what a failure leaves."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from codereflex.backup.backup import back_up
from codereflex.backup.job import BackupRequest, Collaborators, HandOffBuild, Outcome, Policy, TooLarge
from codereflex.backup.lease import BackupInProgress
from codereflex.backup.store import Stored
from codereflex.errors import TransientError
from tests.unit.repo_backup.fakes import FakeStore, NoGit

CATALOG = "backups/big/catalog.json"


@dataclass
class RecordingOffload:
    """StartBuild and the builds it started, each IN_PROGRESS until a test says otherwise."""

    fail: bool = False
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    builds: dict[str, HandOffBuild] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # build id -> lease owner it was started for
    lookups: list[tuple[str, str | None]] = field(default_factory=list)
    # Runs inside `find`, before it answers: another run acting at that moment.
    meanwhile: Callable[[], None] | None = None

    def start(self, request: BackupRequest, *, lease_owner: str, token: str) -> str:
        self.calls.append((request.repository, lease_owner, token))
        if self.fail:
            raise TransientError("StartBuild throttled")
        build_id = f"backup:{len(self.calls)}"
        self.builds[build_id] = HandOffBuild(build_id, "IN_PROGRESS")
        self.owners[build_id] = lease_owner
        return build_id

    def find(self, lease_owner: str, build_id: str | None) -> HandOffBuild | None:
        self.lookups.append((lease_owner, build_id))
        if self.meanwhile is not None:
            self.meanwhile()
        if build_id is not None:
            return self.builds.get(build_id)
        return next((self.builds[b] for b, owner in self.owners.items() if owner == lease_owner), None)

    def finish(self, build_id: str, status: str) -> None:
        self.builds[build_id] = HandOffBuild(build_id, status)


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


class EmptyGit(NoGit):
    """A repository the run can back up itself (no refs yet)."""

    def fetch(self, repository: str, url: str, *, limit: int | None = None) -> dict[str, str]:
        return {}


T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _clock_at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def _crashed_hand_off(store: FakeStore, offload: RecordingOffload, *, build_started: bool) -> None:
    """A run hands off at T0 and dies inside StartBuild (before or after CodeBuild started the build).

    A dead process frees nothing: the catalog stays as the lease write left it, so the snapshot
    taken inside StartBuild is put back after the run's own clean-up.
    """
    left: list[Stored] = []

    class Dying(RecordingOffload):
        def start(self, request: BackupRequest, *, lease_owner: str, token: str) -> str:
            left.append(store.objects[CATALOG])
            if build_started:
                offload.start(request, lease_owner=lease_owner, token=token)
            raise TransientError("the function was killed here")

    parts = Collaborators(git=HugeGit(), store=store, scratch=Path("unused"), offload=Dying(), clock=_clock_at(T0))
    with pytest.raises(TransientError):
        back_up(_request("event-1"), Policy(offload_bytes=1024), parts)
    store.objects[CATALOG] = left[0]
    lease = json.loads(store.objects[CATALOG].data)["lease"]
    assert (lease["handedOffTo"], lease["build"]) == ("codebuild", None)


def _next_run(
    store: FakeStore, offload: RecordingOffload, tmp_path: Path, *, at: datetime, policy: Policy | None = None
) -> tuple[Collaborators, Policy]:
    parts = Collaborators(git=EmptyGit(), store=store, scratch=tmp_path, offload=offload, clock=_clock_at(at))
    return parts, policy or Policy()


def test_a_crash_before_startbuild_reached_codebuild_is_recovered_by_the_next_run(tmp_path: Path) -> None:
    # Given a hand-off whose run died before CodeBuild started anything, twenty minutes ago
    store, offload = FakeStore(), RecordingOffload()
    _crashed_hand_off(store, offload, build_started=False)
    # When the next push's run comes
    parts, policy = _next_run(store, offload, tmp_path, at=T0 + timedelta(minutes=20))
    result = back_up(_request("event-2"), policy, parts)
    # Then it found no build for the lease's owner, took the lease over and backed up, saying why
    assert result.outcome is Outcome.BACKED_UP
    assert result.ended_hand_off is not None
    assert (result.ended_hand_off.build_id, result.ended_hand_off.status) == (None, "MISSING")
    assert json.loads(store.objects[CATALOG].data).get("lease") is None
    assert len(json.loads(store.objects[CATALOG].data)["backups"]) == 1


def test_a_lease_without_a_build_is_left_alone_while_startbuild_may_still_answer(tmp_path: Path) -> None:
    # Given the same crash, but only five minutes ago (the run that handed off could still be alive)
    store, offload = FakeStore(), RecordingOffload()
    _crashed_hand_off(store, offload, build_started=False)
    before = store.objects[CATALOG]
    parts, policy = _next_run(store, offload, tmp_path, at=T0 + timedelta(minutes=5))
    result = back_up(_request("event-2"), policy, parts)
    # Then it answers "handed off" and writes nothing
    assert (result.outcome, result.build_id, result.ended_hand_off) == (Outcome.HANDED_OFF, None, None)
    assert store.objects[CATALOG] == before


def test_a_build_started_by_a_crashed_run_is_found_by_its_owner_and_kept_while_it_runs(tmp_path: Path) -> None:
    # Given a run that died after CodeBuild started the build but before it heard the build id
    store, offload = FakeStore(), RecordingOffload()
    _crashed_hand_off(store, offload, build_started=True)
    [(_, owner, _)] = offload.calls
    # When the next run comes while that build is queued
    parts, policy = _next_run(store, offload, tmp_path, at=T0 + timedelta(minutes=20))
    result = back_up(_request("event-2"), policy, parts)
    # Then the build keeps the repository, no second build starts, and the lease now names the build
    assert (result.outcome, result.build_id, result.already_handed_off) == (Outcome.HANDED_OFF, "backup:1", True)
    assert len(offload.calls) == 1
    lease = json.loads(store.objects[CATALOG].data)["lease"]
    assert (lease["owner"], lease["build"]) == (owner, "backup:1")
    # And the run after asks for the build by its id
    back_up(_request("event-3"), policy, parts)
    assert offload.lookups[-1] == (owner, "backup:1")


@pytest.mark.parametrize("status", ["FAILED", "FAULT", "STOPPED", "TIMED_OUT", "SUCCEEDED"])
def test_a_build_that_ended_without_freeing_the_lease_gives_the_repository_back(tmp_path: Path, status: str) -> None:
    # Given a hand-off whose build ended (failing before it took the lease, or dying at its end)
    store, offload = FakeStore(), RecordingOffload()
    back_up(
        _request("event-1"),
        Policy(offload_bytes=1024),
        Collaborators(git=HugeGit(), store=store, scratch=tmp_path, offload=offload, clock=_clock_at(T0)),
    )
    offload.finish("backup:1", status)
    # When the next run comes, minutes later
    parts, policy = _next_run(store, offload, tmp_path, at=T0 + timedelta(minutes=3))
    result = back_up(_request("event-2"), policy, parts)
    # Then it took the lease over and backed the repository up itself
    assert result.outcome is Outcome.BACKED_UP
    assert result.ended_hand_off is not None
    assert (result.ended_hand_off.build_id, result.ended_hand_off.status) == ("backup:1", status)
    assert json.loads(store.objects[CATALOG].data).get("lease") is None


def test_a_build_still_in_progress_keeps_the_lease(tmp_path: Path) -> None:
    # Given a hand-off whose build is running
    store, offload = FakeStore(), RecordingOffload()
    policy = Policy(offload_bytes=1024)
    parts = Collaborators(git=HugeGit(), store=store, scratch=tmp_path, offload=offload, clock=_clock_at(T0))
    back_up(_request("event-1"), policy, parts)
    before = store.objects[CATALOG]
    # When a push comes eight hours later, the build still running
    parts, later = _next_run(store, offload, tmp_path, at=T0 + timedelta(hours=8))
    result = back_up(_request("event-2"), later, parts)
    # Then the build keeps it: nothing written, no second build
    assert (result.outcome, result.build_id, result.ended_hand_off) == (Outcome.HANDED_OFF, "backup:1", None)
    assert store.objects[CATALOG] == before
    assert len(offload.calls) == 1


def test_a_failed_build_of_a_large_repository_is_handed_off_again_to_a_new_build(tmp_path: Path) -> None:
    # Given a hand-off whose build failed, and the same event delivered again within CodeBuild's token window
    store, offload = FakeStore(), RecordingOffload()
    policy = Policy(offload_bytes=1024)
    back_up(_request("event-1"), policy, Collaborators(git=HugeGit(), store=store, scratch=tmp_path, offload=offload))
    offload.finish("backup:1", "FAILED")
    again = back_up(
        _request("event-1"), policy, Collaborators(git=HugeGit(), store=store, scratch=tmp_path, offload=offload)
    )
    # Then a new build (with a new token, so CodeBuild cannot answer with the failed one) holds the lease
    assert (again.outcome, again.build_id, again.already_handed_off) == (Outcome.HANDED_OFF, "backup:2", False)
    assert again.ended_hand_off is not None and again.ended_hand_off.status == "FAILED"
    [(_, _, first_token), (_, owner, token)] = offload.calls
    assert token != first_token
    lease = json.loads(store.objects[CATALOG].data)["lease"]
    assert (lease["owner"], lease["build"]) == (owner, "backup:2")


def test_two_runs_that_find_the_build_over_never_both_take_the_lease(tmp_path: Path) -> None:
    # Given a failed build's lease, and another run that takes it over while this one asks CodeBuild
    store, offload = FakeStore(), RecordingOffload()
    back_up(
        _request("event-1"),
        Policy(offload_bytes=1024),
        Collaborators(git=HugeGit(), store=store, scratch=tmp_path, offload=offload, clock=_clock_at(T0)),
    )
    offload.finish("backup:1", "FAILED")
    rival_lease = {"owner": "rival", "expires": (T0 + timedelta(minutes=16)).isoformat()}

    def rival_takes_it() -> None:
        offload.meanwhile = None
        catalog = json.loads(store.objects[CATALOG].data)
        store.put(CATALOG, json.dumps({**catalog, "lease": rival_lease}).encode())

    offload.meanwhile = rival_takes_it
    parts, _ = _next_run(store, offload, tmp_path, at=T0 + timedelta(minutes=3))
    # When this run tries to take it over too
    with pytest.raises(BackupInProgress):
        back_up(_request("event-2"), Policy(wait_seconds=0), parts)
    # Then its conditional write lost: the rival holds the lease
    assert json.loads(store.objects[CATALOG].data)["lease"]["owner"] == "rival"
