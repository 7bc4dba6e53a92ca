"""Write a new repository's refs all at once, as one packed-refs file (a cold mirror's, a restore's)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def write_packed_refs(git_dir: Path, refs: Mapping[str, str]) -> None:
    """Every ref of a repository that had none (a cold mirror, a restore) in one file, as `git clone` writes them.

    A ref at a time, each a file of its own, took 0.4 s for 3,000 tags. No header: it claims no
    sort order or peeled lines, so readers check for themselves.
    """
    partial = git_dir / "packed-refs.codereflex"
    partial.write_bytes(b"".join(f"{oid} {name}\n".encode() for name, oid in sorted(refs.items())))
    partial.rename(git_dir / "packed-refs")
