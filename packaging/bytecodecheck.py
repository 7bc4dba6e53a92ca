"""Fail the build when a module in the SAM build output would be compiled at every cold start.

Lambda's code directories are read-only, so a module whose .pyc is missing or does not validate is
compiled again by every new execution environment: tens of milliseconds per module, on the critical
path of a cold start. SAM zips files dated 1980, so only hash-checked .pyc files (PEP 552) survive
packaging; packaging/Makefile writes those, and this check keeps it so.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

# PEP 552 flags word: bit 0 = hash-based, bit 1 = check the source against the hash.
HASH_BASED = 0b01


def stale_modules(root: Path) -> Iterator[tuple[Path, str]]:
    """Every .py under root that a python3.11 cold start would have to compile, and why."""
    for source in sorted(root.rglob("*.py")):
        compiled = Path(importlib.util.cache_from_source(str(source)))
        if not compiled.is_file():
            yield source, "no .pyc"
            continue
        with compiled.open("rb") as stream:
            header = stream.read(16)
        if header[:4] != importlib.util.MAGIC_NUMBER:
            yield source, "a .pyc for another Python version"
        elif not int.from_bytes(header[4:8], "little") & HASH_BASED:
            yield source, "a timestamp .pyc (packaging dates files 1980: it never validates)"
        elif header[8:16] != importlib.util.source_hash(source.read_bytes()):
            yield source, "a .pyc of other source"


def report(build_dir: Path) -> int:
    """Print what the check found under build_dir; 1 when a module would compile at a cold start, else 0."""
    modules = sum(1 for _ in build_dir.rglob("*.py"))
    bad = list(stale_modules(build_dir))
    for path, why in bad[:20]:
        print(f"bytecodecheck: {path} has {why}", file=sys.stderr)
    if bad:
        print(f"bytecodecheck: {len(bad)} of {modules} modules would compile at every cold start", file=sys.stderr)
        return 1
    print(f"bytecodecheck: all {modules} modules under {build_dir} ship hash-checked bytecode")
    return 0
