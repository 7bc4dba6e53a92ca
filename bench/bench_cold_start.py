"""Cold start: a fresh process importing a handler and building its clients, against bare boto3 plus one client."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7
GOAL = 1.25

BASELINE = "import boto3; boto3.client('codecommit')"
# Each handler: import it the way Lambda does, build its ports, and create the one client every event
# needs (the others are created on first use).
HANDLERS = {
    "BuildResultsFunction": (
        "functions/build_results",
        "import build_results.app as app; from codereflex.ci import ProjectScope; "
        "app.default_ports(ProjectScope()).comments._client.client",
    ),
    "PrBuildsFunction": (
        "functions/pr_builds",
        "import pr_builds.app as app; app._client('codebuild').client",
    ),
}


def _run(code: str, code_dir: str | None = None) -> float:
    """Wall time of one fresh interpreter running `code` (whole process: start-up, imports, clients)."""
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    paths = [str(ROOT / "layers" / "shared")] + ([str(ROOT / code_dir)] if code_dir else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT)
    return time.perf_counter() - started


def main() -> int:
    # Alternate the runs so a slow moment of the machine hits both sides alike.
    baseline: list[float] = []
    measured: dict[str, list[float]] = {name: [] for name in HANDLERS}
    _run(BASELINE)  # warm the file system cache
    for _ in range(RUNS):
        baseline.append(_run(BASELINE))
        for name, (code_dir, code) in HANDLERS.items():
            measured[name].append(_run(code, code_dir))
    base = statistics.median(baseline)
    print(f"| process ({RUNS} runs, medians) | seconds | x baseline | goal <= {GOAL}x |")
    print("|---|---|---|---|")
    print(f"| `{BASELINE}` | {base:.3f} | 1.00 | |")
    for name, times in measured.items():
        median = statistics.median(times)
        ratio = median / base
        print(f"| {name} import + clients | {median:.3f} | {ratio:.2f} | {'met' if ratio <= GOAL else 'MISSED'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
