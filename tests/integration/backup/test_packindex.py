"""The restore's own pack indexer against git's: byte for byte the .idx `git index-pack` writes."""

from __future__ import annotations

import subprocess
import tracemalloc
from pathlib import Path

import pygit2
import pytest

from codereflex.backup.packindex import PackError, apply_delta, index_pack
from tests.integration.backup.conftest import Git


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Git:
    """A repository whose files change a little at a time (so packs hold deltas), with a tag."""
    git = Git(tmp_path_factory.mktemp("packindex"))
    text = "".join(f"line {n} of a file that grows and changes a little each commit\n" for n in range(200))
    for number in range(12):
        text = text.replace(f"line {number * 7} ", f"line {number * 7} changed ")
        (git.work / "big.txt").write_text(text)
        (git.work / f"small-{number % 3}.txt").write_text(f"version {number}\n")
        git.run("add", "-A", cwd=git.work)
        git.run("commit", "-q", "-m", f"change {number}", cwd=git.work)
    git.run("tag", "-a", "v1", "-m", "a tag object", cwd=git.work)
    return git


def _git_pack(git: Git, *flags: str, revisions: bytes | None = None) -> bytes:
    revisions = revisions or git.run("rev-list", "--objects", "--all", cwd=git.work).encode()
    return subprocess.run(
        ["git", "pack-objects", "--stdout", "-q", *flags],
        cwd=git.work,
        input=revisions,
        capture_output=True,
        check=True,
    ).stdout


def _git_index(pack: bytes, tmp_path: Path) -> bytes:
    (tmp_path / "p.pack").write_bytes(pack)
    subprocess.run(["git", "index-pack", "-o", str(tmp_path / "p.idx"), str(tmp_path / "p.pack")], check=True)
    return (tmp_path / "p.idx").read_bytes()


@pytest.mark.parametrize(
    "flags", [(), ("--delta-base-offset",), ("--window=0",)], ids=["ref-deltas", "offset-deltas", "no-deltas"]
)
def test_the_index_equals_gits_for_every_kind_of_delta(history: Git, tmp_path: Path, flags: tuple[str, ...]) -> None:
    # Given a pack of the whole history as git writes it (deltas naming their base by id, or by offset)
    pack = _git_pack(history, *flags)
    # Then our index is byte for byte the one git index-pack writes
    assert index_pack(pack) == _git_index(pack, tmp_path)


def test_the_index_equals_packbuilders_for_a_push_sized_pack(history: Git, tmp_path: Path) -> None:
    # Given the pack libgit2's PackBuilder writes for the last commit's new objects, with its .idx
    repo = pygit2.Repository(str(history.work))
    builder = pygit2.PackBuilder(repo)  # type: ignore[attr-defined,no-untyped-call]
    for line in history.run("rev-list", "--objects", "HEAD", "--not", "HEAD~1", cwd=history.work).splitlines():
        builder.add(pygit2.Oid(hex=line.split()[0]))  # type: ignore[no-untyped-call]
    builder.write(str(tmp_path))  # type: ignore[no-untyped-call]
    [pack] = tmp_path.glob("pack-*.pack")
    # Then ours is the same index
    assert index_pack(pack.read_bytes()) == pack.with_suffix(".idx").read_bytes()


def test_indexing_holds_one_delta_chain_not_every_object(tmp_path: Path) -> None:
    # Given the pack of 60 versions of a 256 KiB file (15 MiB of content), each a small delta on the last
    git = Git(tmp_path)
    lines = [f"line {n} of a long file\n" for n in range(10_000)]
    for version in range(60):
        lines[version * 97] = f"line {version * 97} changed in version {version}\n"
        (git.work / "long.txt").write_text("".join(lines))
        git.run("add", "-A", cwd=git.work)
        git.run("commit", "-q", "-m", f"version {version}", cwd=git.work)
    pack = _git_pack(git, "--delta-base-offset")
    # When it is indexed
    tracemalloc.start()
    try:
        index = index_pack(pack)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Then the index is git's, and what it took beyond the pack is a few versions of the file, not all 60
    assert index == _git_index(pack, tmp_path)
    assert peak < 8 * 256 * 1024, peak


def test_a_damaged_pack_is_refused(history: Git) -> None:
    pack = bytearray(_git_pack(history, "--delta-base-offset"))
    pack[100] ^= 0xFF
    with pytest.raises(PackError, match="checksum"):
        index_pack(bytes(pack))
    with pytest.raises(PackError):
        index_pack(b"PACK\x00\x00\x00\x02\x00\x00\x00\x01" + b"\x00" * 20)


def test_a_thin_pack_is_refused(history: Git) -> None:
    # Given a thin pack (deltas against objects only the receiver has): PackBuilder never writes one
    thin = _git_pack(history, "--thin", "--revs", revisions=b"HEAD\n^HEAD~1\n")
    # Then it cannot be indexed alone, and says why
    with pytest.raises(PackError, match="thin"):
        index_pack(thin)


def test_a_delta_applies_copies_and_inserts() -> None:
    # source size 5, target size 8: copy 5 bytes from offset 0, then insert "!!!"
    delta = bytes([5, 8, 0x80 | 0x10, 5, 3]) + b"!!!"
    assert apply_delta(b"hello", delta) == b"hello!!!"
    with pytest.raises(PackError):
        apply_delta(b"hell", delta)
