"""The build's architecture check refuses an x86_64 library in the arm64 build output."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pydantic_core
import pytest

from archcheck import EM_AARCH64, report


def _aarch64_stub(path: Path) -> None:
    """A minimal little-endian ELF64 header whose e_machine is aarch64 (what `file` would report)."""
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) + struct.pack("<HH", 3, EM_AARCH64)
    path.write_bytes(header + bytes(44))


def test_an_x86_64_library_fails_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a build output holding a real x86_64 extension (pydantic-core from this dev machine)
    real_library = next(Path(pydantic_core.__file__).parent.glob("_pydantic_core*.so"))
    layer = tmp_path / "SharedLayer" / "python" / "pydantic_core"
    layer.mkdir(parents=True)
    shutil.copy(real_library, layer / real_library.name)
    _aarch64_stub(tmp_path / "SharedLayer" / "python" / "ok.so")
    # When the check runs
    status = report(tmp_path)
    # Then it fails and names the offending file
    assert status == 1
    err = capsys.readouterr().err
    assert real_library.name in err
    assert "x86_64" in err
    assert "ok.so" not in err


def test_aarch64_libraries_and_plain_files_pass(tmp_path: Path) -> None:
    _aarch64_stub(tmp_path / "lib.so")
    (tmp_path / "app.py").write_text("print('hi')\n")
    assert report(tmp_path) == 0
