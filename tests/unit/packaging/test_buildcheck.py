"""make build's check runs both artifact checks and reports every problem a build has."""

from __future__ import annotations

import py_compile
import shutil
from pathlib import Path

import pydantic_core
import pytest

from buildcheck import main


def test_a_build_with_both_problems_reports_both(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a build output with an x86_64 library (this machine's pydantic-core) and a module without bytecode
    library = next(Path(pydantic_core.__file__).parent.glob("_pydantic_core*.so"))
    shutil.copy(library, tmp_path / library.name)
    (tmp_path / "app.py").write_text("X = 1\n")
    # Then the check fails and names both
    assert main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{library.name} is x86_64" in err
    assert "app.py has no .pyc" in err


def test_a_clean_build_passes(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("X = 1\n")
    py_compile.compile(str(tmp_path / "app.py"), invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    assert main([str(tmp_path)]) == 0


def test_a_missing_build_directory_is_an_error(tmp_path: Path) -> None:
    assert main([str(tmp_path / "absent")]) == 2
