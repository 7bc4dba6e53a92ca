"""Approval links: only an unaltered, unexpired link signed by the stack's key grants anything."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from codereflex.approvals.links import (
    Keyring,
    Link,
    LinkRefused,
    LinkSigner,
    link_expiry,
    link_id,
    link_url,
)
from codereflex.approvals.model import ActionRef
from codereflex.signing import Signer

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
KEY = b"approval-link-key-0123456789-abcdef"
OLD_KEY = b"approval-link-key-previous-9876543210"
REF = ActionRef("payments", "Prod", "Approve", "0f6e1c55-1111-4b44-9d7a-8a1b2c3d4e5f")
LINK = Link(REF, "alice@example.com", NOW + timedelta(days=2))


def signer(key: bytes = KEY, previous: bytes | None = None) -> LinkSigner:
    return LinkSigner(Keyring(Signer(key), Signer(previous) if previous else None))


def claims(token: str) -> dict[str, object]:
    payload = token.split(".", maxsplit=1)[0]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def forge(token: str, **changes: object) -> str:
    """The token with its claims changed and the original signature kept (what an attacker can make)."""
    changed = claims(token) | changes
    payload = base64.urlsafe_b64encode(json.dumps(changed, separators=(",", ":")).encode()).decode().rstrip("=")
    _, key_id, signature = token.split(".")
    return f"{payload}.{key_id}.{signature}"


def refusal(links: LinkSigner, token: str, now: datetime = NOW) -> str:
    with pytest.raises(LinkRefused) as refused:
        links.read(token, now)
    return refused.value.reason


def test_a_link_reads_back_as_issued() -> None:
    links = signer()
    token = links.issue(LINK)
    assert links.read(token, NOW) == LINK
    assert link_url("https://abc.lambda-url.us-east-1.on.aws/", token) == (
        f"https://abc.lambda-url.us-east-1.on.aws/a/{token}"
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"p": "payments-prod"},
        {"s": "Staging"},
        {"a": "Approve2"},
        {"e": "0f6e1c55-2222-4b44-9d7a-8a1b2c3d4e5f"},
        {"r": "mallory@example.com"},
        {"x": int((NOW + timedelta(days=30)).timestamp())},
        {"v": 2},
    ],
)
def test_a_link_with_any_field_altered_is_refused(changes: dict[str, object]) -> None:
    links = signer()
    assert refusal(links, forge(links.issue(LINK), **changes)) == "bad-signature"


def test_another_approvers_or_executions_signature_does_not_carry_over() -> None:
    links = signer()
    mine = links.issue(LINK)
    bobs = links.issue(LINK._replace(approver="bob@example.com"))
    other_run = links.issue(LINK._replace(ref=REF._replace(execution_id="another-execution")))
    for other in (bobs, other_run):
        payload, key_id, _ = mine.split(".")
        spliced = f"{payload}.{key_id}.{other.split('.')[2]}"
        assert refusal(links, spliced) == "bad-signature"
    assert links.read(bobs, NOW).approver == "bob@example.com"
    assert links.read(other_run, NOW).ref.execution_id == "another-execution"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "a",
        "a.b",
        "a.b.c.d",
        "....",
        "not base64!.0123abcd.sig",
        "eyJ2IjoxfQ.NOTHEX00.sig",
        "eyJ2IjoxfQ.0123abcd.",
        "x" * 5000,
        "eyJ2Ijox\u00e9.0123abcd.sig",
    ],
)
def test_garbage_and_truncated_tokens_are_malformed(garbage: str) -> None:
    assert refusal(signer(), garbage) == "malformed"


def test_a_truncated_signature_or_payload_is_refused() -> None:
    links = signer()
    token = links.issue(LINK)
    assert refusal(links, token[:-3]) == "bad-signature"
    assert refusal(links, token[3:]) == "bad-signature"


def test_a_signed_but_unreadable_payload_is_malformed() -> None:
    # Only a key holder could make this (a future format, a bug): it still grants nothing.
    key = Signer(KEY)
    for body in (b"not json", b"[1]", b'{"v":1,"p":"x"}', b'{"v":1,"p":"p","s":"s","a":"a","e":"e","r":"r","x":1.5}'):
        payload = base64.urlsafe_b64encode(body).decode().rstrip("=")
        token = f"{payload}.{key.key_id}.{key.sign('approval-link', payload)}"
        assert refusal(signer(), token) == "malformed"


def test_an_expired_link_is_refused_at_its_expiry() -> None:
    links = signer()
    token = links.issue(LINK)
    assert links.read(token, LINK.expires_at - timedelta(seconds=1)) == LINK
    assert refusal(links, token, LINK.expires_at) == "expired"


def test_a_forged_expired_link_says_forged_not_expired() -> None:
    links = signer()
    token = forge(links.issue(LINK), r="mallory@example.com")
    assert refusal(links, token, LINK.expires_at + timedelta(days=1)) == "bad-signature"


def test_a_link_signed_with_the_previous_key_still_reads_after_rotation() -> None:
    before = signer(OLD_KEY)
    token = before.issue(LINK)
    after = signer(KEY, previous=OLD_KEY)
    assert after.read(token, NOW) == LINK
    assert after.issue(LINK).split(".")[1] == Signer(KEY).key_id  # new links use the current key
    assert refusal(signer(KEY), token) == "unknown-key"  # once the old key is gone, so are its links


def test_a_signature_under_a_known_key_id_from_an_unknown_key_is_refused() -> None:
    impostor = Signer(b"i" * 40)
    payload = signer().issue(LINK).split(".")[0]
    token = f"{payload}.{Signer(KEY).key_id}.{impostor.sign('approval-link', payload)}"
    assert refusal(signer(), token) == "bad-signature"


def test_a_form_token_is_valid_only_with_its_own_link() -> None:
    links = signer()
    token = links.issue(LINK)
    other = links.issue(LINK._replace(approver="bob@example.com"))
    form = links.form_token(token)
    assert links.form_ok(token, form)
    assert not links.form_ok(other, form)
    assert not links.form_ok(token, links.form_token(other))
    assert not links.form_ok(token, "")
    assert not links.form_ok(token, form.split(".")[0])
    assert not links.form_ok(token, form + "x")
    # A link signature is not a form token, even for the same data.
    assert not links.form_ok(token, f"{Signer(KEY).key_id}.{Signer(KEY).sign('approval-link', token)}")
    # Rotation: a form rendered before it still posts after.
    assert signer(b"k" * 32, previous=KEY).form_ok(token, form)


def test_nothing_shown_of_a_signer_or_a_refusal_reveals_the_key_or_a_signature() -> None:
    links = signer(KEY, previous=OLD_KEY)
    token = links.issue(LINK)
    signature = token.split(".")[2]
    form_signature = links.form_token(token).split(".")[1]
    try:
        links.read(forge(token, r="mallory@example.com"), NOW)
    except LinkRefused as refused:
        shown = [str(refused), repr(refused)]
    shown += [repr(links), str(links), repr(Keyring(Signer(KEY), Signer(OLD_KEY))), repr(LINK), str(LINK)]
    for text in shown:
        for secret in (KEY.decode(), OLD_KEY.decode(), signature, form_signature, token):
            assert secret not in text


def test_a_link_id_names_a_link_without_revealing_it() -> None:
    token = signer().issue(LINK)
    assert len(link_id(token)) == 12
    assert link_id(token) not in token
    assert link_id(token) != link_id(signer().issue(LINK._replace(approver="bob@example.com")))


def test_a_link_never_outlives_its_action() -> None:
    action_expiry = NOW + timedelta(days=7)
    assert link_expiry(action_expiry, 0, NOW) == action_expiry
    assert link_expiry(action_expiry, 24, NOW) == NOW + timedelta(hours=24)
    assert link_expiry(action_expiry, 24 * 30, NOW) == action_expiry


def test_a_warm_reader_reloads_the_keyring_for_a_new_key_id_at_most_once_a_minute() -> None:
    rotated = Keyring(Signer(b"n" * 40), Signer(KEY))
    secret = [Keyring(Signer(KEY))]  # what the secret holds now
    reloads: list[float] = []
    now = [1000.0]

    def reload() -> Keyring:
        reloads.append(now[0])
        return secret[0]

    warm = LinkSigner(secret[0], reload, clock=lambda: now[0])
    assert refusal(warm, signer(b"x" * 40).issue(LINK)) == "unknown-key"  # a forgery's key id: one reload
    assert reloads == [1000.0]
    secret[0] = rotated
    fresh = LinkSigner(rotated).issue(LINK)  # signed after the rotation, by the requests function
    assert refusal(warm, fresh) == "unknown-key"  # within the minute: no second read of the secret
    now[0] += 61
    assert warm.read(fresh, NOW) == LINK
    assert warm.read(signer(KEY).issue(LINK), NOW) == LINK  # the previous key still reads
    assert reloads == [1000.0, 1061.0]
    assert warm.read(fresh, NOW) == LINK and len(reloads) == 2  # known now: no more reads
