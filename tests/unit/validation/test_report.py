"""The report's data and page: JSON-able records, the one-line reason, and a page that escapes everything."""

from __future__ import annotations

import json
import re

from codereflex.validation import engine, html, report
from codereflex.validation.engine import Done

from .fakes import ECS_CONTEXT, START, Clock, Http, http_check, ok, ports, spec

HOSTILE = '<script>alert("x")</script>'


def finished(green_body: bytes = b'{"status": "ok"}') -> tuple[Done, report.Meta]:
    clock = Clock()
    http = Http(clock, lambda url, n: ok(900 if n == 7 else 40, body=green_body))
    checks = [
        http_check("latency", 20, {"status": [200], "latencyMs": {"p50": "<=100", "p99": "<=500"}}),
        http_check("dry", 2, gating=False),
    ]
    done = engine.run(
        spec(checks),
        "AfterAllowTestTraffic",
        ECS_CONTEXT,
        ports(clock, http=http),
        run_deadline=START + 800,
        hook_deadline=START + 3000,
    )
    assert isinstance(done, Done) and done.state is not None
    meta = report.Meta("d-ABCDEF123", "hook-exec-1", "AfterAllowTestTraffic", "test", "ab" * 32, START, clock.t)
    return done, meta


def test_one_json_line_per_measurement_with_who_and_what() -> None:
    done, meta = finished()
    assert done.state is not None
    lines = report.measurement_lines(done.state.measurements, meta)
    assert len(lines) == 21
    first = lines[0]
    assert {first["deploymentId"], first["hookExecutionId"], first["check"], first["outcome"]} == {
        "d-ABCDEF123",
        "hook-exec-1",
        "latency",
        "pass",
    }
    json.dumps(lines, allow_nan=False)


def test_the_summary_names_the_deciding_check_its_value_and_threshold() -> None:
    done, meta = finished()
    assert done.state is not None
    summary = report.summary(done.verdict, done.state.measurements, meta)
    assert summary["verdict"] == "Failed"
    assert summary["decidingCheck"] == "latency"
    assert summary["reason"] == "p99 latency 736.6 ms > 500 ms (check latency, 20 samples)"
    (check,) = summary["checks"]
    assert check["deciding"]["value"] == 736.6
    assert check["deciding"]["threshold"] == "<= 500"
    assert check["latencyMs"]["p50"] == 40
    assert summary["dryRun"] == []  # the hook ended at its first failed gating check
    json.dumps(summary, allow_nan=False)


def test_the_page_has_the_table_and_chart_and_nothing_external() -> None:
    done, meta = finished()
    assert done.state is not None
    page = html.render(report.report(done.verdict, done.state.measurements, meta))
    assert "<table>" in page and "<svg" in page and "<polyline" in page
    assert "p99 latency 736.6 ms &gt; 500 ms" in page
    # No scripts, and no address but the SVG namespace: nothing is fetched when the page is opened.
    assert "<script" not in page
    assert re.findall(r"(?:src|href)\s*=", page) == []
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}


def test_every_value_on_the_page_is_escaped() -> None:
    data = {
        "verdict": HOSTILE,
        "reason": HOSTILE,
        "spec": HOSTILE,
        "hook": HOSTILE,
        "deploymentId": HOSTILE,
        "warnings": [HOSTILE],
        "latencySeries": {HOSTILE: [1.0, 2.0, float("nan")]},
        "checks": [
            {
                "check": HOSTILE,
                "status": HOSTILE,
                "reason": HOSTILE,
                "gating": True,
                "counts": {"passed": HOSTILE},
                "latencyMs": {"p50": 1.0},
            }
        ],
    }
    page = html.render(data)
    assert "<script" not in page
    assert page.count("&lt;script&gt;") >= 8
    assert "alert(&quot;x&quot;)" in page


def test_no_latency_samples_says_so() -> None:
    assert "No latency samples" in html.chart({})
    assert "No latency samples" in html.chart({"green": [float("inf")]})


def test_latency_series_prefers_a_comparisons_two_sides() -> None:
    from codereflex.validation.semantics import Measurement

    compared = Measurement("vs", 0, "pass", "ok", aggregate=True, data={"greenLatencyMs": [1, 2], "blueLatencyMs": [3]})
    assert report.latency_series([compared]) == {"green": [1.0, 2.0], "blue": [3.0]}
    lines = report.measurement_lines([compared], finished()[1])
    assert "greenLatencyMs" not in lines[0]["data"]  # samples stay in the report, out of the log


def test_a_secret_in_a_failed_answer_reaches_no_record_or_page() -> None:
    token = "ghp_" + "Zq8xW2" * 6
    clock = Clock()
    leaky = Http(clock, lambda url, n: ok(body=json.dumps({"status": "down", "debug": f"token={token}"}).encode()))
    checked = http_check("smoke", 3, {"status": [200], "body": [{"jsonPath": "$.debug", "equals": "none"}]})
    done = engine.run(
        spec([checked]),
        "AfterAllowTestTraffic",
        ECS_CONTEXT,
        ports(clock, http=leaky),
        run_deadline=START + 800,
        hook_deadline=START + 3000,
    )
    assert isinstance(done, Done) and done.state is not None
    meta = report.Meta("d-1", "h-1", "AfterAllowTestTraffic", "test", "ab" * 32, START, clock.t)
    full = report.report(done.verdict, done.state.measurements, meta)
    said = [
        done.verdict.reason,
        json.dumps(full),
        json.dumps(report.measurement_lines(done.state.measurements, meta)),
        html.render(full),
    ]
    assert done.verdict.status == "Failed"
    assert "body $.debug is" in done.verdict.reason
    for text in said:
        assert token not in text
        assert "[REDACTED]" in text
