"""Secrets in build logs and test messages are masked before they reach a comment; ordinary output survives."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from codereflex.redact import MASK, redact, redact_lines
from tests.conftest import ROOT
from tests.secrets_corpus import leaked, near_misses, secret_cases

RSA_KEY = [
    "-----BEGIN RSA PRIVATE KEY-----",
    "MIIEpAIBAAKCAQEAt5oFnZd6BtVARZPGOqrSlcw/seulPDoS2NmULSmPUFw/gkVH",
    "kzXhR0Eb7GnbnwZ2cRtGbs9EyLYm3lVpH5M1MbbxcCQKIl3mRWt9rJ2JuwEWpmVP",
    "pG8F0qV0lSyP1g==",
    "-----END RSA PRIVATE KEY-----",
]


def test_no_secret_of_the_corpus_survives() -> None:
    # Given every secret of the corpus, as a log or a test message would carry it
    cases = secret_cases()
    # When each is redacted, Then not one of their secrets is left (the message names those that are)
    leaks = [leak for case in cases for leak in leaked([case], redact(case.text))]
    assert leaks == [], f"{len(leaks)} leaks of {len(cases)} cases:\n" + "\n".join(leaks)


def test_near_misses_of_the_corpus_come_through_unchanged() -> None:
    changed = [f"{miss.kind}: {redact(miss.text)!r}" for miss in near_misses() if redact(miss.text) != miss.text]
    assert changed == [], "\n".join(changed)


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        ("cloning https://deploy:s3cr3tP4ss@git.example.com/repo.git", "s3cr3tP4ss"),
        ("curl -H 'Authorization: Bearer abcdefghijklmnop1234'", "abcdefghijklmnop1234"),
        ('{"password": "hunter2hunter2"}', "hunter2hunter2"),
        ("DB_PASSWORD=correct-horse-battery", "correct-horse-battery"),
        ("using token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N", "dozjgNryP4J3jVmNHl0w5N"),
        ("\n".join(RSA_KEY), "MIIEpAIBAAKCAQEA"),
    ],
)
def test_secrets_are_masked(line: str, secret: str) -> None:
    # When a log line carrying a secret is redacted
    cleaned = redact(line)
    # Then the secret is gone and the mask says something was there
    assert secret not in cleaned
    assert MASK in cleaned


@pytest.mark.parametrize(
    "line",
    [
        "[Container] 2026/11/23 19:30:01 Running command python -m pytest",
        "FAILED tests/test_refunds.py::test_partial - AssertionError: 3 != 4",
        "Phase complete: BUILD State: FAILED",
        "commit 4f1c2a9b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b",
    ],
)
def test_ordinary_build_output_is_kept(line: str) -> None:
    assert redact(line) == line


def test_a_key_block_becomes_one_mask_between_the_lines_around_it() -> None:
    lines = ["$ cat deploy.pem", *RSA_KEY, "Phase complete: BUILD State: FAILED"]
    assert redact_lines(lines) == ["$ cat deploy.pem", MASK, "Phase complete: BUILD State: FAILED"]


def test_a_key_the_tail_cut_off_at_either_end_is_masked() -> None:
    # A tail that begins inside the body (its BEGIN line was older than the tail) ...
    assert redact_lines([*RSA_KEY[2:], "error: key rejected"]) == [MASK, "error: key rejected"]
    # ... or ends inside it (the log ended, or the message was cut, before END)
    assert redact_lines(["$ cat deploy.pem", *RSA_KEY[:3]]) == ["$ cat deploy.pem", MASK]


def test_a_key_body_alone_is_known_by_its_first_line() -> None:
    assert redact_lines(["key:", *RSA_KEY[1:3], "next step"]) == ["key:", MASK, "next step"]


def test_escape_sequences_go_and_the_text_stays() -> None:
    assert redact("\x1b[31mERROR\x1b[0m tests failed \x1b]0;title\x07") == "ERROR tests failed "
    assert redact("\x1b[32mDB_PASSWORD\x1b[0m=hunter2hunter2") == f"DB_PASSWORD={MASK}"


def test_a_token_longer_than_its_rule_is_masked_whole() -> None:
    # Stripe's rule is 24 characters; today's keys are longer
    key = "sk_live_51" + "Ab3" * 33
    assert redact(f"charging with {key} now") == f"charging with {MASK} now"


def test_empty_input_stays_empty() -> None:
    assert redact("") == ""
    assert redact_lines([]) == []
    assert redact_lines([""]) == [""]


def test_the_renderer_imports_without_the_detection_library() -> None:
    # The build results handler imports the renderer at cold start; the rules load only when used
    code = (
        "import sys; import build_results.render, codereflex.redact as r; "
        "assert 'detect_secrets' not in sys.modules; r.redact('token=abc'); "
        "assert 'detect_secrets' in sys.modules"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "functions" / "build_results")}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
