"""packaging/Makefile, run the way `sam build` runs it, packages a function with usable bytecode and nothing else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bytecodecheck import report
from tests.conftest import ROOT


def _sam_style_build(function: str, scratch: Path) -> Path:
    """Copy the CodeUri to a scratch directory and run the resource's target there, as SAM does."""
    source = scratch / "source"
    shutil.copytree(ROOT / "functions" / function, source, ignore=shutil.ignore_patterns("__pycache__"))
    artifacts = scratch / "artifacts"
    artifacts.mkdir()
    logical_id = "".join(part.title() for part in function.split("_")) + "Function"
    env = {**os.environ, "ARTIFACTS_DIR": str(artifacts)}
    subprocess.run(
        ["make", "--makefile", str(ROOT / "packaging" / "Makefile"), f"build-{logical_id}", f"PYTHON={sys.executable}"],
        cwd=source,
        env=env,
        check=True,
        capture_output=True,
    )
    return artifacts


@pytest.mark.parametrize("function", ["build_results", "pr_builds", "repo_activity", "repo_backup"])
def test_a_function_package_is_its_code_with_hash_checked_bytecode(function: str, tmp_path: Path) -> None:
    artifacts = _sam_style_build(function, tmp_path)
    # Its package, and only it (its dependencies come from the layers)
    assert [path.name for path in artifacts.iterdir()] == [function]
    sources = sorted(path.relative_to(artifacts) for path in artifacts.rglob("*.py"))
    assert sources == sorted(
        path.relative_to(ROOT / "functions" / function)
        for path in (ROOT / "functions" / function / function).rglob("*.py")
    )
    # Every module with bytecode a cold start uses, whatever dates the zip gives the files
    assert report(artifacts) == 0
