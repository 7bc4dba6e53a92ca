"""A fetch in two HTTP requests: the ref advertisement, then one upload-pack round.

libgit2 negotiates a fetch in rounds: it sends 20 `have` lines, waits for the server's
acknowledgements, and only then sends `done`, so even a one-commit update costs three requests
(plus a 401 challenge). A warm mirror already knows what to say: its own ref tips are the haves,
and whatever the server does not recognise it ignores. So this client sends wants, all the
mirror's tips and `done` in one request (the stateless protocol git's own fetch-pack speaks), and
receives a pack. It asks for no thin pack, so every delta's base is in the pack, which
`packindex` then indexes; the pack and its index go into the mirror's objects/pack/.

A cold mirror (a first backup) sends no haves, so the answer is the complete pack, exactly the
objects of a full bundle; receiving and indexing it here costs half of what libgit2's fetch does.

It is only for answers up to `max_bytes` (all of it is held in memory): a larger pack raises
Oversize (a larger ref advertisement, NotHandled), anything the client does not expect in the
server's answer raises NotHandled, and the caller fetches with libgit2 instead. Authentication,
missing repositories and server errors raise the same errors as the libgit2 path.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from codereflex.backup.packindex import PackError, index_pack
from codereflex.errors import AccessDenied, TargetGone, TransientError

_AGENT = "git/2.0 (codereflex)"
_FLUSH = b"0000"
_ZERO_ID = "0" * 40


class NotHandled(Exception):
    """This fetch is not one for the two-request client: fetch with libgit2 instead."""


class Oversize(NotHandled):
    """A pack larger than the client takes; `received_bytes` is how much of the answer arrived."""

    def __init__(self, received_bytes: int, max_bytes: int) -> None:
        super().__init__(f"the answer is larger than {max_bytes} bytes")
        self.received_bytes = received_bytes


@dataclass(frozen=True, slots=True)
class Advertisement:
    refs: dict[str, str]  # refname -> object id, peeled entries (^{}) left out
    capabilities: frozenset[str]

    @property
    def head(self) -> str | None:
        """The ref HEAD points to, when the server says (the `symref=HEAD:<ref>` capability)."""
        for capability in self.capabilities:
            if capability.startswith("symref=HEAD:"):
                return capability.removeprefix("symref=HEAD:")
        return None


@dataclass(frozen=True, slots=True)
class Fetched:
    refs: dict[str, str]
    pack: bytes | None  # None when the mirror already had every advertised object
    index: bytes | None
    head: str | None = None  # the ref the remote's HEAD points to, if it said


def fetch(
    url: str,
    authorization: str,
    haves: Iterable[str],
    has_object: Callable[[str], bool],
    *,
    max_bytes: int,
    pack_bytes: int | None = None,
    timeout: float = 60.0,
) -> Fetched:
    """The remote's refs, and a pack of the objects the mirror lacks (with its index).

    `authorization` is the value of the Authorization header (`Basic ...`). `pack_bytes` (at
    most `max_bytes`) bounds the pack's answer alone: the hand-off limit counts pack bytes, as
    libgit2's transfer progress does, not the ref advertisement.
    """
    with _Session(url, authorization, max_bytes, timeout) as session:
        try:
            advertised = session.advertisement()
        except Oversize as oversize:
            raise NotHandled(str(oversize)) from None
        session.limit(max_bytes if pack_bytes is None else min(pack_bytes, max_bytes))
        wants = sorted({oid for oid in advertised.refs.values() if not has_object(oid)})
        if not wants:
            return Fetched(advertised.refs, None, None, advertised.head)
        answer = session.upload_pack(negotiation(wants, haves, advertised.capabilities))
    pack = pack_of(answer)
    try:
        index = index_pack(pack)
    except PackError as error:
        raise NotHandled(f"the pack cannot be indexed here: {error}") from error
    return Fetched(advertised.refs, pack, index, advertised.head)


def advertised_refs(url: str, authorization: str, *, max_bytes: int, timeout: float = 60.0) -> dict[str, str]:
    """The remote's refs alone: one request, nothing fetched."""
    with _Session(url, authorization, max_bytes, timeout) as session:
        return session.advertisement().refs


