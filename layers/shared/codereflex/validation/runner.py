"""The one shape of a check's runner: its slots, the measurements one slot yields, and its aggregates."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, NamedTuple, Protocol

from codereflex.validation.ports import Ports
from codereflex.validation.semantics import Measurement, Outcome
from codereflex.validation.spec import Check


class Env(NamedTuple):
    """What a runner may use: the ports, the deployment's context, when its check started, and the samples
    earlier checks of this hook kept for comparisons (JSON-able: they travel in the continuation state)."""

    ports: Ports
    context: Mapping[str, Any]
    started_at: float
    samples: MutableMapping[str, dict[str, Any]]


class Step(NamedTuple):
    """What measuring one slot gave. `pending`: still within a grace period, poll the same slot again."""

    measurements: tuple[Measurement, ...] = ()
    pending: bool = False
    note: str = ""


class Runner(Protocol):
    def problems(self, body: Mapping[str, Any]) -> list[str]:
        """What is wrong with the check once its templates are resolved (a qualifier that is an alias...)."""
        ...

    def slots(self, body: Mapping[str, Any]) -> int: ...

    def interval_s(self, body: Mapping[str, Any]) -> float:
        """Seconds between the starts of two slots."""
        ...

    def slot_s(self, body: Mapping[str, Any]) -> float:
        """The longest one slot can take (timeouts included): what the plan counts and a run must have left."""
        ...

    def grace_s(self, body: Mapping[str, Any]) -> float: ...

    def measure(self, check: Check, body: Mapping[str, Any], slot: int, env: Env) -> Step: ...

    def finish(
        self, check: Check, body: Mapping[str, Any], measured: Sequence[Measurement], env: Env
    ) -> list[Measurement]:
        """Aggregate measurements (percentiles, comparisons) once every slot is measured."""
        ...


def no_data(check: Check, index: int, reason: str, at: float, **fields: Any) -> Measurement:
    """A measurement without evidence: inconclusive unless the spec's onNoData says otherwise."""
    outcome: Outcome = {"inconclusive": "inconclusive", "fail": "fail", "pass": "pass"}[check.limits.on_no_data]  # type: ignore[assignment]
    suffix = "" if outcome == "inconclusive" else f" (onNoData {check.limits.on_no_data})"
    return Measurement(check.name, index, outcome, reason + suffix, at=at, **fields)
