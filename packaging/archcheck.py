"""Fail the build when a native library in the SAM build output is not aarch64 (the functions run on arm64).

An x86_64 `.so` in an arm64 layer deploys fine and fails only at run time, with an ImportError
in the first invocation; this check moves that failure to `make build`.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
EM_AARCH64 = 183
MACHINES = {3: "x86", 40: "arm", 62: "x86_64", 183: "aarch64", 243: "riscv"}


def elf_machine(path: Path) -> int | None:
    """The ELF e_machine of a file, or None when it is not an ELF file."""
    with path.open("rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or not header.startswith(ELF_MAGIC):
        return None
    byte_order = "<" if header[5] == 1 else ">"
    (machine,) = struct.unpack(f"{byte_order}H", header[18:20])
    return int(machine)


def foreign_binaries(root: Path) -> Iterator[tuple[Path, str]]:
    """Every ELF file under root whose architecture is not aarch64."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        machine = elf_machine(path)
        if machine is not None and machine != EM_AARCH64:
            yield path, MACHINES.get(machine, f"e_machine={machine}")


def report(build_dir: Path) -> int:
    """Print what the check found under build_dir; 1 when a library is not aarch64, else 0."""
    native = sum(1 for path in build_dir.rglob("*") if path.is_file() and elf_machine(path) is not None)
    bad = list(foreign_binaries(build_dir))
    for path, arch in bad:
        print(f"archcheck: {path} is {arch}, not aarch64", file=sys.stderr)
    if bad:
        return 1
    print(f"archcheck: all {native} native libraries under {build_dir} are aarch64")
    return 0
