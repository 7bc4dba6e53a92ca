"""The two-request fetch's protocol pieces: what it reads from the server and what it sends."""

from __future__ import annotations

import pytest

from codereflex.backup.smarthttp import NotHandled, negotiation, pack_of, parse_advertisement, pkt_lines

A, B, C = "a" * 40, "b" * 40, "c" * 40


def _pkt(text: str) -> bytes:
    return f"{len(text.encode()) + 4:04x}".encode() + text.encode()


def test_the_advertisement_gives_refs_and_capabilities_and_drops_head_and_peeled_tags() -> None:
    data = (
        _pkt("# service=git-upload-pack\n")
        + b"0000"
        + _pkt(f"{A} HEAD\0multi_ack ofs-delta side-band-64k no-progress symref=HEAD:refs/heads/main\n")
        + _pkt(f"{A} refs/heads/main\n")
        + _pkt(f"{B} refs/tags/v1\n")
        + _pkt(f"{C} refs/tags/v1^{{}}\n")
        + b"0000"
    )
    advertised = parse_advertisement(data)
    assert advertised.refs == {"refs/heads/main": A, "refs/tags/v1": B}
    assert {"ofs-delta", "no-progress"} <= advertised.capabilities


def test_an_empty_repository_advertises_no_refs() -> None:
    zero = "0" * 40
    data = _pkt("# service=git-upload-pack\n") + b"0000" + _pkt(f"{zero} capabilities^{{}}\0ofs-delta\n") + b"0000"
    assert parse_advertisement(data).refs == {}


def test_what_is_not_an_upload_pack_advertisement_is_left_to_libgit2() -> None:
    with pytest.raises(NotHandled):
        parse_advertisement(b"<html>login</html>")


def test_one_round_sends_wants_with_only_advertised_capabilities_then_every_have_and_done() -> None:
    body = negotiation([A, B], [C, A, C], frozenset({"ofs-delta", "thin-pack"}))
    lines, end = pkt_lines(body)
    assert end == len(body)
    assert lines == [
        f"want {A} ofs-delta\n".encode(),
        f"want {B}\n".encode(),
        None,
        f"have {A}\n".encode(),
        f"have {C}\n".encode(),
        b"done\n",
    ]


def test_the_pack_follows_the_servers_acknowledgement() -> None:
    pack = b"PACK\x00\x00\x00\x02\x00\x00\x00\x00" + b"\x01" * 20
    assert pack_of(_pkt(f"ACK {A}\n") + pack) == pack
    assert pack_of(_pkt("NAK\n") + pack) == pack
    with pytest.raises(NotHandled):
        pack_of(_pkt("ERR upload-pack: not our ref\n"))
    with pytest.raises(NotHandled):
        pack_of(_pkt("NAK\n") + b"0008\x01abc")
