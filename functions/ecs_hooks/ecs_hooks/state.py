"""The engine's state in `hookDetails`, compressed and signed: ECS hands it back, so only our signature is trusted."""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Mapping
from typing import Any, NamedTuple

from codereflex.events.ecs_lifecycle import EcsLifecycleHookEvent
from codereflex.signing import Signer
from codereflex.validation.engine import State

PURPOSE = "ecs-hook-state"
KEY = "codereflex"  # our one key in hookDetails: ECS merges it with the service's own configured details
VERSION = 1
# ECS documents no size limit for hookDetails; a state beyond this is refused rather than risked.
MAX_PACKED_CHARS = 192 * 1024
MAX_STATE_BYTES = 4 * 1024 * 1024  # what a packed state may inflate to (a compressed bomb is not a state)


class ForgedState(ValueError):
    """hookDetails carry a state we did not sign for this very hook execution."""


class Carried(NamedTuple):
    state: State
    publish_attempts: int = 0  # failed attempts to publish a decided verdict (the state then holds it)


def seal(signer: Signer, event: EcsLifecycleHookEvent, carried: Carried) -> dict[str, Any]:
    """The hookDetails entry for `carried`, bound to this execution, stage and deployment."""
    packed = base64.urlsafe_b64encode(zlib.compress(carried.state.to_json().encode(), 9)).decode()
    if len(packed) > MAX_PACKED_CHARS:
        raise ValueError(f"the validation state is {len(packed)} characters packed, more than {MAX_PACKED_CHARS}")
    attempts = str(carried.publish_attempts)
    return {
        "v": VERSION,
        "kid": signer.key_id,
        "state": packed,
        "publishAttempts": carried.publish_attempts,
        "sig": signer.sign(PURPOSE, _bound(event, packed, attempts)),
    }


def unseal(signer: Signer, event: EcsLifecycleHookEvent) -> Carried | None:
    """The state a previous run of this execution left; None on its first run. ForgedState when not ours."""
    entry = event.hook_details.get(KEY)
    if entry is None:
        return None
    if not isinstance(entry, Mapping) or entry.get("v") != VERSION:
        raise ForgedState("hookDetails.codereflex is not a state this function wrote")
    packed, signature, attempts = entry.get("state"), entry.get("sig"), entry.get("publishAttempts", 0)
    if not isinstance(packed, str) or not isinstance(signature, str) or type(attempts) is not int:
        raise ForgedState("hookDetails.codereflex is not a state this function wrote")
    if entry.get("kid") != signer.key_id:
        raise ForgedState("hookDetails.codereflex was signed with another key (rotated, or not ours)")
    if not signer.verify(PURPOSE, _bound(event, packed, str(attempts)), signature):
        raise ForgedState("hookDetails.codereflex failed its signature check for this hook execution")
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(base64.urlsafe_b64decode(packed), MAX_STATE_BYTES)
        if inflater.unconsumed_tail:
            raise ValueError("state too large")
        return Carried(State.from_json(text.decode()), attempts)
    except (binascii.Error, zlib.error, ValueError, KeyError, TypeError) as error:
        # Signed by us yet unreadable: a state of another version of this function. Never decided on.
        raise ForgedState(f"hookDetails.codereflex is signed but unreadable ({type(error).__name__})") from None


def _bound(event: EcsLifecycleHookEvent, packed: str, attempts: str) -> str:
    """What the signature covers: a state copied to another execution, stage or deployment does not verify."""
    return json.dumps([event.resource_arn, event.execution_id, event.stage, attempts, packed], separators=(",", ":"))
