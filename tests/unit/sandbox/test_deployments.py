"""The driver's pure parts: traffic steps, the simulated clock, AppSpec reading, CodeDeploy's hook payload."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.aws.deployments import SimulatedClock, _event_name, _lambda_resource, _steps
from sandbox.aws.moto_ext.codedeploy import _execution_id


@pytest.mark.parametrize(
    ("config", "steps"),
    [
        ("CodeDeployDefault.LambdaAllAtOnce", [(100, 0)]),
        ("CodeDeployDefault.ECSAllAtOnce", [(100, 0)]),
        ("CodeDeployDefault.LambdaCanary10Percent5Minutes", [(10, 5), (100, 0)]),
        ("CodeDeployDefault.ECSCanary10Percent15Minutes", [(10, 15), (100, 0)]),
        ("CodeDeployDefault.LambdaLinear10PercentEvery1Minute", [(p, 1) for p in range(10, 100, 10)] + [(100, 0)]),
        ("CodeDeployDefault.ECSLinear10PercentEvery3Minutes", [(p, 3) for p in range(10, 100, 10)] + [(100, 0)]),
        ("my-custom-config", [(100, 0)]),
    ],
)
def test_predefined_configurations_shift_traffic_in_their_steps(config: str, steps: list[tuple[int, int]]) -> None:
    assert _steps(config) == steps


def test_the_simulated_clock_jumps_a_wait_that_nothing_ends() -> None:
    clock = SimulatedClock(datetime(2026, 12, 1, tzinfo=UTC), grace=0.0)

    assert clock.wait(lambda: False, 3600) is False
    assert clock.now() == datetime(2026, 12, 1, 1, tzinfo=UTC)
    assert clock.wait(lambda: True, 3600) is True
    assert clock.now() == datetime(2026, 12, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "keys",
    [("Name", "Alias", "CurrentVersion", "TargetVersion"), ("name", "alias", "currentversion", "targetversion")],
)
def test_lambda_appspec_properties_are_read_in_either_case(keys: tuple[str, str, str, str]) -> None:
    # The user guide's example capitalises the keys; its reference section writes them in lower case.
    properties = dict(zip(keys, ("orders", "live", "3", "4"), strict=True))
    appspec = {"version": 0.0, "Resources": [{"orders": {"Type": "AWS::Lambda::Function", "Properties": properties}}]}
    lowered = {"version": 0.0, "resources": [{"orders": {"type": "AWS::Lambda::Function", "properties": properties}}]}

    expected = {"name": "orders", "alias": "live", "currentversion": "3", "targetversion": "4"}
    assert _lambda_resource(appspec) == expected
    assert _lambda_resource(lowered) == expected
    assert _event_name("beforeallowtraffic") == "BeforeAllowTraffic"


@pytest.mark.parametrize("sample", ["codedeploy-lifecycle-hook-ecs.json", "codedeploy-lifecycle-hook-lambda.json"])
def test_the_driver_sends_the_samples_fields_and_ids_shaped_like_theirs(
    sample: str, aws_sample: Callable[[str], dict[str, Any]]
) -> None:
    # Given AWS's sample hook payloads (the same two fields for ECS and Lambda)
    payload = aws_sample(sample)

    # Then the driver's payload has exactly those fields (it builds {"DeploymentId", "LifecycleEventHookExecutionId"})
    assert set(payload) == {"DeploymentId", "LifecycleEventHookExecutionId"}
    assert payload["DeploymentId"].startswith("d-")
    # and its execution ids are opaque base64 like the ECS sample's (JSON of encrypted data inside)
    ours = json.loads(base64.b64decode(_execution_id()))
    if sample.endswith("ecs.json"):
        theirs = json.loads(base64.b64decode(payload["LifecycleEventHookExecutionId"]))
        assert set(ours) == set(theirs) == {"encryptedData", "ivParameterSpec", "materialSetSerial"}
