"""The hook's report as data: one record per measurement, a summary, and the latency series for the chart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from codereflex.validation.semantics import HookVerdict, Measurement

REPORT_VERSION = 1


class Meta(NamedTuple):
    """Which hook execution the report is about."""

    deployment_id: str
    hook_execution_id: str
    hook: str
    spec_name: str
    spec_sha256: str
    started_at: float
    ended_at: float
    runs: int = 1


def measurement_lines(measurements: Sequence[Measurement], meta: Meta) -> list[dict[str, Any]]:
    """One JSON log line per measurement (the samples a comparison carries stay in the report, not the log)."""
    lines = []
    for m in measurements:
        record = m.record()
        record["data"] = {k: v for k, v in record["data"].items() if k not in ("greenLatencyMs", "blueLatencyMs")}
        lines.append(
            {
                "deploymentId": meta.deployment_id,
                "hookExecutionId": meta.hook_execution_id,
                "hook": meta.hook,
                "spec": meta.spec_name,
                **record,
            }
        )
    return lines


def summary(verdict: HookVerdict, measurements: Sequence[Measurement], meta: Meta) -> dict[str, Any]:
    """The summary line and the report's head: verdict, the one-line reason, per check what was seen and wanted."""
    by_check: dict[str, list[Measurement]] = {}
    for m in measurements:
        by_check.setdefault(m.check, []).append(m)
    checks = []
    for result in verdict.checks:
        own = by_check.get(result.name, [])
        latency = next((m.data for m in reversed(own) if m.aggregate and "p99" in m.data), None)
        checks.append({**result.record(), "latencyMs": dict(latency) if latency else None, "measurements": len(own)})
    return {
        "version": REPORT_VERSION,
        "verdict": verdict.status,
        "reason": verdict.reason,
        "decidingCheck": verdict.deciding_check,
        "deploymentId": meta.deployment_id,
        "hookExecutionId": meta.hook_execution_id,
        "hook": meta.hook,
        "spec": meta.spec_name,
        "specSha256": meta.spec_sha256,
        "startedAt": meta.started_at,
        "endedAt": meta.ended_at,
        "durationS": round(meta.ended_at - meta.started_at, 3),
        "runs": meta.runs,
        "checks": [c for c in checks if c["gating"]],
        "dryRun": [c for c in checks if not c["gating"]],
        "warnings": list(verdict.warnings),
    }


def report(verdict: HookVerdict, measurements: Sequence[Measurement], meta: Meta) -> dict[str, Any]:
    """Everything stored for a hook execution (JSON): the summary, every measurement, the chart's series."""
    return {
        **summary(verdict, measurements, meta),
        "measurements": [m.record() for m in measurements],
        "latencySeries": latency_series(measurements),
    }


def latency_series(measurements: Sequence[Measurement]) -> dict[str, list[float]]:
    """Green and blue latencies (ms): a comparison's two sides when there is one, else green's http samples."""
    for m in measurements:
        if "greenLatencyMs" in m.data and "blueLatencyMs" in m.data:
            return {
                "green": [float(v) for v in m.data["greenLatencyMs"]],
                "blue": [float(v) for v in m.data["blueLatencyMs"]],
            }
    green = [
        float(m.data["latencyMs"])
        for m in measurements
        if not m.warmup and not m.aggregate and m.data.get("status") is not None and "latencyMs" in m.data
    ]
    return {"green": green} if green else {}


def counts_of(summary_record: Mapping[str, Any]) -> dict[str, int]:
    """Hooks by outcome, for metrics: 1 for this hook's verdict."""
    return {str(summary_record["verdict"]): 1}
