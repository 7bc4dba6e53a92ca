"""ECS's lifecycle payloads read as the docs show them, and the signed state: what verifies and what never does."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from codereflex.errors import BadEvent
from codereflex.events.ecs_lifecycle import EcsLifecycleHookEvent
from codereflex.signing import Signer
from codereflex.validation.engine import State
from ecs_hooks.state import MAX_STATE_BYTES, Carried, ForgedState, seal, unseal
from tests.conftest import EVENTS

SAMPLES = sorted((EVENTS / "ecs_hooks").glob("*.json"))
SIGNER = Signer(b"k" * 64)


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / "ecs_hooks" / name).read_text()))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_reads(path: Path) -> None:
    event = EcsLifecycleHookEvent.read(json.loads(path.read_text()))
    assert (event.cluster, event.service, event.deployment_id) == ("my-cluster", "my-service", "EZe5RNVLH6PPzHXINuP28")
    assert event.region == "us-west-2"


def test_the_rollback_sample_reads_as_a_rollback_and_the_others_do_not() -> None:
    assert EcsLifecycleHookEvent.read(sample("production_traffic_shift_rollback.json")).rolling_back()
    assert not EcsLifecycleHookEvent.read(sample("post_test_traffic_shift.json")).rolling_back()


def test_the_service_s_own_hook_details_are_read() -> None:
    event = EcsLifecycleHookEvent.read(sample("post_test_traffic_shift_with_service_details.json"))
    assert event.hook_details == {"team": "payments"}


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("lifecycleStage",), "ROLLBACK", "lifecycleStage"),
        (("executionId",), "../../etc", "executionId"),
        (("resourceArn",), "arn:aws:ecs:us-west-2:123456789012:service/my-cluster/my-service", "resourceArn"),
        (("executionDetails", "serviceArn"), "arn:aws:ecs:us-west-2:123456789012:service/other/svc", "serviceArn"),
        (("executionDetails", "productionTrafficWeights"), {"a": "100"}, "productionTrafficWeights"),
        (("executionDetails", "testTrafficWeights"), {"a": float("nan")}, "testTrafficWeights"),
        (("hookDetails",), "state", "hookDetails"),
    ],
)
def test_a_malformed_payload_is_refused_naming_the_field(path: tuple[str, ...], value: Any, named: str) -> None:
    event = sample("post_test_traffic_shift.json")
    node = event
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(BadEvent, match=named):
        EcsLifecycleHookEvent.read(event)


def _event(**changes: Any) -> EcsLifecycleHookEvent:
    return EcsLifecycleHookEvent.read({**sample("post_test_traffic_shift.json"), **changes})


STATE = State(spec_sha256="ab" * 32, hook="AfterAllowTestTraffic", started_at=1_000.0, check_index=1, runs=2)


def test_a_sealed_state_comes_back_as_it_went() -> None:
    event = _event()
    entry = seal(SIGNER, event, Carried(STATE, 1))
    assert unseal(SIGNER, event._replace(hook_details={"codereflex": entry, "team": "x"})) == Carried(STATE, 1)


def test_no_state_is_a_first_run() -> None:
    assert unseal(SIGNER, _event()) is None


@pytest.mark.parametrize(
    "other",
    [
        {"executionId": "another-execution"},
        {"lifecycleStage": "POST_PRODUCTION_TRAFFIC_SHIFT"},
        {"resourceArn": "arn:aws:ecs:us-west-2:123456789012:service-deployment/my-cluster/my-service/OTHER"},
    ],
)
def test_a_genuine_state_of_another_execution_stage_or_deployment_is_ignored(other: dict[str, Any]) -> None:
    entry = seal(SIGNER, _event(), Carried(STATE))
    assert unseal(SIGNER, _event(**other, hookDetails={"codereflex": entry})) is None


def test_a_state_of_another_traffic_step_is_ignored() -> None:
    shifting = sample("pre_production_traffic_shift.json")
    green = shifting["executionDetails"]["targetServiceRevisionArn"]
    entry = seal(SIGNER, EcsLifecycleHookEvent.read(shifting), Carried(STATE))
    weights = {name: (10 if name == green else 90) for name in shifting["executionDetails"]["productionTrafficWeights"]}
    shifting["executionDetails"]["productionTrafficWeights"] = weights
    assert unseal(SIGNER, EcsLifecycleHookEvent.read({**shifting, "hookDetails": {"codereflex": entry}})) is None


def test_a_state_changed_after_signing_or_signed_by_another_key_is_refused() -> None:
    entry = seal(SIGNER, _event(), Carried(STATE))
    done = STATE._replace(check_index=9)
    packed = seal(SIGNER, _event(), Carried(done))["state"]
    for forged in (
        {**entry, "state": packed},  # a later state's bytes under this signature
        {**entry, "publishAttempts": 2},
        {**entry, "for": {**entry["for"], "execution": "another-execution"}},  # relabelled to pass as ours
        {**entry, "sig": entry["sig"][:-1] + ("A" if entry["sig"][-1] != "A" else "B")},
        seal(Signer(b"x" * 64), _event(), Carried(STATE)),
        {**entry, "v": 2},
        "not an object",
    ):
        with pytest.raises(ForgedState):
            unseal(SIGNER, _event(hookDetails={"codereflex": forged}))


def test_a_signed_state_that_inflates_beyond_its_bound_is_refused() -> None:
    import base64

    from ecs_hooks import state as module

    bomb = base64.urlsafe_b64encode(zlib.compress(b" " * (MAX_STATE_BYTES + 1))).decode()
    event = _event()
    bound = module.binding(event)
    entry = {"v": 1, "kid": SIGNER.key_id, "for": bound, "state": bomb, "publishAttempts": 0}
    entry["sig"] = SIGNER.sign(module.PURPOSE, module._signed(bound, 0, bomb))
    with pytest.raises(ForgedState, match="unreadable"):
        unseal(SIGNER, event._replace(hook_details={"codereflex": entry}))
