"""`make demo` end to end: every act runs against one sandbox and every claim it prints holds."""

from __future__ import annotations

import pytest

from sandbox.demo import demo


def test_the_whole_demo_succeeds(capsys: pytest.CaptureFixture[str]) -> None:
    # When the demo runs as `make demo` runs it (each act raises DemoFailure when a claim does not hold)
    code = demo.run()
    out = capsys.readouterr().out
    # Then it exits 0 and has told every capability's story
    assert code == 0, out[-3000:]
    assert "Demo complete: every act did what it said." in out
    for milestone in (
        "ok: one notice, and it says force-push",
        "ok: the backup found nothing new",
        "ok: git fsck --full is clean",
        "ok: the revision is approved by the bot",
        "ok: fetching the link decided nothing",
        "ok: it records who and why",
        "ok: bob@example.com received one close-out email",
        "ok: the spec is valid and its plan fits the hook functions' runs",
        "ok: the Lambda deployment Succeeded",
        "ok: each hook's HTML report is in the ValidationBucket",
        "ok: the reason names the check, its observed p99 and the 150 ms threshold",
        "ok: production traffic is back on blue",
        "ok: one notice, with the reason",
        "== Validation 3: an inconclusive check decided by a person",
        "simulated clock: the hook's wait of minutes takes a second",
        "ok: the page took Alice's approval",
        "ok: the hook handed over to its next run 1 time(s) while it waited",
        "ok: the reason names who approved and why",
        "ok: the deployment a person approved Succeeded",
        "ok: it says who decided",
    ):
        assert milestone in out
