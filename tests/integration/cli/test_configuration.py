"""The installed `codereflex` command without AWS configuration: one sentence naming what to set, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMAND = Path(sys.executable).parent / "codereflex"


def _bare_env(home: Path, **extra: str) -> dict[str, str]:
    """A shell with no AWS settings at all: no keys, region, profile files, instance metadata or sandbox."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CODEREFLEX_", "SANDBOX_"))}
    env.update(
        HOME=str(home),
        AWS_CONFIG_FILE=str(home / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return {**env, **extra}


def _codereflex(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMMAND), "backup", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


KEYS = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example"}


@pytest.mark.parametrize(
    ("extra", "args", "names"),
    [
        ({}, ("list", "ledger"), ["AWS_ACCESS_KEY_ID", "--sandbox"]),
        (KEYS, ("list", "ledger"), ["AWS_DEFAULT_REGION", "--sandbox"]),
        ({**KEYS, "AWS_DEFAULT_REGION": "eu-west-1"}, ("verify", "ledger"), ["--bucket", "CODEREFLEX_BACKUP_BUCKET"]),
        ({**KEYS, "AWS_DEFAULT_REGION": "eu-west-1"}, ("run", "ledger"), ["BACKUP_BUCKET", "--sandbox"]),
        ({}, ("list", "ledger", "--sandbox"), ["python -m sandbox up", ".sandbox/up.json"]),
    ],
    ids=["credentials", "region", "bucket", "run-bucket", "no-sandbox-up"],
)
def test_a_missing_setting_is_one_sentence_naming_it(
    tmp_path: Path, extra: dict[str, str], args: tuple[str, ...], names: list[str]
) -> None:
    done = _codereflex(tmp_path, _bare_env(tmp_path, **extra), *args)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()  # one line: no traceback
    assert line.startswith("codereflex: ")
    for name in names:
        assert name in line


def test_a_shell_with_aws_credentials_is_not_switched_to_a_sandbox_state_file(tmp_path: Path) -> None:
    # Given a sandbox state file where the command looks, and a shell configured for AWS
    state = tmp_path / ".sandbox" / "up.json"
    state.parent.mkdir()
    state.write_text(json.dumps({"endpoint_url": "http://127.0.0.1:9", "region": "us-east-1"}))
    env = _bare_env(tmp_path, **KEYS, AWS_DEFAULT_REGION="eu-west-1")
    # When it runs without --sandbox, Then it stays with AWS (and asks for the bucket AWS needs)
    done = _codereflex(tmp_path, env, "list", "ledger")
    assert done.returncode == 2, done.stderr
    assert "sandbox at" not in done.stderr
    assert "no backup bucket" in done.stderr
