"""The backup act of `make demo` runs its story against the sandbox and every claim holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.demo.demo_backup import act
from sandbox.demo.demo_kit import QUIET
from sandbox.local import Sandbox


def test_the_backup_act_proves_its_claims(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the sandbox the demo uses
    with Sandbox(function_env={**QUIET, "BACKUP_WORK_DIR": str(tmp_path / "lambda-tmp")}) as sandbox:
        # When the act runs (it raises DemoFailure when a claim does not hold)
        act(sandbox, tmp_path)
    # Then it told the story up to the proof
    out = capsys.readouterr().out
    assert "ok: git fsck --full is clean" in out
    assert "ok: git show-ref of the restore equals the source's before the force-push" in out
