"""The failure comment redacts the build's output whole, before it splits or bounds anything."""

from __future__ import annotations

from collections.abc import Sequence

from build_results.render import Details, Summary, render
from build_results.state import CommentState
from codereflex.ci.builds import Report, TestCase
from codereflex.redact import MASK
from codereflex.revisions import Run
from codereflex.signing import Signer

STATE = CommentState("pr:payments:1", "payments-ci", (Run("b", "FAILED", "c" * 40, "2026-12-01T19:00:00", 7),))
KEY = [
    "-----BEGIN EC PRIVATE KEY-----",
    "MHcCAQEEII9/jrShQllyfgxQFJD/5oThaRQQnA8jnOGHdjIwSwSfoAoGCCqGSM49",
    "AwEHoUQDQgAEcSRYAl4iKM1Xnw0Izb6vlmTLNxbTI8vS5cuMXxa3IMOGlWRvHIxn",
    "pdX0NcYMxbv3cI9FMjWmcAjIOBNkLpZTcg==",
    "-----END EC PRIVATE KEY-----",
]


def _comment(log_lines: Sequence[str] = (), message: str | None = None) -> str:
    tests = [TestCase("test_deploy", "tests.deploy", "FAILED", message)] if message is not None else []
    details = Details(
        region="us-east-1",
        reports=[Report("r", "unit", "TEST", 1, {"FAILED": 1})] if tests else [],
        failing_tests=tests,
        log_lines=log_lines,
        failed_phase="BUILD",
    )
    return render(STATE, details, Summary(), signer=Signer(b"k" * 32))


def test_a_key_in_the_log_tail_is_one_mask_and_the_lines_around_it_stay() -> None:
    comment = _comment(["$ cat deploy.pem", *KEY, "Phase complete: BUILD State: FAILED"])
    assert all(line not in comment for line in KEY[1:4])
    assert f"$ cat deploy.pem\n{MASK}\nPhase complete: BUILD State: FAILED" in comment
    assert "**Last 3 log lines** (secrets redacted)" in comment


def test_a_key_in_a_test_message_is_masked_across_its_lines() -> None:
    comment = _comment(message="ValueError: bad key\n" + "\n".join(KEY))
    assert all(line[:20] not in comment for line in KEY[1:4])
    assert f"ValueError: bad key {MASK}" in comment


def test_a_secret_where_a_message_is_cut_never_shows_in_part() -> None:
    # Given a message whose secret sits where the raw text would have been cut, and whose blank
    # run shrinks to one space when the table cell is flattened
    comment = _comment(message=" " * 430 + "AKIAIOSFODNN7EXAMPLE and more")
    # Then no part of it shows: it was masked before anything was cut
    assert "AKIAIOSFOD" not in comment
    assert f"{MASK} and more" in comment


def test_a_secret_across_the_line_bound_never_shows_in_part() -> None:
    line = "x" * 180 + " ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    comment = _comment([line])
    assert "ghp_" not in comment
    assert "x" * 180 + " " + MASK[:19] in comment
