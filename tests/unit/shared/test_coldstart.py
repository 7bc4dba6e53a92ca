"""Handler modules load without garbage collection and leave the collector on, with their objects frozen."""

from __future__ import annotations

import gc
import importlib
import os
import subprocess
import sys

import pytest

from codereflex.coldstart import collector_paused
from tests.conftest import ROOT


def test_the_collector_is_off_inside_and_on_after_with_what_was_built_frozen() -> None:
    assert gc.isenabled()
    frozen_before = gc.get_freeze_count()
    with collector_paused():
        assert not gc.isenabled()
        built: list[list[int]] = [[] for _ in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen_before + len(built)
    gc.unfreeze()  # give this process's objects back to the collector


def test_a_failing_import_still_turns_the_collector_back_on() -> None:
    with pytest.raises(ImportError), collector_paused():
        importlib.import_module("codereflex.no_such_module")
    assert gc.isenabled()
    gc.unfreeze()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


@pytest.mark.parametrize("function", ["build_results", "pr_builds", "repo_activity", "repo_backup"])
def test_a_cold_start_leaves_the_collector_on(function: str) -> None:
    # Given a fresh interpreter that imports the handler as Lambda does
    code = f"import gc, {function}.app; print(gc.isenabled(), gc.get_freeze_count())"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "functions" / function), "AWS_DEFAULT_REGION": "us-east-1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    enabled, frozen = out.split()
    # Then garbage collection works during invocations, and the modules' objects are out of its way
    assert enabled == "True"
    assert int(frozen) > 10_000
