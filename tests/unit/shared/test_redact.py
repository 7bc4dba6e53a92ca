"""Secret-looking strings in build logs are masked before they reach a comment; ordinary lines survive."""

from __future__ import annotations

import pytest

from codereflex.redact import MASK, redact


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
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEA"),
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
