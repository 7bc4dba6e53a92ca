"""The hook functions in the sandbox: ECS and Lambda stages, specs in the ValidationBucket, CodeDeploy's driver."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox.aws.bluegreen import EcsStage, LambdaStage
from sandbox.aws.deployments import Deployer, Invoker, Outcome, SimulatedClock
from sandbox.aws.hooktime import SimulatedHooks, simulated_hooks
from sandbox.aws.moto_ext import codedeploy
from sandbox.aws.moto_ext.codedeploy import HookReport
from sandbox.local import Sandbox

ECS_HOOKS = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")


class NoBackoff:
    """botocore's retry backoff without the wait (`botocore.endpoint.time`): throttling tests stay fast."""

    def sleep(self, _seconds: float) -> None:
        return None

    def time(self) -> float:
        return time.time()


class Hooks:
    """One sandbox, its simulated clock, the hook functions' names, specs and deployments run through the router."""

    def __init__(self, sandbox: Sandbox, simulated: SimulatedHooks) -> None:
        self.sandbox, self.clock, self.app, self.simulated = sandbox, simulated.clock, simulated.app, simulated
        self.bucket = sandbox.router.function("DeployHookBeforeInstallFunction").environment["VALIDATION_BUCKET"]
        # What happens between one run and the next (a person answering, say): one callable per hand-over.
        self.between_runs = simulated.between_runs

    @property
    def continuations(self) -> int:
        return self.simulated.continuations

    def function(self, hook: str) -> str:
        return self.sandbox.router.function(f"DeployHook{hook}Function").function_name

    def names(self, hooks: tuple[str, ...]) -> dict[str, str]:
        return {hook: self.function(hook) for hook in hooks}

    def put_spec(self, application: str, group: str, text: str, suffix: str = ".yaml") -> None:
        key = f"specs/{application}/{group}{suffix}"
        self.sandbox.client("s3").put_object(Bucket=self.bucket, Key=key, Body=text.encode())

    def invoker(self, base: Invoker | None = None) -> Invoker:
        """Each hook through the router, then every continuation it handed over, in order (Lambda's async queue)."""
        return self.simulated.invoker(base)

    def run(self, deployment_id: str, *, copies: int = 1, invoker: Invoker | None = None) -> Outcome:
        deployer = Deployer(invoker or self.invoker(), clock=self.clock, copies=copies)
        return deployer.run(deployment_id)

    def reports(self, deployment_id: str | None = None) -> list[HookReport]:
        return list(codedeploy.hook_reports(deployment_id))

    def answers(self) -> list[dict[str, Any]]:
        """What each hook function invocation returned (its outcome, and the verdict and reason once reported)."""
        return [d.result for d in self.sandbox.deliveries if d.logical_id.startswith("DeployHook") and d.ok]

    def verdict(self) -> dict[str, Any]:
        """The one reported answer."""
        (reported,) = [a for a in self.answers() if a.get("outcome") == "reported"]
        return reported


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    clock = SimulatedClock(grace=0.01)
    with (
        Sandbox(function_env={"POWERTOOLS_METRICS_DISABLED": "true"}) as sandbox,
        simulated_hooks(sandbox, clock) as simulated,
    ):
        yield Hooks(sandbox, simulated)


@pytest.fixture
def ecs(hooks: Hooks) -> Iterator[EcsStage]:
    stage = EcsStage(hooks.sandbox.client, alarms=())
    yield stage
    stage.stop()


def lambda_stage(hooks: Hooks, versions: list[Callable[[Any, Any], Any]], **options: Any) -> LambdaStage:
    return LambdaStage(hooks.sandbox.client, versions, **options)
