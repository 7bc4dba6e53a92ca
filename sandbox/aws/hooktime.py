"""The deploy hook functions on the deployer's simulated clock, their hand-overs queued and delivered in order.

`with simulated_hooks(sandbox, clock) as hooks:` sets the hook functions' module's `CLOCK` (what
every check, poll and deadline reads) to the deployer's `SimulatedClock`, where sleeping advances
it, and its `LambdaContinuer` to a queue, and puts both back on exit. `hooks.invoker()` is the
`Deployer`'s invoker: each hook through the router, then every run it handed over to, in order, as
Lambda's asynchronous queue would deliver them; `hooks.between_runs` holds what happens before each
of those continuations (a person answering while the hook waits). An hour's wait takes a second.
The functions are not changed: the seam is the module's two names, which is all a test or the demo
replaces.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sandbox.aws.deployments import Invoker, SimulatedClock, router_invoker

if TYPE_CHECKING:
    from sandbox.local import Sandbox

# The five hook functions share one module (one CodeUri); any of them loads it.
HOOK_FUNCTION = "DeployHookBeforeInstallFunction"


class EngineClock:
    """The deployer's simulated time as the engine reads it: sleeping advances it, so an hour takes milliseconds."""

    def __init__(self, simulated: SimulatedClock) -> None:
        self.simulated = simulated

    def now(self) -> float:
        return self.simulated.now().timestamp()

    def sleep(self, seconds: float) -> None:
        self.simulated.advance(seconds)


@dataclass(frozen=True)
class Continuation:
    """One asynchronous self-invocation the function made: which function, with what payload."""

    function_arn: str
    payload: dict[str, Any]

    @property
    def function(self) -> str:
        return self.function_arn.rsplit(":", 1)[-1]


class QueuedContinuer:
    """The function's asynchronous self-invocation, kept until the invoker delivers it (as Lambda's queue would)."""

    def __init__(self, queue: list[Continuation], _client: Any, function_arn: str) -> None:
        self._queue, self.function_arn = queue, function_arn

    def hand_over(self, payload: Mapping[str, Any]) -> None:
        self._queue.append(Continuation(self.function_arn, dict(payload)))


class SimulatedHooks:
    """The hook functions' module on simulated time; `invoker()` delivers hooks and their continuations."""

    def __init__(self, sandbox: Sandbox, clock: SimulatedClock, module: ModuleType) -> None:
        self.sandbox, self.clock, self.app = sandbox, clock, module
        self.queue: list[Continuation] = []
        self.continuations = 0
        # What happens between one run and the next (a person answering, say): one callable per hand-over.
        self.between_runs: list[Callable[[], object]] = []

    def invoker(self, base: Invoker | None = None) -> Invoker:
        """Each hook through `base` (the router), then every continuation it handed over, in order."""
        through = base or router_invoker(self.sandbox)

        def invoke(function: str, payload: dict[str, Any]) -> Any:
            result = through(function, payload)
            while self.queue:
                queued = self.queue.pop(0)
                self.continuations += 1
                if self.between_runs:
                    self.between_runs.pop(0)()
                result = through(queued.function, dict(queued.payload))
            return result

        return invoke


@contextmanager
def simulated_hooks(sandbox: Sandbox, clock: SimulatedClock) -> Iterator[SimulatedHooks]:
    """The hook functions read `clock` and queue their hand-overs until the block ends; then as they were."""
    # The module the router runs, initialised as an invocation would (a sandbox's start is a cold start).
    module = sandbox.router.handler_module(HOOK_FUNCTION, env_overrides=sandbox.function_env())
    hooks = SimulatedHooks(sandbox, clock, module)
    seam = {"CLOCK": EngineClock(clock), "LambdaContinuer": functools.partial(QueuedContinuer, hooks.queue)}
    saved = {name: getattr(module, name) for name in seam}
    for name, value in seam.items():
        setattr(module, name, value)
    try:
        yield hooks
    finally:
        for name, value in saved.items():
            setattr(module, name, value)
