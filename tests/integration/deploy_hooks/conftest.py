"""The hook functions in the sandbox: ECS and Lambda stages, specs in the ValidationBucket, CodeDeploy's driver."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any, ClassVar

import pytest

from sandbox.aws.bluegreen import EcsStage, LambdaStage
from sandbox.aws.deployments import Deployer, Invoker, Outcome, SimulatedClock, router_invoker
from sandbox.aws.moto_ext import codedeploy
from sandbox.aws.moto_ext.codedeploy import HookReport
from sandbox.local import Sandbox

ECS_HOOKS = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")


class EngineClock:
    """The deployer's simulated time as the engine reads it: sleeping advances it, so an hour takes milliseconds."""

    def __init__(self, simulated: SimulatedClock) -> None:
        self.simulated = simulated

    def now(self) -> float:
        return self.simulated.now().timestamp()

    def sleep(self, seconds: float) -> None:
        self.simulated.advance(seconds)


class NoBackoff:
    """botocore's retry backoff without the wait (`botocore.endpoint.time`): throttling tests stay fast."""

    def sleep(self, _seconds: float) -> None:
        return None

    def time(self) -> float:
        return time.time()


class QueuedContinuer:
    """The function's asynchronous self-invocation, kept until the harness delivers it (as Lambda's queue would)."""

    queue: ClassVar[list[Mapping[str, Any]]] = []

    def __init__(self, _client: Any, function_arn: str) -> None:
        self.function_arn = function_arn

    def hand_over(self, payload: Mapping[str, Any]) -> None:
        QueuedContinuer.queue.append({"function": self.function_arn, "payload": dict(payload)})


class Hooks:
    """One sandbox, its simulated clock, the hook functions' names, specs and deployments run through the router."""

    def __init__(self, sandbox: Sandbox, clock: SimulatedClock, module: ModuleType) -> None:
        self.sandbox, self.clock, self.app = sandbox, clock, module
        self.bucket = sandbox.router.function("DeployHookBeforeInstallFunction").environment["VALIDATION_BUCKET"]
        self.continuations = 0
        # What happens between one run and the next (a person answering, say): one callable per hand-over.
        self.between_runs: list[Callable[[], object]] = []

    def function(self, hook: str) -> str:
        return self.sandbox.router.function(f"DeployHook{hook}Function").function_name

    def names(self, hooks: tuple[str, ...]) -> dict[str, str]:
        return {hook: self.function(hook) for hook in hooks}

    def put_spec(self, application: str, group: str, text: str, suffix: str = ".yaml") -> None:
        key = f"specs/{application}/{group}{suffix}"
        self.sandbox.client("s3").put_object(Bucket=self.bucket, Key=key, Body=text.encode())

    def invoker(self, base: Invoker | None = None) -> Invoker:
        """Each hook through the router, then every continuation it handed over, in order (Lambda's async queue)."""
        through = base or router_invoker(self.sandbox)

        def invoke(function: str, payload: dict[str, Any]) -> Any:
            result = through(function, payload)
            while QueuedContinuer.queue:
                queued = QueuedContinuer.queue.pop(0)
                self.continuations += 1
                if self.between_runs:
                    self.between_runs.pop(0)()
                name = str(queued["function"]).rsplit(":", 1)[-1]
                result = through(name, dict(queued["payload"]))
            return result

        return invoke

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
def hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooks]:
    clock = SimulatedClock(grace=0.01)
    QueuedContinuer.queue = []
    with Sandbox(function_env={"POWERTOOLS_METRICS_DISABLED": "true"}) as sandbox:
        # The module the router runs (starting a sandbox is a cold start: its modules are imported afresh).
        module = importlib.import_module("deploy_hooks.app")
        monkeypatch.setattr(module, "CLOCK", EngineClock(clock))
        monkeypatch.setattr(module, "LambdaContinuer", QueuedContinuer)
        yield Hooks(sandbox, clock, module)


@pytest.fixture
def ecs(hooks: Hooks) -> Iterator[EcsStage]:
    stage = EcsStage(hooks.sandbox.client, alarms=())
    yield stage
    stage.stop()


def lambda_stage(hooks: Hooks, versions: list[Callable[[Any, Any], Any]], **options: Any) -> LambdaStage:
    return LambdaStage(hooks.sandbox.client, versions, **options)
