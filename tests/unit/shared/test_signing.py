"""Signatures and identities: what tells codereflex's own writing from anybody else's."""

from __future__ import annotations

import pytest

from codereflex.identity import Principals, principal, same_principal
from codereflex.signing import Signer


def test_a_signature_verifies_only_for_its_purpose_data_and_key() -> None:
    signer = Signer(b"k" * 32)
    signature = signer.sign("comment-state", "payload")
    assert signer.verify("comment-state", "payload", signature)
    assert not signer.verify("comment-state", "payload!", signature)
    assert not signer.verify("approval-link", "payload", signature)
    assert not Signer(b"j" * 32).verify("comment-state", "payload", signature)
    assert Signer(b"j" * 32).key_id != signer.key_id


def test_a_short_key_is_refused_and_a_signer_never_shows_its_key() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Signer(b"short")
    assert "kkkk" not in repr(Signer(b"k" * 32))


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("arn:aws:sts::1:assumed-role/BotRole/fn-a", "arn:aws:sts::1:assumed-role/BotRole/fn-b", True),
        ("arn:aws:sts::1:assumed-role/BotRole/fn", "arn:aws:iam::1:role/BotRole", True),
        ("arn:aws:iam::1:role/path/BotRole", "arn:aws:iam::1:role/BotRole", True),
        ("arn:aws:iam::1:user/developer", "arn:aws:iam::1:user/developer", True),
        ("arn:aws:sts::1:assumed-role/BotRole/fn", "arn:aws:sts::2:assumed-role/BotRole/fn", False),
        ("arn:aws:sts::1:assumed-role/BotRole/fn", "arn:aws:sts::1:assumed-role/BotRoleX/fn", False),
        ("arn:aws:iam::1:user/BotRole", "arn:aws:iam::1:role/BotRole", False),
        (None, None, False),
        ("bot", "bot", False),
    ],
)
def test_a_role_s_sessions_are_the_role_and_nothing_else_is(first: str | None, second: str | None, same: bool) -> None:
    assert same_principal(first, second) is same
    assert principal("arn:aws:sts::1:federated-user/x") is None


def test_principals_hold_roles_and_users_and_match_any_of_their_sessions() -> None:
    ours = Principals(["arn:aws:iam::1:role/PageRole", "arn:aws:sts::1:assumed-role/RequestsRole/fn", None, "junk"])
    assert "arn:aws:sts::1:assumed-role/PageRole/codereflex-page" in ours
    assert "arn:aws:iam::1:role/RequestsRole" in ours
    assert "arn:aws:sts::2:assumed-role/PageRole/codereflex-page" not in ours  # another account's role
    assert "arn:aws:iam::1:user/PageRole" not in ours  # a user named like the role
    assert None not in ours and "junk" not in ours
    assert not Principals([None, "junk"])
