"""Runners of the http and compare checks: probe samples, their assertions, latency percentiles, green vs blue."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from codereflex.errors import CodeReflexError
from codereflex.redact import redact
from codereflex.validation import stats
from codereflex.validation.assertions import comparison, text_assertion
from codereflex.validation.ports import HttpRequest, HttpSample, MetricData
from codereflex.validation.runner import Env, Step
from codereflex.validation.semantics import Measurement
from codereflex.validation.spec import Check

# The order latency assertions are judged in: the tail first, since that is what users feel first.
PERCENTILES = (("p99", 99.0), ("p95", 95.0), ("p90", 90.0), ("p50", 50.0), ("max", 100.0))
BODY_PREVIEW = 512
METRIC_CALL_S = 10.0


def request_of(spec: Mapping[str, Any]) -> HttpRequest:
    headers = {str(k): str(v) for k, v in (spec.get("headers") or {}).items()}
    body: bytes | None = None
    if "json" in spec:
        body = json.dumps(spec["json"]).encode()
        headers.setdefault("Content-Type", "application/json")
    elif "body" in spec:
        body = str(spec["body"]).encode()
    return HttpRequest(
        method=str(spec.get("method", "GET")),
        url=str(spec["url"]),
        headers=headers,
        body=body,
        timeout_s=int(spec.get("timeoutMs", 5000)) / 1000,
        follow_redirects=bool(spec.get("followRedirects", False)),
    )


def _url_problems(url: str) -> list[str]:
    if not url.lower().startswith(("http://", "https://")):
        return [f"request url {url!r} is not http(s)"]
    return []


def _rounds(sampling: Mapping[str, Any]) -> int:
    total = int(sampling["count"]) + int(sampling.get("warmup", 0))
    return math.ceil(total / int(sampling.get("concurrency", 1)))


class HttpRunner:
    def problems(self, body: Mapping[str, Any]) -> list[str]:
        return _url_problems(str(body["request"]["url"]))

    def slots(self, body: Mapping[str, Any]) -> int:
        return _rounds(body["sampling"])

    def interval_s(self, body: Mapping[str, Any]) -> float:
        return int(body["sampling"].get("intervalMs", 1000)) / 1000

    def slot_s(self, body: Mapping[str, Any]) -> float:
        return max(self.interval_s(body), request_of(body["request"]).timeout_s)

    def grace_s(self, body: Mapping[str, Any]) -> float:
        return 0.0

    def measure(self, check: Check, body: Mapping[str, Any], slot: int, env: Env) -> Step:
        sampling = body["sampling"]
        concurrency = int(sampling.get("concurrency", 1))
        warmup = int(sampling.get("warmup", 0))
        first = slot * concurrency
        count = min(concurrency, int(sampling["count"]) + warmup - first)
        started = env.ports.clock.now()
        answers = env.ports.http.probe(request_of(body["request"]), count)
        kept = env.samples.setdefault(check.name, {"latencyMs": [], "errors": 0, "total": 0})
        # What failing means for this check, so probes of blue are judged as green's samples were.
        kept["assert"] = {k: v for k, v in body["assert"].items() if k != "latencyMs"}
        measurements = []
        for offset, sample in enumerate(answers):
            index = first + offset
            measurement = judge_sample(check, body["assert"], sample, index, started, warmup=index < warmup)
            measurements.append(measurement)
            if not measurement.warmup:
                keep(kept, sample, measurement.outcome == "fail")
        return Step(tuple(measurements))

    def finish(
        self, check: Check, body: Mapping[str, Any], measured: Sequence[Measurement], env: Env
    ) -> list[Measurement]:
        wanted = body["assert"].get("latencyMs")
        if not wanted:
            return []
        latencies = [float(m.data["latencyMs"]) for m in measured if not m.warmup and m.data.get("status") is not None]
        index = int(body["sampling"]["count"]) + int(body["sampling"].get("warmup", 0))
        at = env.ports.clock.now()
        if not latencies:
            return [
                Measurement(
                    check.name, index, "inconclusive", "no responses to measure latency on", aggregate=True, at=at
                )
            ]
        observed = {name: round(stats.percentile(latencies, p), 3) for name, p in PERCENTILES}
        for name, _ in PERCENTILES:
            if name not in wanted:
                continue
            bound = comparison(wanted[name])
            if not bound.holds(observed[name]):
                label = "max latency" if name == "max" else f"{name} latency"
                reason = f"{label} {observed[name]:g} ms {bound.broken()} ms"
                return [
                    Measurement(
                        check.name, index, "fail", reason, observed[name], str(bound), True, at=at, data=observed
                    )
                ]
        shown = ", ".join(f"{name} {observed[name]:g} ms" for name, _ in PERCENTILES if name in wanted)
        return [Measurement(check.name, index, "pass", f"latency {shown}", None, None, True, at=at, data=observed)]


def keep(kept: dict[str, Any], sample: HttpSample, failed: bool) -> None:
    """What a comparison needs of a sample: its latency (when answered) and whether it failed."""
    kept["total"] += 1
    kept["errors"] += 1 if failed else 0
    if sample.status is not None:
        kept["latencyMs"].append(round(sample.latency_ms, 3))


def judge_sample(
    check: Check, wanted: Mapping[str, Any], sample: HttpSample, index: int, at: float, *, warmup: bool = False
) -> Measurement:
    data: dict[str, Any] = {"status": sample.status, "latencyMs": round(sample.latency_ms, 3)}
    reason = _broken(wanted, sample)
    if reason is not None:
        # What green answered is quoted only on failure, and a secret in it never reaches a log or a page.
        reason = redact(reason)
        data["body"] = redact(_preview(sample.body))
        return Measurement(
            check.name, index, "fail", reason, sample.status, None, False, warmup, sample.latency_ms, at, data
        )
    return Measurement(
        check.name,
        index,
        "pass",
        f"status {sample.status}",
        sample.status,
        None,
        False,
        warmup,
        sample.latency_ms,
        at,
        data,
    )


def _broken(wanted: Mapping[str, Any], sample: HttpSample) -> str | None:
    if sample.failure is not None or sample.status is None:
        return f"no response: {sample.failure or 'unknown'}"
    statuses = wanted.get("status", [200])
    if sample.status not in statuses:
        return f"status {sample.status}, not {' or '.join(str(s) for s in statuses)}"
    text = sample.body.decode("utf-8", errors="replace")
    for assertion in wanted.get("body", []):
        broken = text_assertion(assertion, text, "body")
        if broken:
            return broken
    for name, assertion in (wanted.get("headers") or {}).items():
        value = sample.headers.get(str(name).lower())
        if value is None:
            return f"header {name} is missing"
        broken = text_assertion(assertion, value, f"header {name}")
        if broken:
            return broken
    return None


def _server_error(sample: HttpSample) -> bool:
    return sample.failure is not None or sample.status is None or sample.status >= 500  # noqa: PLR2004


def _preview(body: bytes) -> str:
    # Bounded and decoded; the report escapes it, and the hook function redacts before logging.
    return body[:BODY_PREVIEW].decode("utf-8", errors="replace")


class CompareRunner:
    """Green against blue in one aggregate measurement: Mann-Whitney U on latencies, or two proportions on errors."""

    def problems(self, body: Mapping[str, Any]) -> list[str]:
        found: list[str] = []
        for side in ("experiment", "control"):
            if "request" in body[side]:
                found += _url_problems(str(body[side]["request"]["url"]))
        return found

    def slots(self, body: Mapping[str, Any]) -> int:
        return 1

    def interval_s(self, body: Mapping[str, Any]) -> float:
        return 0.0

    def slot_s(self, body: Mapping[str, Any]) -> float:
        total = 0.0
        for side in ("experiment", "control"):
            source = body[side]
            if "request" in source:
                sampling = source["sampling"]
                per_round = max(int(sampling.get("intervalMs", 1000)) / 1000, request_of(source["request"]).timeout_s)
                total += _rounds(sampling) * per_round
            if "metrics" in source:
                total += METRIC_CALL_S
        return total

    def grace_s(self, body: Mapping[str, Any]) -> float:
        return 0.0

    def measure(self, check: Check, body: Mapping[str, Any], slot: int, env: Env) -> Step:
        at = env.ports.clock.now()
        experiment = self._side(body["experiment"], env)
        control = self._side(body["control"], env, experiment.get("assert"))
        if body["test"] == "mannWhitney":
            return Step((self._mann_whitney(check, body, experiment, control, at),))
        return Step((self._proportions(check, body, experiment, control, at),))

    def finish(
        self, check: Check, body: Mapping[str, Any], measured: Sequence[Measurement], env: Env
    ) -> list[Measurement]:
        return []

    def _side(self, source: Mapping[str, Any], env: Env, wanted: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if "check" in source:
            return env.samples.get(str(source["check"]), {"latencyMs": [], "errors": 0, "total": 0})
        if "metrics" in source:
            return _metric_sums(source["metrics"], env)
        kept: dict[str, Any] = {"latencyMs": [], "errors": 0, "total": 0}
        sampling = source["sampling"]
        request = request_of(source["request"])
        concurrency = int(sampling.get("concurrency", 1))
        interval = int(sampling.get("intervalMs", 1000)) / 1000
        remaining = int(sampling["count"])
        while remaining > 0:
            started = env.ports.clock.now()
            batch = min(concurrency, remaining)
            for sample in env.ports.http.probe(request, batch):
                # Judged by the other side's assertions when it has them, else: no answer or a 5xx.
                broken = _broken(wanted, sample) is not None if wanted else _server_error(sample)
                keep(kept, sample, broken)
            remaining -= batch
            if remaining > 0:
                env.ports.clock.sleep(max(0.0, started + interval - env.ports.clock.now()))
        return kept

    def _mann_whitney(
        self, check: Check, body: Mapping[str, Any], green: Mapping[str, Any], blue: Mapping[str, Any], at: float
    ) -> Measurement:
        x, y = list(green["latencyMs"]), list(blue["latencyMs"])
        minimum = int(body.get("minSamplesPerSide", 20))
        allowed = float(body.get("allowedIncrease", 1.0))
        alpha = 1 - float(body.get("confidence", 0.98))
        counts = {"green": len(x), "blue": len(y)}
        if min(len(x), len(y)) < minimum:
            reason = f"latency samples green {len(x)}, blue {len(y)} < minSamplesPerSide {minimum}"
            return Measurement(check.name, 0, "inconclusive", reason, aggregate=True, at=at, data=counts)
        result = stats.mann_whitney_greater(x, [v * allowed for v in y])
        medians = {"greenMedianMs": round(stats.median(x), 3), "blueMedianMs": round(stats.median(y), 3)}
        data = {
            **counts,
            **medians,
            "u": result.u,
            "p": result.p_value,
            "method": result.method,
            "greenLatencyMs": x,
            "blueLatencyMs": y,
        }
        shown = (
            f"median {medians['greenMedianMs']:g} ms vs {medians['blueMedianMs']:g} ms, "
            f"U={result.u:g}, p={result.p_value:.3g}"
        )
        if result.p_value < alpha:
            reason = f"green latency above blue x{allowed:g} ({shown} < {alpha:g})"
            return Measurement(check.name, 0, "fail", reason, result.p_value, f"p >= {alpha:g}", True, at=at, data=data)
        reason = f"no evidence green latency is above blue x{allowed:g} ({shown})"
        return Measurement(check.name, 0, "pass", reason, result.p_value, f"p >= {alpha:g}", True, at=at, data=data)

    def _proportions(
        self, check: Check, body: Mapping[str, Any], green: Mapping[str, Any], blue: Mapping[str, Any], at: float
    ) -> Measurement:
        minimum = int(body.get("minSamplesPerSide", 20))
        allowed = float(body.get("allowedIncrease", 0.0))
        alpha = 1 - float(body.get("confidence", 0.98))
        gx, gn, bx, bn = int(green["errors"]), int(green["total"]), int(blue["errors"]), int(blue["total"])
        data: dict[str, Any] = {"greenErrors": gx, "greenTotal": gn, "blueErrors": bx, "blueTotal": bn}
        if min(gn, bn) < minimum:
            reason = f"requests green {gn}, blue {bn} < minSamplesPerSide {minimum}"
            return Measurement(check.name, 0, "inconclusive", reason, aggregate=True, at=at, data=data)
        result = stats.two_proportion_greater(gx, gn, bx, bn, allowed)
        shown = f"{gx}/{gn} vs {bx}/{bn}, z={result.z:.3g}, p={result.p_value:.3g}"
        data.update(z=result.z, p=result.p_value)
        if result.p_value < alpha:
            reason = f"green error rate above blue +{allowed:g} ({shown} < {alpha:g})"
            return Measurement(check.name, 0, "fail", reason, result.p_value, f"p >= {alpha:g}", True, at=at, data=data)
        reason = f"no evidence green error rate is above blue +{allowed:g} ({shown})"
        return Measurement(check.name, 0, "pass", reason, result.p_value, f"p >= {alpha:g}", True, at=at, data=data)


def _metric_sums(source: Mapping[str, Any], env: Env) -> dict[str, Any]:
    from codereflex.validation.aws_checks import metric_window, query_of  # noqa: PLC0415

    start, end = metric_window(source["window"], env.ports.clock.now())
    queries = [
        query_of(source["errors"], int(source["window"]["periodSeconds"]), True),
        query_of(source["total"], int(source["window"]["periodSeconds"]), True),
    ]
    data: MetricData = env.ports.metrics.metric_data(queries, start, end)
    if not data.complete:
        raise PartialData(f"GetMetricData returned {data.status}, not Complete")
    errors = sum(value for _, value in data.series.get(str(source["errors"]["id"]), ()))
    total = sum(value for _, value in data.series.get(str(source["total"]["id"]), ()))
    if not (math.isfinite(errors) and math.isfinite(total)):
        raise PartialData("a metric sum is not a finite number")
    return {"latencyMs": [], "errors": int(errors), "total": int(total)}


class PartialData(CodeReflexError):
    """Metric data we must not decide on (partial, or not finite): an error measurement, never a pass."""
