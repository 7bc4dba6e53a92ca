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
    """hookDetails carry a state we did not sign (altered, another key, not ours at all)."""


class Carried(NamedTuple):
    state: State
    publish_attempts: int = 0  # failed attempts to publish a decided verdict (the state then holds it)


def binding(event: EcsLifecycleHookEvent) -> dict[str, Any]:
    """Which invocation series a state belongs to: the deployment, the execution, the stage, green's share of
    production (ECS runs PRE_/PRODUCTION_TRAFFIC_SHIFT once per traffic step)."""
    return {
        "deployment": event.resource_arn,
        "execution": event.execution_id,
        "stage": event.stage,
        "greenWeight": event.production_weights.get(event.target_revision_arn),
    }


def seal(signer: Signer, event: EcsLifecycleHookEvent, carried: Carried) -> dict[str, Any]:
    """The hookDetails entry for `carried`, signed together with what it is for."""
    packed = base64.urlsafe_b64encode(zlib.compress(carried.state.to_json().encode(), 9)).decode()
    if len(packed) > MAX_PACKED_CHARS:
        raise ValueError(f"the validation state is {len(packed)} characters packed, more than {MAX_PACKED_CHARS}")
    bound = binding(event)
    return {
        "v": VERSION,
        "kid": signer.key_id,
        "for": bound,
        "state": packed,
        "publishAttempts": carried.publish_attempts,
        "sig": signer.sign(PURPOSE, _signed(bound, carried.publish_attempts, packed)),
    }


def unseal(signer: Signer, event: EcsLifecycleHookEvent) -> Carried | None:
    """The state an earlier run of this very invocation series left, or None (a first run, or a genuine state
    of another series, which ECS may merge into later details: it is ignored). ForgedState when not ours."""
    entry = event.hook_details.get(KEY)
    if entry is None:
        return None
    if not isinstance(entry, Mapping) or entry.get("v") != VERSION:
        raise ForgedState("hookDetails.codereflex is not a state this function wrote")
    bound, packed, signature = entry.get("for"), entry.get("state"), entry.get("sig")
    attempts = entry.get("publishAttempts", 0)
    if not isinstance(packed, str) or not isinstance(signature, str) or type(attempts) is not int:
        raise ForgedState("hookDetails.codereflex is not a state this function wrote")
    if entry.get("kid") != signer.key_id:
        raise ForgedState("hookDetails.codereflex was signed with another key (rotated, or not ours)")
    if not signer.verify(PURPOSE, _signed(bound, attempts, packed), signature):
        raise ForgedState("hookDetails.codereflex failed its signature check")
    if bound != binding(event):
        return None  # ours, but of another execution, stage or step: it decides nothing here
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(base64.urlsafe_b64decode(packed), MAX_STATE_BYTES)
        if inflater.unconsumed_tail:
            raise ValueError("state too large")
        return Carried(State.from_json(text.decode()), attempts)
    except (binascii.Error, zlib.error, ValueError, KeyError, TypeError) as error:
        # Signed by us yet unreadable: a state of another version of this function. Never decided on.
        raise ForgedState(f"hookDetails.codereflex is signed but unreadable ({type(error).__name__})") from None


def _signed(bound: Any, attempts: int, packed: str) -> str:
    return json.dumps([bound, attempts, packed], separators=(",", ":"), sort_keys=True)
