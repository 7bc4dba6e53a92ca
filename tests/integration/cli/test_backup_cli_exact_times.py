"""`codereflex backup list|restore` telling apart backups taken within one second (the engine's clock set)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import moto
import pytest

from codereflex.aws.s3 import S3ObjectStore
from codereflex.backup.job import Outcome
from codereflex.cli.main import main
from tests.integration.backup.conftest import BUCKET, Backups, Git

# Five backups, three of them within 19:03:05 and two within 19:03:06.
MOMENTS = [datetime(2026, 12, 1, 19, 3, 5, 100_000, tzinfo=UTC) + timedelta(milliseconds=300 * n) for n in range(5)]


class SetClock:
    """Stands still at the time the test set: each backup is taken at exactly one of MOMENTS."""

    def __init__(self) -> None:
        self.now = MOMENTS[0]

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def backups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backups]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("CODEREFLEX_BACKUP_BUCKET", BUCKET)
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        taking = Backups(Git(tmp_path), S3ObjectStore(client, BUCKET), tmp_path)
        taking.parts.clock = SetClock()
        yield taking


def _history(backups: Backups) -> list[str]:
    """A backup at each of MOMENTS after pushes, a tag, a force-push and a deletion; show-ref of each."""
    git, clock = backups.git, backups.parts.clock
    assert isinstance(clock, SetClock)
    steps = [
        ["HEAD:refs/heads/main"],
        ["HEAD:refs/heads/main", "HEAD:refs/heads/draft"],
        ["HEAD:refs/heads/main", "refs/tags/v1"],
        ["HEAD~1:refs/heads/main"],  # a force-push back, dropping the last commit
        [":refs/heads/draft"],
    ]
    states = []
    for number, (moment, refspecs) in enumerate(zip(MOMENTS, steps, strict=True)):
        if number < 3:
            git.commit(f"commit {number}")
        if "refs/tags/v1" in refspecs:
            git.run("tag", "v1", cwd=git.work)
        git.push(*refspecs)
        clock.now = moment
        assert backups.run().outcome is Outcome.BACKED_UP
        states.append(git.show_ref(git.source))
    assert len(set(states)) == len(states)
    return states


def _listed(capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str]]:
    assert main(["backup", "list", "source"]) == 0
    return [(row.split()[0], row.split()[1]) for row in capsys.readouterr().out.splitlines()[1:]]


def test_backups_within_one_second_each_restore_by_printed_time_and_by_id(
    backups: Backups, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given five backups, three of them within one second
    states = _history(backups)
    # When they are listed
    listed = _listed(capsys)
    # Then each printed time is that backup's own, to the microsecond
    assert [printed for _, printed in listed] == [
        "2026-12-01T19:03:05.100000+00:00",
        "2026-12-01T19:03:05.400000+00:00",
        "2026-12-01T19:03:05.700000+00:00",
        "2026-12-01T19:03:06.000000+00:00",
        "2026-12-01T19:03:06.300000+00:00",
    ]
    for number, (backup, printed) in enumerate(listed):
        # When each is restored by the time the list printed, and by its id
        for how, arguments in (("time", ["--at", printed]), ("id", ["--backup", backup])):
            target = tmp_path / f"{how}-{number}"
            assert main(["backup", "restore", "source", *arguments, "--to", str(target)]) == 0
            # Then the restore has exactly the refs of that moment, not the backup before or after it
            assert backups.git.show_ref(target) == states[number], (how, backup)
            backups.git.fsck(target)
            assert f"Restoring backup {backup} ({printed})" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("asked", "chosen", "reason"),
    [
        pytest.param("2026-12-01T19:03:05.999", 2, "2026-12-01T19:03:05.999000+00:00", id="no-zone-is-utc"),
        pytest.param("2026-12-01T19:03:06", 3, "2026-12-01T19:03:06+00:00", id="seconds"),
        pytest.param("2026-12-01T20:03:05.5+01:00", 1, "2026-12-01T19:03:05.500000+00:00", id="offset-and-fraction"),
        pytest.param("2026-12-01T19:03:05.7Z", 2, "2026-12-01T19:03:05.700000+00:00", id="the-very-microsecond"),
        pytest.param("2026-12-01T19:03:05.699999Z", 1, "2026-12-01T19:03:05.699999+00:00", id="a-microsecond-before"),
        pytest.param("2026-12-01T19:04z", 4, "2026-12-01T19:04:00+00:00", id="minutes-lower-case-z"),
        pytest.param("2026-12-02", 4, "2026-12-02T00:00:00+00:00", id="date-only"),
        pytest.param("2026-12-01 19:03:06", 3, "2026-12-01T19:03:06+00:00", id="the-old-list-format"),
    ],
)
def test_at_takes_iso_8601_in_its_common_forms_and_says_what_it_chose(
    backups: Backups, tmp_path: Path, capsys: pytest.CaptureFixture[str], *, asked: str, chosen: int, reason: str
) -> None:
    # Given five backups within two seconds
    states = _history(backups)
    backup, printed = _listed(capsys)[chosen]
    # When a restore asks for a time written in one of ISO 8601's forms
    assert main(["backup", "restore", "source", "--at", asked, "--to", str(tmp_path / "then")]) == 0
    # Then it restores the last backup at or before that time, and says so
    assert backups.git.show_ref(tmp_path / "then") == states[chosen]
    assert f"Restoring backup {backup} ({printed}), the last at or before {reason}\n" in capsys.readouterr().out


def test_a_time_before_the_first_backup_of_that_second_names_the_earliest(
    backups: Backups, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given backups from 19:03:05.1 on
    _history(backups)
    # When the restore asks for the start of that second
    code = main(["backup", "restore", "source", "--at", "2026-12-01T19:03:05Z", "--to", str(tmp_path / "x")])
    # Then it fails in one sentence naming the earliest backup's time
    assert code == 1
    assert capsys.readouterr().err == (
        "codereflex: no backup of source at or before 2026-12-01T19:03:05+00:00: "
        "the earliest is at 2026-12-01T19:03:05.100000+00:00\n"
    )
