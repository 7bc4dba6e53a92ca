"""A version-2 pack index (.idx) computed from a pack, as `git index-pack` writes it.

A small incremental bundle is stored without its `.idx` (one request fewer per backup); the
restore indexes its pack here, and a mirror indexes what `smarthttp` fetched (a first backup's
whole pack too). pygit2 exposes no indexer, so this reads the pack format itself: each entry's
type and size header, its zlib stream, and for deltas (offset or object-id based) the base it
applies to. Packs from PackBuilder or fetched without `thin-pack` are never thin, so every base is
in the same pack. The pack is held in memory; the objects' contents only along one delta chain.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

_COMMIT, _TREE, _BLOB, _TAG, _OFS_DELTA, _REF_DELTA = 1, 2, 3, 4, 6, 7
_TYPE_NAMES = {_COMMIT: b"commit", _TREE: b"tree", _BLOB: b"blob", _TAG: b"tag"}
_HEADER = 12
_TRAILER = 20
_FEED = 64 * 1024
_ZLIB_SLACK = 64  # zlib's header, checksum and stored-block overhead for a small object
_LARGE_OFFSET = 0x80000000


class PackError(ValueError):
    """The bytes are not a pack this indexer can read (damaged, truncated, or thin)."""


@dataclass(slots=True)
class _Entry:
    offset: int
    kind: int
    size: int  # inflated, as its header says
    data_offset: int = 0  # where its zlib stream starts
    delta: bytes = b""  # a delta's instructions, inflated, until it is applied
    base_offset: int | None = None
    base_id: bytes | None = None
    crc: int = 0


def index_pack(pack: bytes) -> bytes:
    """The `.idx` (version 2) of `pack`; raises PackError if the pack does not check out."""
    if len(pack) < _HEADER + _TRAILER or pack[:4] != b"PACK":
        raise PackError("not a pack")
    version, count = struct.unpack(">II", pack[4:_HEADER])
    if version not in (2, 3):
        raise PackError(f"pack version {version} is not supported")
    checksum = pack[-_TRAILER:]
    if hashlib.sha1(pack[:-_TRAILER]).digest() != checksum:  # noqa: S324  # git's pack checksum is SHA-1
        raise PackError("the pack checksum does not match its content")
    body = memoryview(pack)[:-_TRAILER]
    entries, ids = _read_entries(body, count)
    _resolve_deltas(body, entries, ids)
    return _render_index([(ids[entry.offset], entry.crc, entry.offset) for entry in entries], checksum)


def _read_entries(body: memoryview, count: int) -> tuple[list[_Entry], dict[int, bytes]]:
    """Every entry, and the ids of those that are whole objects (by offset); their content is not kept."""
    entries: list[_Entry] = []
    ids: dict[int, bytes] = {}
    offset = _HEADER
    for _ in range(count):
        try:
            entry = _entry_header(body, offset)
        except IndexError:
            raise PackError("the pack ends inside an entry header") from None
        data, offset = _inflate(body, entry.data_offset, entry.size)
        if len(data) != entry.size:
            raise PackError(f"the object at offset {entry.offset} inflates to another size than its header says")
        if entry.kind in _TYPE_NAMES:
            ids[entry.offset] = _object_id(entry.kind, data)
        else:
            entry.delta = data
        entry.crc = zlib.crc32(body[entry.offset : offset])
        entries.append(entry)
    if offset != len(body):
        raise PackError("the pack has bytes after its last object")
    return entries, ids


def _entry_header(body: memoryview, start: int) -> _Entry:
    """The entry at `start`: type, size, and for a delta its base (an offset back, or an object id)."""
    byte = body[start]
    offset = start + 1
    kind, size, shift = (byte >> 4) & 7, byte & 0x0F, 4
    while byte & 0x80:
        byte = body[offset]
        offset += 1
        size |= (byte & 0x7F) << shift
        shift += 7
    entry = _Entry(start, kind, size)
    if kind == _OFS_DELTA:
        byte = body[offset]
        offset += 1
        relative = byte & 0x7F
        while byte & 0x80:
            byte = body[offset]
            offset += 1
            relative = ((relative + 1) << 7) | (byte & 0x7F)
        entry.base_offset = start - relative
    elif kind == _REF_DELTA:
        entry.base_id = bytes(body[offset : offset + 20])
        offset += 20
    elif kind not in _TYPE_NAMES:
        raise PackError(f"unknown object type {kind} at offset {start}")
    entry.data_offset = offset
    return entry


def _inflate(body: memoryview, offset: int, size: int) -> tuple[bytes, int]:
    """The zlib stream starting at `offset`, inflated, and the offset just after it."""
    stream = zlib.decompressobj()
    parts: list[bytes] = []
    position = offset
    # zlib copies what follows the stream's end into unused_data: a first feed about as long as
    # the stream (compressed objects are rarely larger than their size) keeps that copy short.
    feed = min(_FEED, size + _ZLIB_SLACK)
    try:
        while not stream.eof:
            if position >= len(body):
                raise PackError("the pack ends inside an object")
            chunk = body[position : position + feed]
            feed = _FEED
            parts.append(stream.decompress(chunk))
            position += len(chunk)
    except zlib.error as error:
        raise PackError(f"an object at offset {offset} does not inflate: {error}") from None
    return b"".join(parts), position - len(stream.unused_data)


def _object_id(kind: int, content: bytes) -> bytes:
    return hashlib.sha1(_TYPE_NAMES[kind] + b" %d\0" % len(content) + content).digest()  # noqa: S324


def _resolve_deltas(body: memoryview, entries: list[_Entry], ids: dict[int, bytes]) -> None:
    """Name every delta (into `ids`) by applying it to its base, which must be in the same pack.

    As `git index-pack` does, from each whole object down its tree of deltas, depth first: only
    bases with deltas still to apply are held (a whole object is inflated again when it is
    reached), so a first fetch's pack is indexed in memory about the size of the pack, not of
    its objects (click: 18 MB, where holding every object took 130 MB).
    """
    by_offset: dict[int, list[_Entry]] = {}
    by_id: dict[bytes, list[_Entry]] = {}
    for entry in entries:
        if entry.base_id is not None:
            by_id.setdefault(entry.base_id, []).append(entry)
        elif entry.base_offset is not None:
            by_offset.setdefault(entry.base_offset, []).append(entry)

    def dependents(offset: int) -> list[_Entry]:
        return by_offset.pop(offset, []) + by_id.pop(ids[offset], [])

    for root in entries:
        if root.kind in _TYPE_NAMES and (waiting := dependents(root.offset)):
            content, _ = _inflate(body, root.data_offset, root.size)
            _name_chain(root.kind, content, waiting, ids, dependents)
    if unresolved := len(entries) - len(ids):
        raise PackError(f"{unresolved} deltas have no base in the pack (a thin or damaged pack)")


def _name_chain(
    kind: int,
    content: bytes,
    waiting: list[_Entry],
    ids: dict[int, bytes],
    dependents: Callable[[int], list[_Entry]],
) -> None:
    """Name the deltas on `content` (of type `kind`), the deltas on those, and so on, depth first."""
    chain: list[tuple[bytes, list[_Entry]]] = [(content, waiting)]
    while chain:
        base, waiting = chain[-1]
        entry = waiting.pop()
        if not waiting:
            chain.pop()  # its last delta: a straight chain of versions holds one at a time
        content = apply_delta(base, entry.delta)
        entry.delta = b""
        ids[entry.offset] = _object_id(kind, content)
        if below := dependents(entry.offset):
            chain.append((content, below))


def apply_delta(base: bytes, delta: bytes) -> bytes:  # noqa: C901, PLR0912 - the copy instruction read inline
    """git's delta format: source and target sizes, then copy-from-base and insert instructions."""
    # The hot loop of indexing a pack of real history (two thirds of click's objects are deltas):
    # reading the copy instruction's fields inline and copying from a view of the base took a
    # quarter off indexing click's pack.
    try:
        source_size, position = _varint(delta, 0)
        target_size, position = _varint(delta, position)
        if source_size != len(base):
            raise PackError("a delta's source size does not match its base")
        source = memoryview(base)
        out = bytearray()
        end = len(delta)
        while position < end:
            op = delta[position]
            position += 1
            if op & 0x80:
                # Offset (up to 4 bytes) and size (up to 3; 0 means 64 KiB), each byte present if its bit is set.
                copy_offset = copy_size = 0
                if op & 0x01:
                    copy_offset = delta[position]
                    position += 1
                if op & 0x02:
                    copy_offset |= delta[position] << 8
                    position += 1
                if op & 0x04:
                    copy_offset |= delta[position] << 16
                    position += 1
                if op & 0x08:
                    copy_offset |= delta[position] << 24
                    position += 1
                if op & 0x10:
                    copy_size = delta[position]
                    position += 1
                if op & 0x20:
                    copy_size |= delta[position] << 8
                    position += 1
                if op & 0x40:
                    copy_size |= delta[position] << 16
                    position += 1
                copy_size = copy_size or 0x10000
                if copy_offset + copy_size > source_size:
                    raise PackError("a delta copies from beyond its base")
                out += source[copy_offset : copy_offset + copy_size]
            elif op:
                out += delta[position : position + op]
                position += op
            else:
                raise PackError("a delta has a reserved instruction")
    except IndexError:
        raise PackError("a delta ends inside an instruction") from None
    if len(out) != target_size:
        raise PackError("a delta's result has the wrong size")
    return bytes(out)


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def _render_index(objects: list[tuple[bytes, int, int]], pack_checksum: bytes) -> bytes:
    """idx v2: magic, version, fan-out, sorted ids, CRC32s, offsets (large ones in a 64-bit table), checksums."""
    objects.sort()
    fanout = [0] * 256
    for oid, _, _ in objects:
        fanout[oid[0]] += 1
    running = 0
    for first in range(256):
        running += fanout[first]
        fanout[first] = running
    small: list[int] = []
    large: list[int] = []
    for _, _, offset in objects:
        if offset < _LARGE_OFFSET:
            small.append(offset)
        else:
            small.append(_LARGE_OFFSET | len(large))
            large.append(offset)
    body = b"".join(
        [
            b"\xfftOc",
            struct.pack(">I", 2),
            struct.pack(">256I", *fanout),
            b"".join(oid for oid, _, _ in objects),
            struct.pack(f">{len(objects)}I", *(crc for _, crc, _ in objects)),
            struct.pack(f">{len(small)}I", *small),
            struct.pack(f">{len(large)}Q", *large),
            pack_checksum,
        ]
    )
    return body + hashlib.sha1(body).digest()  # noqa: S324  # the index checksum is SHA-1 by definition
