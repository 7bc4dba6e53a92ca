"""HMAC-SHA256 signatures over what codereflex writes where others can write too (comment state, links)."""

from __future__ import annotations

import base64
import hashlib
import hmac

# A key shorter than this is a setting mistake, not a key (the stack generates 64 characters).
MIN_KEY_BYTES = 32


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Signer:
    """Signs and checks data for one purpose; a signature made for one purpose never verifies for another.

    `key_id` names the key without revealing it (the first 8 hex digits of its SHA-256), so a
    signature can say which key made it and a rotated key reads as "not ours", never as a match.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a signing key needs at least {MIN_KEY_BYTES} bytes")
        self._key = key
        self.key_id = hashlib.sha256(b"codereflex-key-id\x1f" + key).hexdigest()[:8]

    def sign(self, purpose: str, data: str) -> str:
        mac = hmac.new(self._key, f"{purpose}\x1f{self.key_id}\x1f{data}".encode(), hashlib.sha256)
        return _b64(mac.digest())

    def verify(self, purpose: str, data: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(purpose, data), signature)

    def __repr__(self) -> str:  # never the key, wherever a signer is logged or shown in a traceback
        return f"Signer(key_id={self.key_id!r})"
