"""The hook's report as a page: per-check table, an inline SVG latency chart, every value escaped, nothing external."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from codereflex.validation import stats

WIDTH, HEIGHT, PAD = 640, 260, 40
COLOURS = {"green": "#1a7f37", "blue": "#0969da"}
STYLE = (
    "body{font:14px system-ui,sans-serif;margin:2em;color:#1f2328}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}"
    ".Succeeded,.succeeded{color:#1a7f37}.Failed,.failed,.error{color:#cf222e}.inconclusive{color:#9a6700}"
)


def render(report: Mapping[str, Any]) -> str:
    """The page for one hook execution's report (as `report.report` builds it)."""
    verdict = str(report.get("verdict", "Failed"))
    rows = "".join(_row(check) for check in [*report.get("checks", []), *report.get("dryRun", [])])
    warnings = "".join(f"<li>{_e(w)}</li>" for w in report.get("warnings", []))
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        # No scripts, styles or images from anywhere: the page is read from a bucket, perhaps offline.
        "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{_e(report.get('spec'))} {_e(report.get('hook'))}: {_e(verdict)}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1 class='{_e(verdict)}'>{_e(verdict)}</h1><p>{_e(report.get('reason'))}</p>"
        f"<p>Deployment {_e(report.get('deploymentId'))}, hook {_e(report.get('hook'))}, "
        f"spec {_e(report.get('spec'))} "
        f"(sha256 {_e(str(report.get('specSha256', ''))[:12])}), "
        f"{_e(report.get('durationS'))} s in {_e(report.get('runs'))} run(s)</p>"
        + (f"<h2>Warnings</h2><ul>{warnings}</ul>" if warnings else "")
        + "<h2>Checks</h2><table><tr><th>check</th><th>decides</th><th>status</th><th>pass</th><th>fail</th>"
        "<th>inconclusive</th><th>error</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>reason</th></tr>"
        f"{rows}</table><h2>Latency</h2>{chart(report.get('latencySeries') or {})}</body></html>"
    )


def _row(check: Mapping[str, Any]) -> str:
    counts = check.get("counts", {})
    latency = check.get("latencyMs") or {}
    cells = [
        _e(check.get("check")),
        "yes" if check.get("gating") else "dry run",
        f'<span class="{_e(check.get("status"))}">{_e(check.get("status"))}</span>',
        *(_e(counts.get(k, 0)) for k in ("passed", "failed", "inconclusive", "errors")),
        *(_e(_ms(latency.get(k))) for k in ("p50", "p90", "p99", "max")),
        _e(check.get("reason")),
    ]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def chart(series: Mapping[str, Sequence[float]]) -> str:
    """Latency by percentile (0-100 on x, ms on y), one line per side: a slow tail shows as a line rising late."""
    clean = {name: sorted(v for v in values if math.isfinite(v)) for name, values in series.items()}
    clean = {name: values for name, values in clean.items() if values}
    if not clean:
        return "<p>No latency samples.</p>"
    top = max(max(values) for values in clean.values()) or 1.0
    lines = []
    for name, values in clean.items():
        points = " ".join(f"{_x(p):.1f},{_y(stats.percentile(values, p), top):.1f}" for p in range(0, 101))
        colour = COLOURS.get(name, "#6e7781")
        lines.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
            f"<title>{_e(name)}</title></polyline>"
        )
    legend = " ".join(
        f'<tspan fill="{COLOURS.get(n, "#6e7781")}">{_e(n)} (n={len(v)}, p99 {stats.percentile(v, 99):.0f} ms)</tspan>'
        for n, v in clean.items()
    )
    axes = (
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#8c959f"/>'
        f'<line x1="{PAD}" y1="{PAD / 2}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#8c959f"/>'
        f'<text x="{PAD}" y="{HEIGHT - PAD / 3}" font-size="11">p0</text>'
        f'<text x="{WIDTH - PAD - 20}" y="{HEIGHT - PAD / 3}" font-size="11">p100</text>'
        f'<text x="2" y="{PAD / 2 + 4}" font-size="11">{top:.0f} ms</text>'
        f'<text x="{PAD + 10}" y="{PAD / 2 + 4}" font-size="12">{legend}</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="latency by percentile">{axes}{"".join(lines)}</svg>'
    )


def _x(percent: float) -> float:
    return PAD + (WIDTH - 2 * PAD) * percent / 100


def _y(value: float, top: float) -> float:
    return HEIGHT - PAD - (HEIGHT - 1.5 * PAD) * value / top


def _ms(value: Any) -> str:
    return "" if value is None else f"{float(value):.0f} ms"


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)
