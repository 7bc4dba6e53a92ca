"""The build's bytecode check, and the fact behind it: only hash-checked .pyc files survive SAM's 1980 dates."""

from __future__ import annotations

import os
import py_compile
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bytecodecheck import report

ZIP_EPOCH = 315532800  # 1980-01-01, the date SAM gives every file it zips (no date_time set)
CHECKED = py_compile.PycInvalidationMode.CHECKED_HASH
TIMESTAMP = py_compile.PycInvalidationMode.TIMESTAMP


def _package(root: Path, mode: py_compile.PycInvalidationMode | None) -> Path:
    source = root / "pkg" / "mod.py"
    source.parent.mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    source.write_text("ANSWER = 42\n")
    if mode is not None:
        for module in (source, root / "pkg" / "__init__.py"):
            py_compile.compile(str(module), doraise=True, invalidation_mode=mode)
    return source


def _as_lambda_sees_it(built: Path, target: Path) -> Path:
    """Zip the package as SAM does (entries without dates) and unpack it as Lambda does (dates kept)."""
    archive = target.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(built.rglob("*")):
            if path.is_file():
                zipped.writestr(zipfile.ZipInfo(str(path.relative_to(built))), path.read_bytes())
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(target)
    for path in target.rglob("*"):
        os.utime(path, (ZIP_EPOCH, ZIP_EPOCH))
    return target


def _bytecode_used(code_dir: Path) -> bool:
    """Whether a fresh interpreter imports pkg.mod from its .pyc (python -v says "matches") rather than compiling."""
    env = {**os.environ, "PYTHONPATH": str(code_dir), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(
        [sys.executable, "-S", "-v", "-c", "import pkg.mod; assert pkg.mod.ANSWER == 42"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    verbose = run.stderr.splitlines()
    return any(line.startswith("# ") and "mod.cpython" in line and " matches " in line for line in verbose)


@pytest.mark.parametrize(("mode", "used"), [(CHECKED, True), (TIMESTAMP, False)], ids=["checked-hash", "timestamp"])
def test_after_packaging_only_hash_checked_bytecode_is_used(
    tmp_path: Path, mode: py_compile.PycInvalidationMode, used: bool
) -> None:
    # Given a package compiled one way, zipped and unpacked as SAM and Lambda do
    _package(tmp_path / "built", mode)
    deployed = _as_lambda_sees_it(tmp_path / "built", tmp_path / "deployed")
    # Then a cold start imports from its bytecode only when the .pyc is hash-checked
    assert _bytecode_used(deployed) is used


def test_hash_checked_bytecode_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _package(tmp_path, CHECKED)
    assert report(tmp_path) == 0
    assert "all 2 modules" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mode", "problem"), [(None, "no .pyc"), (TIMESTAMP, "a timestamp .pyc")], ids=["missing", "timestamp"]
)
def test_modules_that_would_compile_at_a_cold_start_fail_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: py_compile.PycInvalidationMode | None, problem: str
) -> None:
    source = _package(tmp_path, mode)
    assert report(tmp_path) == 1
    err = capsys.readouterr().err
    assert f"{source} has {problem}" in err
    assert "2 of 2 modules would compile at every cold start" in err


def test_bytecode_of_an_older_source_fails_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given bytecode compiled before the source was changed (a copy that skipped the compile step)
    source = _package(tmp_path, CHECKED)
    source.write_text("ANSWER = 43\n")
    assert report(tmp_path) == 1
    assert f"{source} has a .pyc of other source" in capsys.readouterr().err
