"""The build-results demo act runs end to end and every claim it prints holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.demo.demo_builds import act
from sandbox.demo.demo_kit import QUIET
from sandbox.local import Sandbox


def test_the_demo_act_tells_the_whole_story(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the demo's quiet sandbox
    with Sandbox(function_env=QUIET) as sandbox:
        # When the act runs (it raises DemoFailure when a claim does not hold)
        act(sandbox, tmp_path)
    # Then it printed each step's comment and the final approval
    out = capsys.readouterr().out
    assert out.count("pull request comment (Markdown)") == 4
    assert "ok: the revision is approved by the bot" in out
