"""Signed approval links: one per approver and execution, readable while the key rotates, never forgeable.

A token is `base64url(JSON) + "." + key_id + "." + signature`. The JSON binds pipeline, stage,
action, execution, approver and expiry; the signature (`codereflex.signing`, purpose
`approval-link`) covers the base64url text exactly as sent, so nothing in it is parsed before
the signature verifies. The key id picks AWSCURRENT or AWSPREVIOUS, so links sent before a
rotation keep working until they expire.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal, NamedTuple

from codereflex.approvals.model import ActionRef
from codereflex.errors import CodeReflexError
from codereflex.signing import Signer

LINK_PURPOSE = "approval-link"
FORM_PURPOSE = "approval-form"
VERSION = 1
# Far above any real link (pipeline, stage and action names are at most 100 characters each, an
# address 254): a longer token is refused before any work is done on it.
MAX_TOKEN = 2048

Refusal = Literal["malformed", "unknown-key", "bad-signature", "expired"]
_PART = re.compile(r"[A-Za-z0-9_-]+")
_KEY_ID = re.compile(r"[0-9a-f]{8}")


class LinkRefused(CodeReflexError):
    """A link that decides nothing; `reason` says why (never the token, its signature or the key)."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(f"approval link refused: {reason}")
        self.reason: Refusal = reason


class Link(NamedTuple):
    """What a link grants: `approver` may answer the approval `ref` until `expires_at`."""

    ref: ActionRef
    approver: str
    expires_at: datetime


class Keyring(NamedTuple):
    """The link key's versions: links are signed with `current`; `previous` (AWSPREVIOUS) still verifies."""

    current: Signer
    previous: Signer | None = None

    def signer(self, key_id: str) -> Signer | None:
        for signer in (self.current, self.previous):
            if signer is not None and signer.key_id == key_id:
                return signer
        return None


class LinkSigner:
    """Issues and reads link tokens, and the form tokens that bind a page's POST to its link.

    With `reload`, a key id it does not know makes it read the keyring again (at most once per
    `reload_after` seconds): a warm page function keeps its keyring, and after a rotation the
    requests function signs with a key the page has not seen yet.
    """

    def __init__(
        self,
        keyring: Keyring,
        reload: Callable[[], Keyring] | None = None,
        *,
        reload_after: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keyring = keyring
        self._reload = reload
        self._reload_after = reload_after
        self._clock = clock
        self._reloaded_at: float | None = None

    def _signer(self, key_id: str) -> Signer | None:
        signer = self._keyring.signer(key_id)
        if signer is not None or self._reload is None:
            return signer
        now = self._clock()
        if self._reloaded_at is not None and now - self._reloaded_at < self._reload_after:
            return None  # an unknown id is mostly a forgery: it may not make every request read the secret
        self._reloaded_at = now
        self._keyring = self._reload()
        return self._keyring.signer(key_id)

    def issue(self, link: Link) -> str:
        ref = link.ref
        claims = {
            "v": VERSION,
            "p": ref.pipeline,
            "s": ref.stage,
            "a": ref.action,
            "e": ref.execution_id,
            "r": link.approver,
            "x": int(link.expires_at.timestamp()),
        }
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signer = self._keyring.current
        return f"{payload}.{signer.key_id}.{signer.sign(LINK_PURPOSE, payload)}"

    def read(self, token: str, now: datetime) -> Link:
        """The link a token grants; LinkRefused unless it is well formed, signed by a known key and unexpired."""
        payload, key_id, signature = _parts(token)
        signer = self._signer(key_id)
        if signer is None:
            raise LinkRefused("unknown-key")
        if not signer.verify(LINK_PURPOSE, payload, signature):
            raise LinkRefused("bad-signature")
        link = _claims(payload)  # signed by us, so only a format change makes this refuse
        if now >= link.expires_at:
            raise LinkRefused("expired")
        return link

    def form_token(self, token: str) -> str:
        """The token the page's form carries: valid only with this very link token."""
        signer = self._keyring.current
        return f"{signer.key_id}.{signer.sign(FORM_PURPOSE, token)}"

    def form_ok(self, token: str, form: str) -> bool:
        key_id, _, signature = form.partition(".")
        if not _KEY_ID.fullmatch(key_id):
            return False
        signer = self._signer(key_id)
        return signer is not None and bool(signature) and signer.verify(FORM_PURPOSE, token, signature)

    def __repr__(self) -> str:
        return f"LinkSigner({self._keyring!r})"


def link_url(base_url: str, token: str) -> str:
    """The link an approver opens: `<page base URL>/a/<token>` (the token is URL-safe as it is)."""
    return f"{base_url.rstrip('/')}/a/{token}"


def link_id(token: str) -> str:
    """What logs name a link by: the first 12 hex digits of the token's SHA-256 (the token is a credential)."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def link_expiry(action_expires_at: datetime, link_hours: int, now: datetime) -> datetime:
    """A link's expiry: `link_hours` from now (0: no limit of its own), never later than the action's."""
    if link_hours <= 0:
        return action_expires_at
    return min(action_expires_at, now + timedelta(hours=link_hours))


def _parts(token: str) -> tuple[str, str, str]:
    if len(token) > MAX_TOKEN:
        raise LinkRefused("malformed")
    parts = token.split(".")
    if len(parts) != 3 or not all(_PART.fullmatch(p) for p in parts) or not _KEY_ID.fullmatch(parts[1]):  # noqa: PLR2004
        raise LinkRefused("malformed")
    return parts[0], parts[1], parts[2]


def _claims(payload: str) -> Link:
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error) as error:
        raise LinkRefused("malformed") from error
    if not isinstance(claims, dict) or claims.get("v") != VERSION:
        raise LinkRefused("malformed")
    names = [claims.get(k) for k in ("p", "s", "a", "e", "r")]
    expiry = claims.get("x")
    if not all(isinstance(n, str) and n for n in names) or type(expiry) is not int:
        raise LinkRefused("malformed")
    pipeline, stage, action, execution, approver = (str(n) for n in names)
    try:
        expires_at = datetime.fromtimestamp(expiry, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise LinkRefused("malformed") from error
    return Link(ActionRef(pipeline, stage, action, execution), approver, expires_at)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
