"""The revision record on moto's DynamoDB: a run counts only for a build codereflex started, at its commit."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import moto
import pytest

from codereflex.aws.revisions import RevisionLedger
from codereflex.revisions import Run, StartedFor

TABLE = "records"
SOURCE = "a" * 40
STARTED = StartedFor("payments", "42", "rev-1", SOURCE, "b" * 40, ("payments-ci", "payments-lint"))


@pytest.fixture
def ledger() -> Iterator[RevisionLedger]:
    with moto.mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield RevisionLedger(client, TABLE, clock=lambda: 1_800_000_000)


def _run(build: str, status: str = "SUCCEEDED", commit: str = SOURCE, started: str = "2026-11-23T19:05:00") -> Run:
    return Run(build, status, commit, started, 1)


def test_a_started_build_s_run_is_recorded_with_the_revision(ledger: RevisionLedger) -> None:
    ledger.started(STARTED, "payments-ci", "payments-ci:uuid-1")
    record = ledger.record_run(STARTED.key, "payments-ci", _run("uuid-1"))
    assert record is not None
    assert record.started_for == STARTED
    assert dict(record.runs) == {"payments-ci": _run("uuid-1")}
    assert record.changed
    assert ledger.read(STARTED.key).runs == record.runs


@pytest.mark.parametrize(
    ("project", "run"),
    [
        ("payments-ci", _run("uuid-other")),  # a build nobody recorded starting
        ("payments-lint", _run("uuid-1")),  # a started build, claimed for another project
        ("payments-ci", _run("uuid-1", commit="c" * 40)),  # a started build at another commit
    ],
    ids=["unknown-build", "other-project", "other-commit"],
)
def test_a_run_codereflex_did_not_start_is_recorded_nowhere(ledger: RevisionLedger, project: str, run: Run) -> None:
    ledger.started(STARTED, "payments-ci", "payments-ci:uuid-1")
    assert ledger.record_run(STARTED.key, project, run) is None
    assert ledger.read(STARTED.key).runs == {}


def test_no_record_at_all_means_not_started(ledger: RevisionLedger) -> None:
    assert ledger.record_run(STARTED.key, "payments-ci", _run("uuid-1")) is None


def test_an_older_or_repeated_run_changes_nothing_and_says_so(ledger: RevisionLedger) -> None:
    for build in ("payments-ci:uuid-1", "payments-ci:uuid-2"):
        ledger.started(STARTED, "payments-ci", build)
    newer = _run("uuid-2", "IN_PROGRESS", started="2026-11-23T19:10:00")
    assert ledger.record_run(STARTED.key, "payments-ci", newer) is not None
    # The earlier build's success arrives late, and the newer one's IN_PROGRESS twice
    late = ledger.record_run(STARTED.key, "payments-ci", _run("uuid-1"))
    again = ledger.record_run(STARTED.key, "payments-ci", newer)
    assert late is not None and again is not None
    assert (late.changed, again.changed) == (False, False)
    assert dict(late.runs) == {"payments-ci": newer}
    # And the newer build moving on is news
    done = ledger.record_run(STARTED.key, "payments-ci", newer._replace(status="SUCCEEDED"))
    assert done is not None and done.changed