class _Session:
    """One HTTP(S) connection to a repository's smart-HTTP endpoint, reused for both requests."""

    def __init__(self, url: str, authorization: str, max_bytes: int, timeout: float) -> None:
        split = urlsplit(url)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise NotHandled(f"not an HTTP URL: {split.scheme}")
        self._connection = (
            http.client.HTTPSConnection(
                split.hostname, split.port, timeout=timeout, context=ssl.create_default_context()
            )
            if split.scheme == "https"
            else http.client.HTTPConnection(split.hostname, split.port, timeout=timeout)
        )
        self._path = split.path.rstrip("/")
        self._headers = {"Authorization": authorization, "User-Agent": _AGENT}
        self._max_bytes = max_bytes

    def __enter__(self) -> _Session:
        return self

    def limit(self, max_bytes: int) -> None:
        """The largest answer taken from now on."""
        self._max_bytes = max_bytes

    def __exit__(self, *_: object) -> None:
        self._connection.close()

    def advertisement(self) -> Advertisement:
        path = f"{self._path}/info/refs?service=git-upload-pack"
        return parse_advertisement(_request(self._connection, "GET", path, self._headers, self._max_bytes))

    def upload_pack(self, body: bytes) -> bytes:
        headers = {
            **self._headers,
            "Content-Type": "application/x-git-upload-pack-request",
            "Accept": "application/x-git-upload-pack-result",
        }
        path = f"{self._path}/git-upload-pack"
        return _request(self._connection, "POST", path, headers, self._max_bytes, body=body)


def _request(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    headers: dict[str, str],
    max_bytes: int,
    *,
    body: bytes | None = None,
) -> bytes:
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise Oversize(len(data), max_bytes)
        response.read()  # nothing more; lets the connection be reused
    except (OSError, http.client.HTTPException) as error:
        raise TransientError(f"git transfer failed: {type(error).__name__}") from error
    if response.status in (401, 403):
        raise AccessDenied(f"git access refused (HTTP {response.status})")
    if response.status == 404:  # noqa: PLR2004
        raise TargetGone("git repository not found")
    if response.status >= 500:  # noqa: PLR2004
        raise TransientError(f"git server error (HTTP {response.status})")
    if response.status != 200:  # noqa: PLR2004
        raise NotHandled(f"unexpected HTTP {response.status}")
    return data


def pkt_lines(data: bytes, start: int = 0) -> tuple[list[bytes | None], int]:
    """pkt-lines from `start` up to the first that is not one; None stands for a flush."""
    lines: list[bytes | None] = []
    position = start
    while position + 4 <= len(data):
        try:
            length = int(data[position : position + 4], 16)
        except ValueError:
            break
        if length == 0:
            lines.append(None)
            position += 4
            continue
        if length < 4 or position + length > len(data):  # noqa: PLR2004
            break
        lines.append(data[position + 4 : position + length])
        position += length
    return lines, position


def parse_advertisement(data: bytes) -> Advertisement:
    lines, _ = pkt_lines(data)
    if not lines or lines[0] is None or not lines[0].startswith(b"# service=git-upload-pack"):
        raise NotHandled("not a smart HTTP upload-pack advertisement")
    refs: dict[str, str] = {}
    capabilities: frozenset[str] = frozenset()
    for line in lines[2:]:  # after the service line and its flush
        if line is None:
            break
        text = line.decode("utf-8").rstrip("\n")
        if "\0" in text:
            text, _, caps = text.partition("\0")
            capabilities = frozenset(caps.split())
        oid, _, name = text.partition(" ")
        if len(oid) != 40 or oid == _ZERO_ID or name.endswith("^{}") or not name.startswith("refs/"):  # noqa: PLR2004
            continue  # peeled tags, HEAD, and the placeholder line of an empty repository
        refs[name] = oid
    return Advertisement(refs, capabilities)


def negotiation(wants: list[str], haves: Iterable[str], capabilities: frozenset[str]) -> bytes:
    """Wants (with the capabilities asked for), a flush, every have, and done: one round."""
    asked = " ".join(sorted({"ofs-delta", "no-progress"} & capabilities))
    lines = [f"want {wants[0]} {asked}\n".replace(" \n", "\n")] + [f"want {oid}\n" for oid in wants[1:]]
    body = b"".join(_pkt(line) for line in lines) + _FLUSH
    body += b"".join(_pkt(f"have {oid}\n") for oid in sorted(set(haves)))
    return body + _pkt("done\n")


def pack_of(answer: bytes) -> bytes:
    """The pack after the server's ACK/NAK lines (no side-band was asked for)."""
    lines, position = pkt_lines(answer)
    for line in lines:
        if line is None or not (line.startswith((b"ACK ", b"NAK"))):
            raise NotHandled(f"unexpected line before the pack: {line!r}")
    if answer[position : position + 4] != b"PACK":
        raise NotHandled("the answer holds no pack")
    return answer[position:]


def _pkt(line: str) -> bytes:
    data = line.encode()
    return f"{len(data) + 4:04x}".encode() + data
